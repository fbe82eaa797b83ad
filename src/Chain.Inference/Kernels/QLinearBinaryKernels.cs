using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Chain.Inference.Kernels;

/// <summary>
/// The parameters of one QLinearAdd or QLinearMul, derived once per call from the scales and zero points
/// (docs/inference-semantics.md, "QLinearAdd", "QLinearMul").
/// </summary>
internal readonly record struct QLinearBinaryParams(bool Mul, bool Signed, int ZeroA, int ZeroB, int ZeroC,
    float RatioA, float RatioB, float Fixed, float Ratio, int QMin, int QMax)
{
    /// <summary>
    /// QLinearAdd: rA = fl(sA / sC), rB = fl(sB / sC), fixed = fl(zC − fl(fl(rA·zA) + fl(rB·zB))).
    /// QLinearMul: ratio = fl(fl(sA·sB) / sC).
    /// </summary>
    public static QLinearBinaryParams Create(bool mul, bool signed, float sA, int zA, float sB, int zB, float sC, int zC)
    {
        var (qmin, qmax) = signed ? (-128, 127) : (0, 255);
        if (mul) return new(true, signed, zA, zB, zC, 0, 0, 0, Requantize.Multiplier(sA, sB, sC), qmin, qmax);
        var rA = Divide(sA, sC);
        var rB = Divide(sB, sC);
        var fixedPart = FixedPart(rA, zA, rB, zB, zC);
        return new(false, signed, zA, zB, zC, rA, rB, fixedPart, 0, qmin, qmax);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Divide(float a, float b) => a / b;

    [MethodImpl(MethodImplOptions.NoInlining)] // every step a separate binary32 rounding
    private static float FixedPart(float rA, int zA, float rB, int zB, int zC)
    {
        var pa = rA * zA;
        var pb = rB * zB;
        var sum = pa + pb;
        return zC - sum;
    }
}

public static partial class CanonicalOps
{
    private static readonly TensorElementType[] Int8Pair = [TensorElementType.UInt8, TensorElementType.Int8];

    /// <summary>
    /// com.microsoft QLinearAdd (uint8/int8, numpy broadcasting, per-tensor scales and zero points):
    /// C = saturate(rne(fma(a, rA, fma(b, rB, fixed)))) with the parameters of <see cref="QLinearBinaryParams"/>;
    /// fma is IEEE 754 fusedMultiplyAdd (one rounding). Omitted zero points are 0.
    /// </summary>
    public static Tensor QLinearAdd(Tensor a, Tensor aScale, Tensor? aZeroPoint, Tensor b, Tensor bScale, Tensor? bZeroPoint,
        Tensor cScale, Tensor? cZeroPoint) =>
        QLinearBinary("QLinearAdd", false, a, aScale, aZeroPoint, b, bScale, bZeroPoint, cScale, cZeroPoint);

    /// <summary>
    /// com.microsoft QLinearMul (uint8/int8, numpy broadcasting, per-tensor scales and zero points):
    /// C = saturate(rne(fl(fl(float((a − zA)(b − zB)) · ratio) + zC))), ratio = fl(fl(sA·sB) / sC).
    /// </summary>
    public static Tensor QLinearMul(Tensor a, Tensor aScale, Tensor? aZeroPoint, Tensor b, Tensor bScale, Tensor? bZeroPoint,
        Tensor cScale, Tensor? cZeroPoint) =>
        QLinearBinary("QLinearMul", true, a, aScale, aZeroPoint, b, bScale, bZeroPoint, cScale, cZeroPoint);

    private static Tensor QLinearBinary(string op, bool mul, Tensor a, Tensor aScale, Tensor? aZeroPoint, Tensor b, Tensor bScale,
        Tensor? bZeroPoint, Tensor cScale, Tensor? cZeroPoint)
    {
        KernelArgs.RequireType(op, "A", a, Int8Pair);
        if (b.ElementType != a.ElementType)
            throw new InferenceException(op, $"A and B differ in type: {TensorElementTypes.Name(a.ElementType)} and {TensorElementTypes.Name(b.ElementType)}");
        var signed = a.ElementType == TensorElementType.Int8;
        var p = QLinearBinaryParams.Create(mul, signed,
            ScalarScale(op, "A_scale", aScale), ScalarZeroPoint(op, "A_zero_point", aZeroPoint, a.ElementType),
            ScalarScale(op, "B_scale", bScale), ScalarZeroPoint(op, "B_zero_point", bZeroPoint, a.ElementType),
            ScalarScale(op, "C_scale", cScale), ScalarZeroPoint(op, "C_zero_point", cZeroPoint, a.ElementType));
        if (mul ? !float.IsFinite(p.Ratio) : !float.IsFinite(p.RatioA) || !float.IsFinite(p.RatioB) || !float.IsFinite(p.Fixed))
            throw new InferenceException(op, "the scales give a non-finite multiplier");
        var shape = KernelArgs.Broadcast(op, a.Shape, b.Shape);
        var count = KernelArgs.CheckedCount(op, KernelArgs.Product(shape));
        var result = KernelMemory.Output(a.ElementType, shape, out var dst);
        if (count == 0) return result;
        var simd = KernelOptions.Current != GemmPath.Scalar;
        var x = a.Data;
        var y = b.Data;
        if (a.ShapeEquals(shape) && (b.ShapeEquals(shape) || b.ElementCount == 1))
        {
            QLinearBinarySpan(p, x, y, b.ElementCount == 1 ? 0 : 1, dst[..count], simd);
            return result;
        }
        if (b.ShapeEquals(shape) && a.ElementCount == 1)
        {
            QLinearBinarySpanScalarA(p, x[0], y, dst[..count], simd);
            return result;
        }
        // General broadcast: an odometer over all output axes but the last; the last axis is one span in which
        // each operand advances by 1 or stays (stride 0).
        var sa = KernelArgs.BroadcastStrides(a.Shape, shape);
        var sb = KernelArgs.BroadcastStrides(b.Shape, shape);
        var rank = shape.Length;
        var inner = shape[^1];
        int innerA = (int)sa[^1], innerB = (int)sb[^1];
        var idx = new int[rank];
        long oa = 0, ob = 0;
        for (var o = 0; o < count; o += inner)
        {
            var d = dst.Slice(o, inner);
            if (innerA == 1) QLinearBinarySpan(p, x.Slice((int)oa, inner), y[(int)ob..], innerB, d, simd);
            else if (innerB == 1) QLinearBinarySpanScalarA(p, x[(int)oa], y.Slice((int)ob, inner), d, simd);
            else d.Fill(QLinearBinaryScalar(p, x[(int)oa], y[(int)ob]));
            BroadcastOdometer.Advance(idx, shape, sa, sb, rank - 2, ref oa, ref ob);
        }
        return result;
    }

    private static float ScalarScale(string op, string name, Tensor t)
    {
        var v = KernelArgs.Scales(op, name, t);
        if (v.Length != 1) throw new InferenceException(op, $"{name} must hold exactly one value, got {t.ShapeText}");
        return v[0];
    }

    private static int ScalarZeroPoint(string op, string name, Tensor? t, TensorElementType type)
    {
        if (t is null) return 0;
        if (t.ElementType != type)
            throw new InferenceException(op, $"{name} is {TensorElementTypes.Name(t.ElementType)}, expected {TensorElementTypes.Name(type)}");
        if (t.ElementCount != 1) throw new InferenceException(op, $"{name} must hold exactly one value, got {t.ShapeText}");
        return type == TensorElementType.Int8 ? (sbyte)t.Data[0] : t.Data[0];
    }

    /// <summary>The specification: one output element from raw operand bytes a and b.</summary>
    internal static byte QLinearBinaryScalar(in QLinearBinaryParams p, byte rawA, byte rawB)
    {
        int a = p.Signed ? (sbyte)rawA : rawA, b = p.Signed ? (sbyte)rawB : rawB;
        float v;
        if (p.Mul)
        {
            // (a − zA)(b − zB) is exact in int32 (|·| ≤ 255²) and in float32 (< 2^24).
            var product = (float)((a - p.ZeroA) * (b - p.ZeroB)) * p.Ratio;
            v = product + p.ZeroC;
        }
        else v = ExactFma.Fma(a, p.RatioA, ExactFma.Fma(b, p.RatioB, p.Fixed));
        return (byte)SaturateRound(v, p.QMin, p.QMax);
    }

    /// <summary>clamp(rne(v), qmin, qmax): clamping in float first is the same (the bounds are integers); ±∞ saturate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SaturateRound(float v, int qmin, int qmax)
    {
        if (v < qmin) v = qmin;
        if (v > qmax) v = qmax;
        return (int)MathF.Round(v, MidpointRounding.ToEven);
    }

    /// <summary>dst[i] = f(a[i], b[i·bStep]) with bStep 1 (elementwise) or 0 (b a scalar).</summary>
    private static unsafe void QLinearBinarySpan(in QLinearBinaryParams p, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int bStep,
        Span<byte> dst, bool simd)
    {
        var n = dst.Length;
        var i = 0;
        if (simd && n >= 8 && Vectors(p))
        {
            fixed (byte* pa = a)
            fixed (byte* pb = b)
            fixed (byte* pd = dst)
            {
                var vb = bStep == 0 ? Widen(p, Vector256.Create(pb[0]).AsUInt64().GetElement(0)) : default;
                for (; i + 8 <= n; i += 8)
                {
                    var va = Widen(p, *(ulong*)(pa + i));
                    var r = Lanes(p, va, bStep == 0 ? vb : Widen(p, *(ulong*)(pb + i)));
                    *(ulong*)(pd + i) = PackLow(r);
                }
            }
        }
        for (; i < n; i++) dst[i] = QLinearBinaryScalar(p, a[i], b[i * bStep]);
    }

    /// <summary>dst[i] = f(a, b[i]): A broadcast as a scalar over a span of B.</summary>
    private static unsafe void QLinearBinarySpanScalarA(in QLinearBinaryParams p, byte a, ReadOnlySpan<byte> b, Span<byte> dst, bool simd)
    {
        var n = dst.Length;
        var i = 0;
        if (simd && n >= 8 && Vectors(p))
        {
            fixed (byte* pb = b)
            fixed (byte* pd = dst)
            {
                var va = Widen(p, Vector256.Create(a).AsUInt64().GetElement(0));
                for (; i + 8 <= n; i += 8) *(ulong*)(pd + i) = PackLow(Lanes(p, va, Widen(p, *(ulong*)(pb + i))));
            }
        }
        for (; i < n; i++) dst[i] = QLinearBinaryScalar(p, a, b[i]);
    }

    /// <summary>The 8-lane path: AVX2, and for QLinearAdd hardware FMA (correctly rounded, as <see cref="ExactFma"/>).</summary>
    private static bool Vectors(in QLinearBinaryParams p) => Avx2.IsSupported && (p.Mul || Fma.IsSupported);

    /// <summary>Eight bytes (little-endian in <paramref name="bytes"/>) sign- or zero-extended to int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen(in QLinearBinaryParams p, ulong bytes)
    {
        var v = Vector128.CreateScalar(bytes).AsByte();
        return p.Signed ? Avx2.ConvertToVector256Int32(v.AsSByte()) : Avx2.ConvertToVector256Int32(v);
    }

    /// <summary>The scalar specification, eight lanes at a time, with exactly its operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Lanes(in QLinearBinaryParams p, Vector256<int> a, Vector256<int> b)
    {
        Vector256<float> v;
        if (p.Mul)
        {
            var prod = Avx2.MultiplyLow(Avx2.Subtract(a, Vector256.Create(p.ZeroA)), Avx2.Subtract(b, Vector256.Create(p.ZeroB)));
            v = Avx.Add(Avx.Multiply(Avx.ConvertToVector256Single(prod), Vector256.Create(p.Ratio)), Vector256.Create((float)p.ZeroC));
        }
        else
        {
            var t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(b), Vector256.Create(p.RatioB), Vector256.Create(p.Fixed));
            v = Fma.MultiplyAdd(Avx.ConvertToVector256Single(a), Vector256.Create(p.RatioA), t);
        }
        // Never NaN (finite parameters, small operands): max/min equal the scalar compare-and-replace.
        v = Avx.Min(Avx.Max(v, Vector256.Create((float)p.QMin)), Vector256.Create((float)p.QMax));
        return Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v));
    }

    /// <summary>The low byte of each int32 lane (values in [−128, 255]), eight bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong PackLow(Vector256<int> r)
    {
        var bytes = Avx2.Shuffle(r.AsByte(), Vector256.Create(
            (byte)0, 4, 8, 12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
            0, 4, 8, 12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80));
        return bytes.AsUInt32().GetElement(0) | (ulong)bytes.AsUInt32().GetElement(4) << 32;
    }
}

/// <summary>
/// IEEE 754 fusedMultiplyAdd on binary32, in software, independent of the CPU: x·y + z with one rounding to
/// nearest-even. The product of two binary32 significands (24 bits each) is exact in binary64 and the exponents
/// cannot overflow it, so only the addition rounds in binary64; that rounding is undone where it matters, when
/// the binary64 sum lies exactly halfway between two binary32 numbers and is inexact (the error of the sum,
/// exact by TwoSum, then decides the direction). Equals a hardware FMA (vfmadd, ARM fmadd) bit for bit.
/// </summary>
public static class ExactFma
{
    public static float Fma(float x, float y, float z)
    {
        var p = (double)x * y;            // exact
        var s = p + z;                    // rounded once in binary64
        var r = (float)s;
        if (!double.IsFinite(s) || (double)r == s) return r; // exact in binary32 already: |error| is far below half an ulp
        // TwoSum: s + e == p + z exactly.
        var bp = s - z;
        var e = (p - bp) + (z - (s - bp));
        if (e == 0) return r;
        // The binary32 neighbour of r on s's side, and whether s lies exactly halfway between them (then the
        // binary64 rounding may have made a tie of a value that is not one: e says on which side it lies).
        var n = s > r ? MathF.BitIncrement(r) : MathF.BitDecrement(r);
        var mid = ((double)r + n) * 0.5; // exact: adjacent binary32 numbers
        if (s == mid) return (e > 0) == (n > r) ? n : r;
        return r;
    }
}
