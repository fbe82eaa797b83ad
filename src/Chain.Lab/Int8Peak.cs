using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Chain.Lab;

/// <summary>The measured single-thread int8 multiply-add peak: which instruction and how many ops/s (1 MAC = 2 ops).</summary>
public sealed record PeakResult(string Instruction, double Gops);

/// <summary>
/// A tight loop of the widest int8 multiply-add this process may use, with eight independent accumulators
/// so the loop is throughput-bound rather than latency-bound. This is the ceiling the lab's GOPS are put against.
/// </summary>
public static class Int8Peak
{
    private const int Iterations = 1 << 16;

    public static PeakResult Measure(TimeSpan duration)
    {
        var (name, macsPerCall, body) = AvxVnni.IsSupported && Avx2.IsSupported ? ("vpdpbusd ymm (AVX-VNNI)", 8L * 32, (Func<int, int>)Vnni)
            : Avx2.IsSupported ? ("vpmaddubsw+vpmaddwd ymm (AVX2)", 8L * 32, Avx2Chain)
            : ("scalar int32 multiply-add", 8L, Scalar);
        body(Iterations / 16); // JIT and warm the core before timing
        // Best of five windows: a peak is a maximum, and on a shared machine any window can be interrupted.
        var best = 0.0;
        int sink = 0;
        var window = duration / 5;
        for (int w = 0; w < 5; w++)
        {
            long calls = 0;
            var clock = Stopwatch.StartNew();
            do
            {
                sink ^= body(Iterations);
                calls++;
            } while (clock.Elapsed < window);
            clock.Stop();
            best = Math.Max(best, 2.0 * macsPerCall * Iterations * calls / clock.Elapsed.TotalSeconds / 1e9);
        }
        GC.KeepAlive(sink);
        return new PeakResult(name, best);
    }

    // Straight to optimised code: a tier-0 or OSR body keeps the accumulators in memory and measures the store-forwarding latency instead.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Vnni(int iterations)
    {
        var a = Vector256.Create((byte)3);
        var b = Vector256.Create((sbyte)-5);
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int i = 0; i < iterations; i++)
        {
            s0 = AvxVnni.MultiplyWideningAndAdd(s0, a, b);
            s1 = AvxVnni.MultiplyWideningAndAdd(s1, a, b);
            s2 = AvxVnni.MultiplyWideningAndAdd(s2, a, b);
            s3 = AvxVnni.MultiplyWideningAndAdd(s3, a, b);
            s4 = AvxVnni.MultiplyWideningAndAdd(s4, a, b);
            s5 = AvxVnni.MultiplyWideningAndAdd(s5, a, b);
            s6 = AvxVnni.MultiplyWideningAndAdd(s6, a, b);
            s7 = AvxVnni.MultiplyWideningAndAdd(s7, a, b);
        }
        return Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7);
    }

    // Straight to optimised code: a tier-0 or OSR body keeps the accumulators in memory and measures the store-forwarding latency instead.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Avx2Chain(int iterations)
    {
        var b = Vector256.Create((sbyte)-5);
        var ones = Vector256.Create((short)1);
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int i = 0; i < iterations; i++)
        {
            // u8×s8 pairs summed to int16 (vpmaddubsw), then pairs of int16 to int32 (vpmaddwd): 32 MACs per chain.
            // The accumulator is also the u8 operand, so the eight chains cannot be merged or hoisted by the JIT.
            s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s0.AsByte(), b), ones));
            s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s1.AsByte(), b), ones));
            s2 = Avx2.Add(s2, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s2.AsByte(), b), ones));
            s3 = Avx2.Add(s3, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s3.AsByte(), b), ones));
            s4 = Avx2.Add(s4, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s4.AsByte(), b), ones));
            s5 = Avx2.Add(s5, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s5.AsByte(), b), ones));
            s6 = Avx2.Add(s6, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s6.AsByte(), b), ones));
            s7 = Avx2.Add(s7, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(s7.AsByte(), b), ones));
        }
        return Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7);
    }

    // Straight to optimised code: a tier-0 or OSR body keeps the accumulators in memory and measures the store-forwarding latency instead.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Scalar(int iterations)
    {
        int a = 3, b = -5;
        int s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (int i = 0; i < iterations; i++)
        {
            s0 += a * b; s1 += a * b; s2 += a * b; s3 += a * b;
            s4 += a * b; s5 += a * b; s6 += a * b; s7 += a * b;
            a ^= i & 1; // keeps the products loop-dependent so they are not hoisted
        }
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    }
}
