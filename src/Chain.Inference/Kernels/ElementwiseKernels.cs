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
        var first = inputs[0];
        RequireInteger("Max", "input", first);
        if (inputs.Length == 1) return Binary<MaxOp>("Max", first, first);
        var shape = first.Shape.ToArray();
        foreach (var t in inputs[1..])
        {
            if (t.ElementType != first.ElementType)
                throw new InferenceException("Max", $"input types differ: {TensorElementTypes.Name(first.ElementType)} and {TensorElementTypes.Name(t.ElementType)}");
            shape = KernelArgs.Broadcast("Max", shape, t.Shape);
        }
        // max is associative and broadcasting composes, so folding into the output (which has the joint
        // broadcast shape, so each step reads and writes the same element) equals the joint broadcast.
        var result = Binary<MaxOp>("Max", first, inputs[1], shape);
        for (var i = 2; i < inputs.Length; i++) Binary<MaxOp>("Max", result, inputs[i], shape, into: result);
        return result;
    }

    private static void RequireInteger(string op, string name, Tensor t)
    {
        if (!TensorElementTypes.IsInteger(t.ElementType))
            throw new InferenceException(op, $"{name} has type {TensorElementTypes.Name(t.ElementType)}; only integer tensors are canonical");
    }

    private static Tensor Binary<TOp>(string op, Tensor a, Tensor b, int[]? outShape = null, Tensor? into = null) where TOp : struct, IIntOp
    {
        RequireInteger(op, "A", a);
        if (a.ElementType != b.ElementType)
            throw new InferenceException(op, $"input types differ: {TensorElementTypes.Name(a.ElementType)} and {TensorElementTypes.Name(b.ElementType)}");
        return a.ElementType switch
        {
            TensorElementType.UInt8 => Binary<TOp, byte>(op, a, b, outShape, into),
            TensorElementType.Int8 => Binary<TOp, sbyte>(op, a, b, outShape, into),
            TensorElementType.UInt16 => Binary<TOp, ushort>(op, a, b, outShape, into),
            TensorElementType.Int16 => Binary<TOp, short>(op, a, b, outShape, into),
            TensorElementType.UInt32 => Binary<TOp, uint>(op, a, b, outShape, into),
            TensorElementType.Int32 => Binary<TOp, int>(op, a, b, outShape, into),
            TensorElementType.UInt64 => Binary<TOp, ulong>(op, a, b, outShape, into),
            TensorElementType.Int64 => Binary<TOp, long>(op, a, b, outShape, into),
            _ => throw new InferenceException(op, "unsupported type"),
        };
    }

    /// <summary>
    /// r = a op b broadcast to <paramref name="outShape"/> (default: the two shapes' broadcast), written to a
    /// new output or in place into <paramref name="into"/>, which may be <paramref name="a"/> itself when a
    /// already has the output shape (each element is read before it is written).
    /// </summary>
    private static Tensor Binary<TOp, T>(string op, Tensor a, Tensor b, int[]? outShape, Tensor? into)
        where TOp : struct, IIntOp where T : unmanaged, IBinaryInteger<T>
    {
        var shape = KernelArgs.Broadcast(op, a.Shape, b.Shape);
        if (outShape is not null) shape = KernelArgs.Broadcast(op, shape, outShape);
        var count = KernelArgs.CheckedCount(op, KernelArgs.Product(shape));
        var x = a.Elements<T>();
        var y = b.Elements<T>();
        Span<T> r;
        Tensor result;
        if (into is null) result = KernelMemory.Output(a.ElementType, shape, out r);
        else
        {
            result = into;
            r = MemoryMarshal.Cast<byte, T>(into.WritableData);
        }
        if (a.ShapeEquals(b.Shape) && a.ShapeEquals(shape))
        {
            for (var i = 0; i < count; i++) r[i] = TOp.Apply(x[i], y[i]);
        }
        else if (y.Length == 1 && a.ShapeEquals(shape))
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
                BroadcastOdometer.Advance(idx, shape, sa, sb, shape.Length - 1, ref oa, ref ob);
            }
        }
        return result;
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

    private static Tensor ClipTyped<T>(Tensor x, Tensor? min, Tensor? max) where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T> =>
        ClipTyped(x, min is null ? T.MinValue : min.Elements<T>()[0], max is null ? T.MaxValue : max.Elements<T>()[0]);

    private static Tensor ClipTyped<T>(Tensor x, T lo, T hi) where T : unmanaged, IBinaryInteger<T>
    {
        var src = x.Elements<T>();
        var result = KernelMemory.Output<T>(x.ElementType, x.Shape.ToArray(), out var r);
        for (var i = 0; i < r.Length; i++) r[i] = T.Min(T.Max(src[i], lo), hi);
        return result;
    }

    /// <summary>ONNX Relu on a signed integer tensor (int8/16/32/64): max(x, 0).</summary>
    public static Tensor Relu(Tensor x)
    {
        const string op = "Relu";
        KernelArgs.RequireType(op, "X", x, TensorElementType.Int8, TensorElementType.Int16, TensorElementType.Int32, TensorElementType.Int64);
        return x.ElementType switch
        {
            TensorElementType.Int8 => ClipTyped<sbyte>(x, 0, sbyte.MaxValue),
            TensorElementType.Int16 => ClipTyped<short>(x, 0, short.MaxValue),
            TensorElementType.Int32 => ClipTyped<int>(x, 0, int.MaxValue),
            _ => ClipTyped<long>(x, 0, long.MaxValue),
        };
    }

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
        var result = KernelMemory.Output(to, x.Shape.ToArray(), out var dst);
        var signed = KernelArgs.IsSigned(x.ElementType);
        for (var i = 0; i < count; i++)
        {
            ulong v = 0;
            for (var b = 0; b < inSize; b++) v |= (ulong)src[i * inSize + b] << (8 * b);
            if (signed && inSize < 8 && (v >> (8 * inSize - 1) & 1) != 0) v |= ulong.MaxValue << (8 * inSize);
            if (to == TensorElementType.Bool) v = v != 0 ? 1UL : 0UL;
            for (var b = 0; b < outSize; b++) dst[i * outSize + b] = (byte)(v >> (8 * b));
        }
        return result;
    }

}
