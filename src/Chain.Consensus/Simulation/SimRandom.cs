namespace Chain.Consensus.Simulation;

/// <summary>
/// xoshiro256** seeded by SplitMix64: a PRNG whose sequence is fixed by this code, not by the runtime
/// version, so a seed replays the same run everywhere.
/// </summary>
public sealed class SimRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SimRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextU64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, max).</summary>
    public ulong Below(ulong max) => max == 0 ? 0 : (ulong)(((UInt128)NextU64() * max) >> 64);

    public int Below(int max) => (int)Below((ulong)max);

    /// <summary>Uniform in [min, max].</summary>
    public ulong Range(ulong min, ulong max) => min + Below(max - min + 1);

    public bool Chance(double p) => (NextU64() >> 11) * (1.0 / (1UL << 53)) < p;

    public void Fill(Span<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)NextU64();
    }
}
