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
        return Tensor.Wrap(data.ElementType, dims, data.Data.ToArray());
    }

    /// <summary>ONNX Flatten: [d0·…·d(axis−1), d(axis)·…] with axis in [−r, r].</summary>
    public static Tensor Flatten(Tensor x, int axis = 1)
    {
        var a = KernelArgs.NormalizeAxis("Flatten", axis, x.Rank, inclusiveEnd: true);
        var outer = KernelArgs.CheckedCount("Flatten", KernelArgs.Product(x.Shape, 0, a));
        var inner = KernelArgs.CheckedCount("Flatten", KernelArgs.Product(x.Shape, a));
        return Tensor.Wrap(x.ElementType, [outer, inner], x.Data.ToArray());
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
        var dst = new byte[count * size];
        var idx = new int[r];
        long off = 0;
        for (var i = 0; i < count; i++)
        {
            src.Slice((int)(off * size), size).CopyTo(dst.AsSpan(i * size, size));
            for (var d = r - 1; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < outShape[d]) break;
                off -= strides[d] * outShape[d];
                idx[d] = 0;
            }
        }
        return Tensor.Wrap(x.ElementType, outShape, dst);
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
        var dst = new byte[KernelArgs.CheckedCount(op, KernelArgs.Product(shape) * size)];
        var pos = 0;
        for (long o = 0; o < outer; o++)
            foreach (var t in inputs)
            {
                var chunk = (int)(t.Shape[a] * innerBytes);
                t.Data.Slice((int)(o * chunk), chunk).CopyTo(dst.AsSpan(pos));
                pos += chunk;
            }
        return Tensor.Wrap(first.ElementType, shape, dst);
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
        var idx = KernelArgs.Longs(indices);
        var dim = data.Shape[a];
        var shape = new List<int>(data.Shape[..a].ToArray());
        shape.AddRange(indices.Shape.ToArray());
        shape.AddRange(data.Shape[(a + 1)..].ToArray());
        if (shape.Count > Tensor.MaxRank) throw new InferenceException(op, "output rank exceeds the limit");
        var size = TensorElementTypes.SizeOf(data.ElementType);
        var outer = KernelArgs.Product(data.Shape, 0, a);
        var innerBytes = (int)(KernelArgs.Product(data.Shape, a + 1) * size);
        var dst = new byte[KernelArgs.CheckedCount(op, outer * idx.Length * innerBytes)];
        var src = data.Data;
        var pos = 0;
        for (long o = 0; o < outer; o++)
            foreach (var raw in idx)
            {
                var i = raw < 0 ? raw + dim : raw;
                if (i < 0 || i >= dim) throw new InferenceException(op, $"index {raw} is out of range for axis of size {dim}");
                src.Slice((int)((o * dim + i) * innerBytes), innerBytes).CopyTo(dst.AsSpan(pos));
                pos += innerBytes;
            }
        return Tensor.Wrap(data.ElementType, shape.ToArray(), dst);
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
        var r = new long[outer * inner];
        var unsigned64 = x.ElementType == TensorElementType.UInt64;
        var values = unsigned64 ? null : Widen(x);
        var u = unsigned64 ? x.Elements<ulong>() : default;
        for (long o = 0; o < outer; o++)
        for (long i = 0; i < inner; i++)
        {
            var best = 0;
            for (var j = 1; j < dim; j++)
            {
                var cur = (o * dim + j) * inner + i;
                var bi = (o * dim + best) * inner + i;
                var cmp = unsigned64 ? u[(int)cur].CompareTo(u[(int)bi]) : values![cur].CompareTo(values[bi]);
                if (cmp > 0 || (cmp == 0 && selectLastIndex)) best = j;
            }
            r[o * inner + i] = best;
        }
        var shape = x.Shape.ToArray().ToList();
        if (keepDims) shape[a] = 1;
        else shape.RemoveAt(a);
        return KernelArgs.Make(TensorElementType.Int64, shape.ToArray(), r);
    }

    /// <summary>Integer elements widened to long (exact for every type but uint64).</summary>
    private static long[] Widen(Tensor x) => x.ElementType switch
    {
        TensorElementType.UInt8 => x.Data.ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.Int8 => x.Elements<sbyte>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.UInt16 => x.Elements<ushort>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.Int16 => x.Elements<short>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.UInt32 => x.Elements<uint>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.Int32 => x.Elements<int>().ToArray().Select(v => (long)v).ToArray(),
        TensorElementType.Int64 => x.Elements<long>().ToArray(),
        _ => throw new InferenceException($"cannot widen {TensorElementTypes.Name(x.ElementType)}"),
    };
}
