using System.Numerics;
using System.Runtime.InteropServices;

namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    private interface IIntOp
    {
        static abstract T Apply<T>(T a, T b) where T : IBinaryInteger<T>;
    }

    // Integer Add and Mul wrap in the element type (numpy and ONNX Runtime semantics; ONNX does not
    // saturate): C# integer arithmetic is unchecked, i.e. two's-complement modulo 2^bits.
    private struct AddOp : IIntOp { public static T Apply<T>(T a, T b) where T : IBinaryInteger<T> => unchecked(a + b); }
    private struct MulOp : IIntOp { public static T Apply<T>(T a, T b) where T : IBinaryInteger<T> => unchecked(a * b); }
    private struct MaxOp : IIntOp { public static T Apply<T>(T a, T b) where T : IBinaryInteger<T> => T.Max(a, b); }

    /// <summary>ONNX Add on integer tensors of one type, numpy broadcasting, wrapping in the type.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary<AddOp>("Add", a, b);

    /// <summary>ONNX Mul on integer tensors of one type, numpy broadcasting, wrapping in the type.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary<MulOp>("Mul", a, b);

    /// <summary>ONNX Max (variadic) on integer tensors of one type, numpy broadcasting across all inputs.</summary>
    public static Tensor Max(params ReadOnlySpan<Tensor> inputs)
    {
        if (inputs.Length == 0) throw new InferenceException("Max", "needs at least one input");
        var r = inputs[0];
        RequireInteger("Max", "input", r);
        // max is associative and broadcasting composes, so a left fold equals the joint broadcast.
        for (var i = 1; i < inputs.Length; i++) r = Binary<MaxOp>("Max", r, inputs[i]);
        return r;
    }

    private static void RequireInteger(string op, string name, Tensor t)
    {
        if (!TensorElementTypes.IsInteger(t.ElementType))
            throw new InferenceException(op, $"{name} has type {TensorElementTypes.Name(t.ElementType)}; only integer tensors are canonical");
    }

    private static Tensor Binary<TOp>(string op, Tensor a, Tensor b) where TOp : struct, IIntOp
    {
        RequireInteger(op, "A", a);
        if (a.ElementType != b.ElementType)
            throw new InferenceException(op, $"input types differ: {TensorElementTypes.Name(a.ElementType)} and {TensorElementTypes.Name(b.ElementType)}");
        return a.ElementType switch
        {
            TensorElementType.UInt8 => Binary<TOp, byte>(op, a, b),
            TensorElementType.Int8 => Binary<TOp, sbyte>(op, a, b),
            TensorElementType.UInt16 => Binary<TOp, ushort>(op, a, b),
            TensorElementType.Int16 => Binary<TOp, short>(op, a, b),
            TensorElementType.UInt32 => Binary<TOp, uint>(op, a, b),
            TensorElementType.Int32 => Binary<TOp, int>(op, a, b),
            TensorElementType.UInt64 => Binary<TOp, ulong>(op, a, b),
            TensorElementType.Int64 => Binary<TOp, long>(op, a, b),
            _ => throw new InferenceException(op, "unsupported type"),
        };
    }

    private static Tensor Binary<TOp, T>(string op, Tensor a, Tensor b)
        where TOp : struct, IIntOp where T : unmanaged, IBinaryInteger<T>
    {
        var shape = KernelArgs.Broadcast(op, a.Shape, b.Shape);
        var count = KernelArgs.CheckedCount(op, KernelArgs.Product(shape));
        var x = a.Elements<T>();
        var y = b.Elements<T>();
        var r = new T[count];
        if (a.ShapeEquals(b.Shape))
        {
            for (var i = 0; i < count; i++) r[i] = TOp.Apply(x[i], y[i]);
        }
        else if (y.Length == 1)
        {
            var s = y[0];
            for (var i = 0; i < count; i++) r[i] = TOp.Apply(x[i], s);
        }
        else
        {
            var sa = KernelArgs.BroadcastStrides(a.Shape, shape);
            var sb = KernelArgs.BroadcastStrides(b.Shape, shape);
            var idx = new int[shape.Length];
            long oa = 0, ob = 0;
            for (var i = 0; i < count; i++)
            {
                r[i] = TOp.Apply(x[(int)oa], y[(int)ob]);
                // odometer increment over the output index, moving both operand offsets along
                for (var d = shape.Length - 1; d >= 0; d--)
                {
                    idx[d]++;
                    oa += sa[d];
                    ob += sb[d];
                    if (idx[d] < shape[d]) break;
                    oa -= sa[d] * shape[d];
                    ob -= sb[d] * shape[d];
                    idx[d] = 0;
                }
            }
        }
        return KernelArgs.Make(a.ElementType, shape, r);
    }

    /// <summary>
    /// ONNX Clip on an integer tensor: y = min(max(x, min), max) with optional scalar bounds of x's type
    /// (absent bounds are the type's limits). When min &gt; max every element becomes max, as ONNX specifies.
    /// </summary>
    public static Tensor Clip(Tensor x, Tensor? min = null, Tensor? max = null)
    {
        const string op = "Clip";
        RequireInteger(op, "input", x);
        foreach (var (name, t) in new[] { ("min", min), ("max", max) })
            if (t is not null && (t.ElementType != x.ElementType || t.ElementCount != 1))
                throw new InferenceException(op, $"{name} must be a scalar of the input's type");
        return x.ElementType switch
        {
            TensorElementType.UInt8 => ClipTyped<byte>(x, min, max),
            TensorElementType.Int8 => ClipTyped<sbyte>(x, min, max),
            TensorElementType.UInt16 => ClipTyped<ushort>(x, min, max),
            TensorElementType.Int16 => ClipTyped<short>(x, min, max),
            TensorElementType.UInt32 => ClipTyped<uint>(x, min, max),
            TensorElementType.Int32 => ClipTyped<int>(x, min, max),
            TensorElementType.UInt64 => ClipTyped<ulong>(x, min, max),
            TensorElementType.Int64 => ClipTyped<long>(x, min, max),
            _ => throw new InferenceException(op, "unsupported type"),
        };
    }

    private static Tensor ClipTyped<T>(Tensor x, Tensor? min, Tensor? max) where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T>
    {
        var lo = min is null ? T.MinValue : min.Elements<T>()[0];
        var hi = max is null ? T.MaxValue : max.Elements<T>()[0];
        var src = x.Elements<T>();
        var r = new T[src.Length];
        for (var i = 0; i < r.Length; i++) r[i] = T.Min(T.Max(src[i], lo), hi);
        return KernelArgs.Make(x.ElementType, x.Shape.ToArray(), r);
    }

    /// <summary>ONNX Relu on a signed integer tensor (int8/16/32/64): max(x, 0).</summary>
    public static Tensor Relu(Tensor x)
    {
        const string op = "Relu";
        KernelArgs.RequireType(op, "X", x, TensorElementType.Int8, TensorElementType.Int16, TensorElementType.Int32, TensorElementType.Int64);
        return x.ElementType switch
        {
            TensorElementType.Int8 => ClipTyped<sbyte>(x, Scalar<sbyte>(x.ElementType, 0), null),
            TensorElementType.Int16 => ClipTyped<short>(x, Scalar<short>(x.ElementType, 0), null),
            TensorElementType.Int32 => ClipTyped<int>(x, Scalar<int>(x.ElementType, 0), null),
            _ => ClipTyped<long>(x, Scalar<long>(x.ElementType, 0), null),
        };
    }

    private static Tensor Scalar<T>(TensorElementType type, T value) where T : unmanaged =>
        KernelArgs.Make(type, [], new[] { value });

    /// <summary>
    /// ONNX Cast between integer types (and bool): two's-complement truncation to the target width of the
    /// sign- or zero-extended source (numpy astype / C++ static_cast semantics; ONNX leaves integer
    /// overflow unspecified, so the chain fixes this). To bool: x ≠ 0. From bool: 0 or 1.
    /// </summary>
    public static Tensor Cast(Tensor x, TensorElementType to)
    {
        const string op = "Cast";
        if (!(TensorElementTypes.IsInteger(x.ElementType) || x.ElementType == TensorElementType.Bool))
            throw new InferenceException(op, $"cannot cast from {TensorElementTypes.Name(x.ElementType)}: only integer casts are canonical");
        if (!(TensorElementTypes.IsInteger(to) || to == TensorElementType.Bool))
            throw new InferenceException(op, $"cannot cast to {TensorElementTypes.Name(to)}: only integer casts are canonical");
        var count = (int)x.ElementCount;
        var inSize = TensorElementTypes.SizeOf(x.ElementType);
        var outSize = TensorElementTypes.SizeOf(to);
        var src = x.Data;
        var dst = new byte[count * outSize];
        var signed = KernelArgs.IsSigned(x.ElementType);
        for (var i = 0; i < count; i++)
        {
            ulong v = 0;
            for (var b = 0; b < inSize; b++) v |= (ulong)src[i * inSize + b] << (8 * b);
            if (signed && inSize < 8 && (v >> (8 * inSize - 1) & 1) != 0) v |= ulong.MaxValue << (8 * inSize);
            if (to == TensorElementType.Bool) v = v != 0 ? 1UL : 0UL;
            for (var b = 0; b < outSize; b++) dst[i * outSize + b] = (byte)(v >> (8 * b));
        }
        return Tensor.Wrap(to, x.Shape.ToArray(), dst);
    }

}
