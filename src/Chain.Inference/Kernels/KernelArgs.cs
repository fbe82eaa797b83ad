using System.Runtime.InteropServices;

namespace Chain.Inference.Kernels;

/// <summary>Argument checks and small conversions shared by the kernels.</summary>
internal static class KernelArgs
{
    public static void RequireType(string op, string name, Tensor t, params TensorElementType[] allowed)
    {
        if (Array.IndexOf(allowed, t.ElementType) < 0)
            throw new InferenceException(op,
                $"{name} has type {TensorElementTypes.Name(t.ElementType)}, expected one of {string.Join(", ", allowed.Select(TensorElementTypes.Name))}");
    }

    public static bool IsSigned(TensorElementType t) => t is TensorElementType.Int8 or TensorElementType.Int16
        or TensorElementType.Int32 or TensorElementType.Int64;

    /// <summary>Representable range of a quantized output type.</summary>
    public static (int Min, int Max) Range(TensorElementType t) => t switch
    {
        TensorElementType.UInt8 => (byte.MinValue, byte.MaxValue),
        TensorElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        TensorElementType.UInt16 => (ushort.MinValue, ushort.MaxValue),
        TensorElementType.Int16 => (short.MinValue, short.MaxValue),
        _ => throw new InferenceException($"{TensorElementTypes.Name(t)} is not a quantized type"),
    };

    /// <summary>Every element of a (u)int8/(u)int16/int32 tensor as int.</summary>
    public static int[] Ints(Tensor t) => t.ElementType switch
    {
        TensorElementType.UInt8 => t.Data.ToArray().Select(v => (int)v).ToArray(),
        TensorElementType.Int8 => t.Elements<sbyte>().ToArray().Select(v => (int)v).ToArray(),
        TensorElementType.UInt16 => t.Elements<ushort>().ToArray().Select(v => (int)v).ToArray(),
        TensorElementType.Int16 => t.Elements<short>().ToArray().Select(v => (int)v).ToArray(),
        TensorElementType.Int32 => t.Elements<int>().ToArray(),
        _ => throw new InferenceException($"cannot read {TensorElementTypes.Name(t.ElementType)} as int32"),
    };

    /// <summary>Elements of an int32/int64 index-like tensor as long.</summary>
    public static long[] Longs(Tensor t) => t.ElementType switch
    {
        TensorElementType.Int64 => t.Elements<long>().ToArray(),
        TensorElementType.Int32 => t.Elements<int>().ToArray().Select(v => (long)v).ToArray(),
        _ => throw new InferenceException($"expected an int32 or int64 tensor, got {TensorElementTypes.Name(t.ElementType)}"),
    };

    /// <summary>
    /// A scale tensor: float32, every element finite and &gt; 0 (zero, negative, NaN or infinite scales
    /// have no canonical meaning and are refused).
    /// </summary>
    public static float[] Scales(string op, string name, Tensor t)
    {
        RequireType(op, name, t, TensorElementType.Float);
        var v = t.Elements<float>().ToArray();
        foreach (var s in v)
            if (!float.IsFinite(s) || s <= 0)
                throw new InferenceException(op, $"{name} must be finite and positive, got {s}");
        return v;
    }

    /// <summary>
    /// Per-tensor (one element, any shape) or per-vector (rank 1, <paramref name="length"/> elements)
    /// parameter, expanded to <paramref name="length"/> values.
    /// </summary>
    public static T[] Expand<T>(string op, string name, Tensor t, T[] values, int length, string what)
    {
        if (values.Length == 1)
        {
            var r = new T[length];
            Array.Fill(r, values[0]);
            return r;
        }
        if (t.Rank == 1 && values.Length == length) return values;
        throw new InferenceException(op, $"{name} of shape {t.ShapeText} must be a scalar or a 1-D tensor of {length} ({what})");
    }

    /// <summary>ONNX axis normalisation: negative counts from the end; <paramref name="inclusiveEnd"/> allows axis == rank.</summary>
    public static int NormalizeAxis(string op, int axis, int rank, bool inclusiveEnd = false)
    {
        var a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a > (inclusiveEnd ? rank : rank - 1))
            throw new InferenceException(op, $"axis {axis} is out of range for rank {rank}");
        return a;
    }

    public static long Product(ReadOnlySpan<int> dims, int from = 0, int to = -1)
    {
        if (to < 0) to = dims.Length;
        long p = 1;
        for (var i = from; i < to; i++) p *= dims[i];
        return p;
    }

    public static int CheckedCount(string op, long count)
    {
        if (count > int.MaxValue) throw new InferenceException(op, "output is too large");
        return (int)count;
    }

    /// <summary>numpy broadcasting of two shapes.</summary>
    public static int[] Broadcast(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new InferenceException(op,
                    $"shapes [{string.Join(",", a.ToArray())}] and [{string.Join(",", b.ToArray())}] do not broadcast");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>
    /// Element strides of <paramref name="shape"/> aligned to the right of <paramref name="outShape"/>,
    /// zero where the dimension is broadcast.
    /// </summary>
    public static long[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> outShape)
    {
        var r = new long[outShape.Length];
        long s = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            var o = i + outShape.Length - shape.Length;
            r[o] = shape[i] == 1 ? 0 : s;
            s *= shape[i];
        }
        return r;
    }

    public static Tensor Make<T>(TensorElementType type, int[] shape, T[] values) where T : unmanaged =>
        Tensor.Wrap(type, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static Tensor MakeBytes(TensorElementType type, int[] shape, byte[] data) => Tensor.Wrap(type, shape, data);
}
