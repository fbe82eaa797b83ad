namespace Chain.ModelTool;

/// <summary>
/// SplitMix64: a tiny seeded generator written out here so that initialisation and shuffling do not
/// depend on System.Random's algorithm staying the same across runtime versions.
/// </summary>
public sealed class Rng(ulong seed)
{
    private ulong _state = seed;

    public ulong NextU64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n) by rejection, so there is no modulo bias.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        var limit = ulong.MaxValue - ulong.MaxValue % (ulong)n;
        ulong r;
        do r = NextU64(); while (r >= limit);
        return (int)(r % (ulong)n);
    }

    /// <summary>Uniform float in [0, 1) from the top 24 bits (exactly representable).</summary>
    public float NextFloat() => (NextU64() >> 40) * (1.0f / (1 << 24));

    public float Uniform(float bound) => (2f * NextFloat() - 1f) * bound;

    public void Shuffle(int[] items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
