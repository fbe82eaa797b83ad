namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    /// <summary>
    /// ONNX Reshape with an int64 shape tensor: −1 (at most one) is inferred; 0 copies the input dimension
    /// at that index unless <paramref name="allowZero"/>, when it means a literal zero (and then −1 and 0
    /// together are refused, as ONNX requires).
    /// </summary>
    public static Tensor Reshape(Tensor data, Tensor shape, bool allowZero = false)
    {
        const string op = "Reshape";
        KernelArgs.RequireType(op, "shape", shape, TensorElementType.Int64);
        if (shape.Rank != 1) throw new InferenceException(op, "shape must be 1-D");
        var req = shape.Elements<long>();
        if (req.Length > Tensor.MaxRank) throw new InferenceException(op, $"rank {req.Length} exceeds {Tensor.MaxRank}");
        var dims = new int[req.Length];
        var infer = -1;
        long known = 1;
        for (var i = 0; i < req.Length; i++)
        {
            var v = req[i];
            if (v == -1)
            {
                if (infer >= 0) throw new InferenceException(op, "more than one −1 in shape");
                infer = i;
                continue;
            }
            if (v == 0 && !allowZero)
            {
                if (i >= data.Rank) throw new InferenceException(op, $"0 at index {i} but data has rank {data.Rank}");
                v = data.Shape[i];
            }
            if (v < 0 || v > int.MaxValue) throw new InferenceException(op, $"invalid dimension {req[i]}");
            dims[i] = (int)v;
            known *= v;
        }
        if (allowZero && infer >= 0 && req.Contains(0L))
            throw new InferenceException(op, "allowzero with both 0 and −1 in shape is invalid");
        var count = data.ElementCount;
        if (infer >= 0)
        {
            if (known == 0 || count % known != 0)
                throw new InferenceException(op, $"cannot infer −1: {count} elements into [{string.Join(",", req.ToArray())}]");
            dims[infer] = (int)(count / known);
        }
        else if (known != count)
            throw new InferenceException(op, $"{data.ShapeText} has {count} elements, shape [{string.Join(",", dims)}] has {known}");
        return CopyAs(data, dims);
    }

    /// <summary>ONNX Flatten: [d0·…·d(axis−1), d(axis)·…] with axis in [−r, r].</summary>
    public static Tensor Flatten(Tensor x, int axis = 1)
    {
        var a = KernelArgs.NormalizeAxis("Flatten", axis, x.Rank, inclusiveEnd: true);
        var outer = KernelArgs.CheckedCount("Flatten", KernelArgs.Product(x.Shape, 0, a));
        var inner = KernelArgs.CheckedCount("Flatten", KernelArgs.Product(x.Shape, a));
        return CopyAs(x, [outer, inner]);
    }

    /// <summary>ONNX Identity: the input's elements, type and shape.</summary>
    public static Tensor Identity(Tensor x) => CopyAs(x, x.Shape.ToArray());

    /// <summary>The same elements under another shape (Reshape, Flatten, Identity): one copy into the output.</summary>
    internal static Tensor CopyAs(Tensor x, int[] shape)
    {
        var result = KernelMemory.Output(x.ElementType, shape, out var dst);
        x.Data.CopyTo(dst);
        return result;
    }

    /// <summary>ONNX Transpose: output axis i is input axis perm[i]; no perm reverses the axes.</summary>
    public static Tensor Transpose(Tensor x, ReadOnlySpan<int> perm = default)
    {
        const string op = "Transpose";
        var r = x.Rank;
        var p = perm.IsEmpty ? Enumerable.Range(0, r).Reverse().ToArray() : perm.ToArray();
        if (p.Length != r || p.Any(v => v < 0 || v >= r) || p.Distinct().Count() != r)
            throw new InferenceException(op, $"perm [{string.Join(",", p)}] is not a permutation of {r} axes");
        var outShape = p.Select(v => x.Shape[v]).ToArray();
        var size = TensorElementTypes.SizeOf(x.ElementType);
        var inStrides = new long[r];
        long s = 1;
        for (var i = r - 1; i >= 0; i--) { inStrides[i] = s; s *= x.Shape[i]; }
        var strides = p.Select(v => inStrides[v]).ToArray(); // input stride of each output axis
        var count = (int)x.ElementCount;
        var src = x.Data;
        var result = KernelMemory.Output(x.ElementType, outShape, out var dst);
        Span<int> idx = stackalloc int[r];
        long off = 0;
        for (var i = 0; i < count; i++)
        {
            src.Slice((int)(off * size), size).CopyTo(dst.Slice(i * size, size));
            for (var d = r - 1; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < outShape[d]) break;
                off -= strides[d] * outShape[d];
                idx[d] = 0;
            }
        }
        return result;
    }

    /// <summary>ONNX Concat along axis (negative counts from the end); all inputs share type, rank and other dimensions.</summary>
    public static Tensor Concat(ReadOnlySpan<Tensor> inputs, int axis)
    {
        const string op = "Concat";
        if (inputs.Length == 0) throw new InferenceException(op, "needs at least one input");
        var first = inputs[0];
        var a = KernelArgs.NormalizeAxis(op, axis, first.Rank);
        var shape = first.Shape.ToArray();
        long total = 0;
        foreach (var t in inputs)
        {
            if (t.ElementType != first.ElementType) throw new InferenceException(op, "input types differ");
            if (t.Rank != first.Rank) throw new InferenceException(op, "input ranks differ");
            for (var d = 0; d < t.Rank; d++)
                if (d != a && t.Shape[d] != shape[d])
                    throw new InferenceException(op, $"{t.ShapeText} and {first.ShapeText} differ outside axis {axis}");
            total += t.Shape[a];
        }
        shape[a] = KernelArgs.CheckedCount(op, total);
        var size = TensorElementTypes.SizeOf(first.ElementType);
        var outer = KernelArgs.Product(shape, 0, a);
        var innerBytes = KernelArgs.Product(shape, a + 1) * size;
        KernelArgs.CheckedCount(op, KernelArgs.Product(shape) * size);
        var result = KernelMemory.Output(first.ElementType, shape, out var dst);
        var pos = 0;
        for (long o = 0; o < outer; o++)
            foreach (var t in inputs)
            {
                var chunk = (int)(t.Shape[a] * innerBytes);
                t.Data.Slice((int)(o * chunk), chunk).CopyTo(dst[pos..]);
                pos += chunk;
            }
        return result;
    }

    /// <summary>
    /// ONNX Gather: out shape = data[:axis] + indices.shape + data[axis+1:]; int32/int64 indices, negative
    /// ones count from the end; out-of-range indices are refused.
    /// </summary>
    public static Tensor Gather(Tensor data, Tensor indices, int axis = 0)
    {
        const string op = "Gather";
        if (data.Rank == 0) throw new InferenceException(op, "data must have rank ≥ 1");
        var a = KernelArgs.NormalizeAxis(op, axis, data.Rank);
        var dim = data.Shape[a];
        var shape = new List<int>(data.Shape[..a].ToArray());
        shape.AddRange(indices.Shape.ToArray());
        shape.AddRange(data.Shape[(a + 1)..].ToArray());
        if (shape.Count > Tensor.MaxRank) throw new InferenceException(op, "output rank exceeds the limit");
        var size = TensorElementTypes.SizeOf(data.ElementType);
        var outer = KernelArgs.Product(data.Shape, 0, a);
        var innerBytes = (int)(KernelArgs.Product(data.Shape, a + 1) * size);
        if (indices.ElementType is not (TensorElementType.Int32 or TensorElementType.Int64))
            throw new InferenceException(op, $"indices must be int32 or int64, got {TensorElementTypes.Name(indices.ElementType)}");
        var count = (int)indices.ElementCount;
        KernelArgs.CheckedCount(op, outer * count * (long)innerBytes);
        var result = KernelMemory.Output(data.ElementType, shape.ToArray(), out var dst);
        var src = data.Data;
        var wide = indices.ElementType == TensorElementType.Int64;
        var i64 = wide ? indices.Elements<long>() : default;
        var i32 = wide ? default : indices.Elements<int>();
        var pos = 0;
        for (long o = 0; o < outer; o++)
            for (var n = 0; n < count; n++)
            {
                var raw = wide ? i64[n] : i32[n];
                var i = raw < 0 ? raw + dim : raw;
                if (i < 0 || i >= dim) throw new InferenceException(op, $"index {raw} is out of range for axis of size {dim}");
                src.Slice((int)((o * dim + i) * innerBytes), innerBytes).CopyTo(dst[pos..]);
                pos += innerBytes;
            }
        return result;
    }

    /// <summary>
    /// ONNX ArgMax on an integer tensor: int64 index of the maximum along axis; ties go to the first
    /// index, or the last with <paramref name="selectLastIndex"/>; keepdims keeps the axis as size 1.
    /// </summary>
    public static Tensor ArgMax(Tensor x, int axis = 0, bool keepDims = true, bool selectLastIndex = false)
    {
        const string op = "ArgMax";
        RequireInteger(op, "data", x);
        if (x.Rank == 0) throw new InferenceException(op, "data must have rank ≥ 1");
        var a = KernelArgs.NormalizeAxis(op, axis, x.Rank);
        var dim = x.Shape[a];
        if (dim == 0) throw new InferenceException(op, "cannot take ArgMax over an empty axis");
        var outer = KernelArgs.Product(x.Shape, 0, a);
        var inner = KernelArgs.Product(x.Shape, a + 1);
        var shape = x.Shape.ToArray().ToList();
        if (keepDims) shape[a] = 1;
        else shape.RemoveAt(a);
        var result = KernelMemory.Output<long>(TensorElementType.Int64, shape.ToArray(), out var r);
        switch (x.ElementType)
        {
            case TensorElementType.UInt8: ArgMax(x.Elements<byte>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.Int8: ArgMax(x.Elements<sbyte>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.UInt16: ArgMax(x.Elements<ushort>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.Int16: ArgMax(x.Elements<short>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.UInt32: ArgMax(x.Elements<uint>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.Int32: ArgMax(x.Elements<int>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.UInt64: ArgMax(x.Elements<ulong>(), outer, dim, inner, selectLastIndex, r); break;
            case TensorElementType.Int64: ArgMax(x.Elements<long>(), outer, dim, inner, selectLastIndex, r); break;
            default: throw new InferenceException(op, $"cannot take ArgMax of {TensorElementTypes.Name(x.ElementType)}");
        }
        return result;
    }

    private static void ArgMax<T>(ReadOnlySpan<T> values, long outer, int dim, long inner, bool selectLastIndex, Span<long> r)
        where T : unmanaged, IComparable<T>
    {
        for (long o = 0; o < outer; o++)
        for (long i = 0; i < inner; i++)
        {
            var best = 0;
            for (var j = 1; j < dim; j++)
            {
                var cmp = values[(int)((o * dim + j) * inner + i)].CompareTo(values[(int)((o * dim + best) * inner + i)]);
                if (cmp > 0 || (cmp == 0 && selectLastIndex)) best = j;
            }
            r[(int)(o * inner + i)] = best;
        }
    }
}
