namespace Chain.Testing.FloatModels;

/// <summary>
/// SplitMix64: a seeded generator whose output depends on nothing but the seed (not on the runtime's
/// System.Random implementation). Normal draws are Irwin-Hall (sum of 12 uniforms minus 6), so every
/// weight is made with + - * / and sqrt only: the zoo's bytes are the same on every IEEE host.
/// </summary>
internal sealed class ZooRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 24 bits (exactly representable as float).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    public float Uniform(float lo, float hi) => lo + (hi - lo) * NextFloat();

    /// <summary>Uniform integer in [0, n).</summary>
    public int Next(int n) => (int)((NextUInt64() >> 33) % (ulong)n);

    /// <summary>Approximately standard normal (Irwin-Hall, range [-6, 6]).</summary>
    public float Normal()
    {
        double sum = 0;
        for (var i = 0; i < 12; i++) sum += NextFloat();
        return (float)(sum - 6.0);
    }

    public float[] Normals(int count, double std)
    {
        var a = new float[count];
        for (var i = 0; i < count; i++) a[i] = (float)(Normal() * std);
        return a;
    }

    public float[] Uniforms(int count, float lo, float hi)
    {
        var a = new float[count];
        for (var i = 0; i < count; i++) a[i] = Uniform(lo, hi);
        return a;
    }

    /// <summary>An independent generator for a named purpose (so adding draws in one place moves no other).</summary>
    public ZooRandom Fork(string purpose)
    {
        var h = 14695981039346656037UL;
        foreach (var c in purpose) h = (h ^ c) * 1099511628211UL;
        return new ZooRandom(NextUInt64() ^ h);
    }
}
