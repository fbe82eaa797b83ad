using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Chain.Inference.Kernels;

/// <summary>
/// The consensus requantization step (docs/inference-semantics.md, "Requantization"). Scalar float32
/// IEEE operations only, each rounded to nearest-even: no FMA, no float64, no reassociation.
/// </summary>
public static class Requantize
{
    /// <summary>m = float32(float32(aScale · bScale) / yScale), in exactly that order.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // keep the two roundings visible to any reader of the JIT output
    public static float Multiplier(float aScale, float bScale, float yScale)
    {
        var product = aScale * bScale;
        return product / yScale;
    }

    /// <summary>y = saturate(roundHalfToEven(float32(acc) · m) + yZeroPoint) into [qmin, qmax].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Apply(int acc, float multiplier, int yZeroPoint, int qmin, int qmax)
    {
        var v = MathF.Round((float)acc * multiplier, MidpointRounding.ToEven);
        // Clamp in float before converting: the bounds are small integers, exactly representable, so
        // clamping before or after rounding is the same; infinities saturate.
        float lo = qmin - yZeroPoint, hi = qmax - yZeroPoint;
        if (v < lo) v = lo;
        if (v > hi) v = hi;
        return (int)v + yZeroPoint;
    }

    /// <summary>
    /// dst[i] = (byte)Apply(acc[i] + bias (wrapping), multiplier, yZeroPoint, qmin, qmax) for a run of
    /// accumulators sharing one multiplier. With <paramref name="simd"/> and AVX2, 8 lanes at a time with
    /// exactly the scalar operations: cvtdq2ps (round-to-nearest-even, as the scalar int→float32 conversion),
    /// one vmulps (no FMA), vroundps to nearest-even, clamp in float, exact conversion of the small
    /// clamped integer. On arm64 (AdvSimd) the same 8 lanes as two 4-lane halves: scvtf (RNE under the default
    /// FPCR, as the scalar conversion), fmul, frintn, fmax/fmin, fcvtzs, then xtn twice keeps each low byte.
    /// The scalar <see cref="Apply"/> stays the specification; the tests prove equality.
    /// </summary>
    internal static unsafe void Run(ReadOnlySpan<int> acc, int bias, float multiplier, int yZeroPoint, int qmin, int qmax,
        Span<byte> dst, bool simd)
    {
        if (dst.Length < acc.Length) throw new ArgumentException("destination too short");
        var i = 0;
        var count = acc.Length;
        fixed (int* a = acc)
        fixed (byte* d = dst)
        {
            if (simd && Avx2.IsSupported && count >= 8)
            {
                var vb = Vector256.Create(bias);
                var vm = Vector256.Create(multiplier);
                var lo = Vector256.Create((float)(qmin - yZeroPoint));
                var hi = Vector256.Create((float)(qmax - yZeroPoint));
                var vz = Vector256.Create(yZeroPoint);
                for (; i + 8 <= count; i += 8)
                {
                    var r = Lanes(Avx.LoadVector256(a + i), vb, vm, lo, hi, vz);
                    StoreLowBytes(r, d + i);
                }
            }
            else if (simd && AdvSimd.Arm64.IsSupported && count >= 8)
            {
                var vb = Vector128.Create(bias);
                var vm = Vector128.Create(multiplier);
                var lo = Vector128.Create((float)(qmin - yZeroPoint));
                var hi = Vector128.Create((float)(qmax - yZeroPoint));
                var vz = Vector128.Create(yZeroPoint);
                for (; i + 8 <= count; i += 8)
                {
                    var r0 = LanesArm(AdvSimd.LoadVector128(a + i), vb, vm, lo, hi, vz);
                    var r1 = LanesArm(AdvSimd.LoadVector128(a + i + 4), vb, vm, lo, hi, vz);
                    StoreLowBytesArm(r0, r1, d + i);
                }
            }
            for (; i < count; i++)
                d[i] = (byte)Apply(unchecked(a[i] + bias), multiplier, yZeroPoint, qmin, qmax);
        }
    }

    /// <summary>As <see cref="Run(ReadOnlySpan{int}, int, float, int, int, int, Span{byte}, bool)"/> with a bias and multiplier per element.</summary>
    internal static unsafe void Run(ReadOnlySpan<int> acc, ReadOnlySpan<int> bias, ReadOnlySpan<float> multiplier, int yZeroPoint,
        int qmin, int qmax, Span<byte> dst, bool simd)
    {
        var count = acc.Length;
        if (dst.Length < count || bias.Length < count || multiplier.Length < count) throw new ArgumentException("operand too short");
        var i = 0;
        fixed (int* a = acc)
        fixed (int* b = bias)
        fixed (float* m = multiplier)
        fixed (byte* d = dst)
        {
            if (simd && Avx2.IsSupported && count >= 8)
            {
                var lo = Vector256.Create((float)(qmin - yZeroPoint));
                var hi = Vector256.Create((float)(qmax - yZeroPoint));
                var vz = Vector256.Create(yZeroPoint);
                for (; i + 8 <= count; i += 8)
                {
                    var r = Lanes(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), Avx.LoadVector256(m + i), lo, hi, vz);
                    StoreLowBytes(r, d + i);
                }
            }
            else if (simd && AdvSimd.Arm64.IsSupported && count >= 8)
            {
                var lo = Vector128.Create((float)(qmin - yZeroPoint));
                var hi = Vector128.Create((float)(qmax - yZeroPoint));
                var vz = Vector128.Create(yZeroPoint);
                for (; i + 8 <= count; i += 8)
                {
                    var r0 = LanesArm(AdvSimd.LoadVector128(a + i), AdvSimd.LoadVector128(b + i), AdvSimd.LoadVector128(m + i), lo, hi, vz);
                    var r1 = LanesArm(AdvSimd.LoadVector128(a + i + 4), AdvSimd.LoadVector128(b + i + 4), AdvSimd.LoadVector128(m + i + 4),
                        lo, hi, vz);
                    StoreLowBytesArm(r0, r1, d + i);
                }
            }
            for (; i < count; i++)
                d[i] = (byte)Apply(unchecked(a[i] + b[i]), m[i], yZeroPoint, qmin, qmax);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Lanes(Vector256<int> acc, Vector256<int> bias, Vector256<float> m, Vector256<float> lo,
        Vector256<float> hi, Vector256<int> zp)
    {
        var f = Avx.ConvertToVector256Single(Avx2.Add(acc, bias));   // cvtdq2ps: RNE, as (float)int
        var v = Avx.RoundToNearestInteger(Avx.Multiply(f, m));        // one rounding for the product, then RNE to integer
        // Never NaN (finite multiplier, finite accumulator), so max/min equal the scalar compare-and-replace.
        v = Avx.Min(Avx.Max(v, lo), hi);
        return Avx2.Add(Avx.ConvertToVector256Int32WithTruncation(v), zp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreLowBytes(Vector256<int> r, byte* d)
    {
        // Values lie in [−128, 255]: keep the low byte of each lane (two's complement for int8 outputs).
        var bytes = Avx2.Shuffle(r.AsByte(), Vector256.Create(
            (byte)0, 4, 8, 12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
            0, 4, 8, 12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80));
        *(uint*)d = bytes.AsUInt32().GetElement(0);
        *(uint*)(d + 4) = bytes.AsUInt32().GetElement(4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> LanesArm(Vector128<int> acc, Vector128<int> bias, Vector128<float> m, Vector128<float> lo,
        Vector128<float> hi, Vector128<int> zp)
    {
        var f = AdvSimd.ConvertToSingle(AdvSimd.Add(acc, bias));          // scvtf: RNE, as (float)int
        var v = AdvSimd.RoundToNearest(AdvSimd.Multiply(f, m));           // fmul (no fused add), frintn: ties to even
        // Never NaN, so fmax/fmin equal the scalar compare-and-replace (a −0 becomes +0: the same integer).
        v = AdvSimd.Min(AdvSimd.Max(v, lo), hi);
        return AdvSimd.Add(AdvSimd.ConvertToInt32RoundToZero(v), zp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreLowBytesArm(Vector128<int> r0, Vector128<int> r1, byte* d)
    {
        // xtn keeps the low half of each lane; twice keeps the low byte (two's complement for int8 outputs).
        var halves = AdvSimd.ExtractNarrowingUpper(AdvSimd.ExtractNarrowingLower(r0), r1);
        AdvSimd.Store(d, AdvSimd.ExtractNarrowingLower(halves.AsUInt16()));
    }
}
