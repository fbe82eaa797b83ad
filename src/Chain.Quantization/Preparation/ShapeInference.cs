using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Quantization.Preparation;

/// <summary>The element type and static shape of a tensor.</summary>
internal readonly record struct TypeShape(TensorElementType Type, long[] Shape)
{
    public override string ToString() => $"{TensorElementTypes.Name(Type)}[{string.Join(",", Shape)}]";
}

/// <summary>
/// Static type and shape inference over the operators a float model for quantization uses (and the shape arithmetic
/// around them). <see cref="Run"/> infers what it can (partial, while folding); with <c>strict</c> a node whose outputs
/// cannot be inferred is a <see cref="QuantizationException"/> naming it.
/// </summary>
internal sealed class ShapeInference(WorkGraph g)
{
    public Dictionary<string, TypeShape> Known { get; } = new(StringComparer.Ordinal);

    private sealed class Unknown(string reason) : Exception(reason);

    /// <summary>Operators the quantizer cannot take, with the reason given when one is left after preparation.</summary>
    public static readonly IReadOnlyDictionary<string, string> Refused = new Dictionary<string, string>
    {
        ["ConvTranspose"] = "ConvTranspose is not supported by the quantizer",
        ["Resize"] = "Resize is not supported by the quantizer",
        ["Upsample"] = "Upsample is not supported by the quantizer",
        ["If"] = "If whose condition is not a constant cannot be prepared (fix the input shapes with --shape, or export without control flow)",
        ["Loop"] = "Loop that does not compute from constants only cannot be prepared (export the model unrolled)",
        ["Scan"] = "Scan is not supported",
    };

    public void Run(bool strict)
    {
        Known.Clear();
        foreach (var v in g.Inputs)
            if (v.StaticShape is { } s) Known[v.Name] = new((TensorElementType)v.ElemType, s);
        foreach (var n in g.Nodes)
        {
            if (strict && n.Domain is "" or "ai.onnx" && Refused.TryGetValue(n.OpType, out var why))
                throw new QuantizationException(WorkGraph.Describe(n), why);
            try
            {
                var outs = Infer(n);
                for (var i = 0; i < n.Outputs.Count && i < outs.Length; i++)
                    if (n.Outputs[i].Length > 0) Known[n.Outputs[i]] = outs[i];
                if (strict)
                    foreach (var o in n.Outputs.Where(o => o.Length > 0 && !Known.ContainsKey(o)))
                        throw new Unknown($"cannot infer the shape of output '{o}'");
            }
            catch (Unknown e) when (strict)
            {
                throw new QuantizationException(WorkGraph.Describe(n), e.Message);
            }
            catch (Unknown)
            {
                // Partial mode: this node's outputs stay unknown for now.
            }
        }
    }

    public TypeShape? Of(string name) =>
        g.Constants.TryGetValue(name, out var c) ? new TypeShape(c.ElementType, Tx.LongShape(c))
        : Known.TryGetValue(name, out var k) ? k : null;

    private TypeShape In(OnnxNode n, int i)
    {
        var name = n.InputAt(i) ?? throw new Unknown($"input {i} is missing");
        return Of(name) ?? throw new Unknown($"the shape of input '{name}' is not known");
    }

    private long[] S(OnnxNode n, int i) => In(n, i).Shape;

    private TensorElementType Ty(OnnxNode n, int i) => In(n, i).Type;

    private long[]? ConstInts(OnnxNode n, int i) =>
        n.InputAt(i) is { } name
            ? g.Constants.TryGetValue(name, out var t) ? Tx.Longs(t) : throw new Unknown($"input '{name}' must be a constant")
            : null;

    private static TypeShape[] One(TensorElementType t, long[] s) => [new(t, s)];

    private static long Norm(long axis, long rank, OnnxNode n) =>
        axis < -rank || axis >= rank ? throw new Unknown($"axis {axis} is out of range for rank {rank}") : axis < 0 ? axis + rank : axis;

    public static long[] Broadcast(IEnumerable<long[]> shapes)
    {
        var list = shapes.ToList();
        var rank = list.Max(s => s.Length);
        var result = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            long d = 1;
            foreach (var s in list)
            {
                var k = i - (rank - s.Length);
                if (k < 0) continue;
                var v = s[k];
                if (v == 1) continue;
                if (d != 1 && d != v) throw new Unknown($"shapes [{string.Join("] [", list.Select(x => string.Join(",", x)))}] do not broadcast");
                d = v;
            }
            result[i] = d;
        }
        return result;
    }

    private TypeShape[] Infer(OnnxNode n)
    {
        if (n.Domain is not ("" or "ai.onnx"))
            throw new Unknown($"operator {n.Domain}.{n.OpType} is not supported (only the ai.onnx domain is)");
        var opset = g.Opset;
        switch (n.OpType)
        {
            case "Relu" or "Sigmoid" or "Tanh" or "LeakyRelu" or "HardSigmoid" or "HardSwish" or "Softmax" or "LogSoftmax" or "Identity"
                or "Clip" or "Abs" or "Neg" or "Exp" or "Log" or "Sqrt" or "Reciprocal" or "Erf" or "Elu" or "Selu" or "Softplus" or "Softsign"
                or "Gelu" or "Mish" or "Floor" or "Ceil" or "Round" or "Sign" or "Sin" or "Cos" or "LRN" or "InstanceNormalization" or "Celu"
                or "ThresholdedRelu" or "Shrink" or "BatchNormalization" or "Not" or "CumSum":
                return One(Ty(n, 0), S(n, 0));
            case "Dropout":
                return [new(Ty(n, 0), S(n, 0)), new(TensorElementType.Bool, S(n, 0))];
            case "LayerNormalization":
            {
                var x = S(n, 0);
                var axis = Norm(n.GetInt("axis", -1), x.Length, n);
                var stat = x.Select((d, i) => i < axis ? d : 1L).ToArray();
                return [new(Ty(n, 0), x), new(TensorElementType.Float, stat), new(TensorElementType.Float, stat)];
            }
            case "Cast":
                return One((TensorElementType)n.GetInt("to", 1), S(n, 0));
            case "CastLike":
                return One(Ty(n, 1), S(n, 0));
            case "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Max" or "Min" or "Sum" or "Mean" or "Mod" or "PRelu" or "BitShift":
                return One(Ty(n, 0), Broadcast(Enumerable.Range(0, n.Inputs.Count).Select(i => S(n, i))));
            case "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or" or "Xor":
                return One(TensorElementType.Bool, Broadcast([S(n, 0), S(n, 1)]));
            case "Where":
                return One(Ty(n, 1), Broadcast([S(n, 0), S(n, 1), S(n, 2)]));
            case "Conv":
                return One(Ty(n, 0), ConvShape(n, S(n, 0), S(n, 1)));
            case "MaxPool" or "AveragePool" or "LpPool":
            {
                var x = S(n, 0);
                var kernel = n.GetInts("kernel_shape") ?? throw new Unknown("kernel_shape is missing");
                var y = PoolShape(n, x, kernel, x[1]);
                return [new(Ty(n, 0), y), new(TensorElementType.Int64, y)];
            }
            case "GlobalAveragePool" or "GlobalMaxPool" or "GlobalLpPool":
            {
                var x = S(n, 0);
                return One(Ty(n, 0), x.Select((d, i) => i < 2 ? d : 1L).ToArray());
            }
            case "Gemm":
            {
                var a = S(n, 0);
                var b = S(n, 1);
                if (a.Length != 2 || b.Length != 2) throw new Unknown("Gemm needs 2-D inputs");
                var m = n.GetInt("transA", 0) != 0 ? a[1] : a[0];
                var ka = n.GetInt("transA", 0) != 0 ? a[0] : a[1];
                var kb = n.GetInt("transB", 0) != 0 ? b[1] : b[0];
                var nn = n.GetInt("transB", 0) != 0 ? b[0] : b[1];
                if (ka != kb) throw new Unknown($"Gemm inner dimensions {ka} and {kb} differ");
                return One(Ty(n, 0), [m, nn]);
            }
            case "MatMul":
                return One(Ty(n, 0), MatMulShape(S(n, 0), S(n, 1)));
            case "Concat":
            {
                var shapes = Enumerable.Range(0, n.Inputs.Count).Where(i => n.InputAt(i) is not null).Select(i => S(n, i)).ToList();
                var rank = shapes[0].Length;
                var axis = Norm(n.GetInt("axis", 0), rank, n);
                var y = shapes[0].ToArray();
                y[axis] = shapes.Sum(s => s.Length == rank ? s[axis] : throw new Unknown("Concat inputs differ in rank"));
                return One(Ty(n, 0), y);
            }
            case "Flatten":
            {
                var x = S(n, 0);
                var axis = n.GetInt("axis", 1);
                if (axis < 0) axis += x.Length;
                return One(Ty(n, 0), [x.Take((int)axis).Aggregate(1L, (p, d) => p * d), x.Skip((int)axis).Aggregate(1L, (p, d) => p * d)]);
            }
            case "Reshape":
                return One(Ty(n, 0), ReshapeShape(S(n, 0), ConstInts(n, 1) ?? n.GetInts("shape") ?? throw new Unknown("Reshape has no shape"),
                    n.GetInt("allowzero", 0) != 0));
            case "Transpose":
            {
                var x = S(n, 0);
                var perm = n.GetInts("perm") ?? Enumerable.Range(0, x.Length).Reverse().Select(i => (long)i).ToArray();
                return One(Ty(n, 0), perm.Select(p => x[p]).ToArray());
            }
            case "Squeeze":
            {
                var x = S(n, 0);
                var axes = (n.InputAt(1) is not null ? ConstInts(n, 1) : n.GetInts("axes"))?.Select(a => Norm(a, x.Length, n)).ToHashSet();
                return One(Ty(n, 0), x.Where((d, i) => axes is null ? d != 1 : !axes.Contains(i)).ToArray());
            }
            case "Unsqueeze":
            {
                var x = S(n, 0);
                var axesRaw = (n.InputAt(1) is not null ? ConstInts(n, 1) : n.GetInts("axes")) ?? throw new Unknown("Unsqueeze has no axes");
                var rank = x.Length + axesRaw.Length;
                var axes = axesRaw.Select(a => Norm(a, rank, n)).ToHashSet();
                var y = new long[rank];
                for (int i = 0, k = 0; i < rank; i++) y[i] = axes.Contains(i) ? 1 : x[k++];
                return One(Ty(n, 0), y);
            }
            case "ReduceMean" or "ReduceSum" or "ReduceMax" or "ReduceMin" or "ReduceProd" or "ReduceL1" or "ReduceL2" or "ReduceLogSum"
                or "ReduceLogSumExp" or "ReduceSumSquare":
            {
                var x = S(n, 0);
                var axes = n.InputAt(1) is not null ? ConstInts(n, 1) : n.GetInts("axes");
                if (axes is null or { Length: 0 })
                {
                    if (n.GetInt("noop_with_empty_axes", 0) != 0) return One(Ty(n, 0), x);
                    axes = Enumerable.Range(0, x.Length).Select(i => (long)i).ToArray();
                }
                var set = axes.Select(a => Norm(a, x.Length, n)).ToHashSet();
                var keep = n.GetInt("keepdims", 1) != 0;
                return One(Ty(n, 0), x.Select((d, i) => (d, i)).Where(p => keep || !set.Contains(p.i)).Select(p => set.Contains(p.i) ? 1L : p.d).ToArray());
            }
            case "ArgMax" or "ArgMin":
            {
                var x = S(n, 0);
                var axis = Norm(n.GetInt("axis", 0), x.Length, n);
                var keep = n.GetInt("keepdims", 1) != 0;
                return One(TensorElementType.Int64, x.Select((d, i) => (d, i)).Where(p => keep || p.i != axis).Select(p => p.i == axis ? 1L : p.d).ToArray());
            }
            case "Pad":
            {
                var x = S(n, 0);
                var pads = (opset >= 11 ? ConstInts(n, 1) : n.GetInts("pads")) ?? throw new Unknown("Pad has no pads");
                var axes = (opset >= 18 ? ConstInts(n, 3) : null)?.Select(a => Norm(a, x.Length, n)).ToArray()
                    ?? Enumerable.Range(0, x.Length).Select(i => (long)i).ToArray();
                if (pads.Length != 2 * axes.Length) throw new Unknown($"Pad has {pads.Length} pads for {axes.Length} axes");
                var y = x.ToArray();
                for (var i = 0; i < axes.Length; i++) y[axes[i]] += pads[i] + pads[i + axes.Length];
                return One(Ty(n, 0), y);
            }
            case "Shape":
            {
                var rank = S(n, 0).Length;
                var (start, end) = ShapeRange(n, rank);
                return One(TensorElementType.Int64, [Math.Max(0, end - start)]);
            }
            case "Size":
                _ = S(n, 0);
                return One(TensorElementType.Int64, []);
            case "ConstantOfShape":
            {
                var shape = ConstInts(n, 0) ?? throw new Unknown("ConstantOfShape has no shape");
                return One(n.GetTensor("value")?.ElementType ?? TensorElementType.Float, shape);
            }
            case "Gather":
            {
                var x = S(n, 0);
                var idx = S(n, 1);
                var axis = Norm(n.GetInt("axis", 0), x.Length, n);
                return One(Ty(n, 0), [.. x.Take((int)axis), .. idx, .. x.Skip((int)axis + 1)]);
            }
            case "GatherElements":
                return One(Ty(n, 0), S(n, 1));
            case "Slice":
                return One(Ty(n, 0), SliceShape(n, S(n, 0)));
            case "Split":
                return SplitShapes(n, S(n, 0), Ty(n, 0));
            case "Expand":
                return One(Ty(n, 0), Broadcast([S(n, 0), ConstInts(n, 1) ?? throw new Unknown("Expand has no shape")]));
            case "Tile":
            {
                var x = S(n, 0);
                var reps = ConstInts(n, 1) ?? throw new Unknown("Tile has no repeats");
                return One(Ty(n, 0), x.Select((d, i) => d * reps[i]).ToArray());
            }
            case "Range":
            {
                var start = ConstScalar(n, 0);
                var limit = ConstScalar(n, 1);
                var delta = ConstScalar(n, 2);
                return One(Ty(n, 0), [(long)Math.Max(Math.Ceiling((limit - start) / delta), 0)]);
            }
            case "DepthToSpace" or "SpaceToDepth":
            {
                var x = S(n, 0);
                var b = n.GetInt("blocksize", 1);
                return One(Ty(n, 0), n.OpType == "DepthToSpace" ? [x[0], x[1] / (b * b), x[2] * b, x[3] * b] : [x[0], x[1] * b * b, x[2] / b, x[3] / b]);
            }
            default:
                throw new Unknown(Refused.TryGetValue(n.OpType, out var why) ? why : $"operator {n.OpType} is not supported by preparation");
        }
    }

    private double ConstScalar(OnnxNode n, int i)
    {
        var name = n.InputAt(i) ?? throw new Unknown($"input {i} is missing");
        return g.Constants.TryGetValue(name, out var t) ? Tx.Doubles(t)[0] : throw new Unknown($"input '{name}' must be a constant");
    }

    public static (long Start, long End) ShapeRange(OnnxNode n, long rank)
    {
        long Clamp(long v) => Math.Clamp(v < 0 ? v + rank : v, 0, rank);
        return (Clamp(n.GetInt("start", 0)), n.Find("end") is { } e ? Clamp(e.AsInt()) : rank);
    }

    private long[] ConvShape(OnnxNode n, long[] x, long[] w)
    {
        if (x.Length < 3 || w.Length != x.Length) throw new Unknown($"Conv input rank {x.Length} and weight rank {w.Length} do not fit");
        var group = n.GetInt("group", 1);
        if (x[1] != w[1] * group) throw new Unknown($"Conv input has {x[1]} channels but the weight expects {w[1]}×{group} groups");
        var kernel = n.GetInts("kernel_shape") ?? w[2..];
        var y = PoolShape(n, x, kernel, w[0]);
        return y;
    }

    private static long[] PoolShape(OnnxNode n, long[] x, long[] kernel, long channels)
    {
        var sp = x.Length - 2;
        if (kernel.Length != sp) throw new Unknown($"kernel_shape has {kernel.Length} dims for {sp} spatial dims");
        var strides = n.GetInts("strides") ?? Enumerable.Repeat(1L, sp).ToArray();
        var dil = n.GetInts("dilations") ?? Enumerable.Repeat(1L, sp).ToArray();
        var pads = n.GetInts("pads") ?? new long[2 * sp];
        var autoPad = n.GetString("auto_pad") ?? "NOTSET";
        var ceil = n.GetInt("ceil_mode", 0) != 0;
        var y = new long[x.Length];
        y[0] = x[0];
        y[1] = channels;
        for (var i = 0; i < sp; i++)
        {
            var input = x[i + 2];
            var eff = dil[i] * (kernel[i] - 1) + 1;
            long o;
            switch (autoPad)
            {
                case "SAME_UPPER" or "SAME_LOWER": o = (input + strides[i] - 1) / strides[i]; break;
                case "VALID": o = (input - eff) / strides[i] + 1; break;
                case "NOTSET" or "":
                    var span = input + pads[i] + pads[i + sp] - eff;
                    if (span < 0) throw new Unknown($"kernel {kernel[i]} is larger than the padded input {input + pads[i] + pads[i + sp]}");
                    o = ceil ? (span + strides[i] - 1) / strides[i] + 1 : span / strides[i] + 1;
                    // A window that would start in the end padding is dropped (PyTorch and ONNX Runtime agree).
                    if (ceil && (o - 1) * strides[i] >= input + pads[i]) o--;
                    break;
                default: throw new Unknown($"auto_pad '{autoPad}' is not known");
            }
            if (o <= 0) throw new Unknown($"spatial dimension {i} would be {o}");
            y[i + 2] = o;
        }
        return y;
    }

    private static long[] MatMulShape(long[] a, long[] b)
    {
        var a2 = a.Length == 1 ? [1, a[0]] : a;
        var b2 = b.Length == 1 ? [b[0], 1] : b;
        if (a2[^1] != b2[^2]) throw new Unknown($"MatMul inner dimensions {a2[^1]} and {b2[^2]} differ");
        var batch = Broadcast([a2[..^2], b2[..^2]]);
        var y = new List<long>(batch);
        if (a.Length != 1) y.Add(a2[^2]);
        if (b.Length != 1) y.Add(b2[^1]);
        return y.ToArray();
    }

    public static long[] ReshapeShape(long[] x, long[] shape, bool allowZero)
    {
        var total = x.Aggregate(1L, (p, d) => p * d);
        var y = new long[shape.Length];
        var infer = -1;
        for (var i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new Unknown("Reshape has more than one -1");
                infer = i;
                y[i] = 1;
            }
            else if (shape[i] == 0 && !allowZero)
                y[i] = i < x.Length ? x[i] : throw new Unknown("Reshape copies a dimension the input does not have");
            else y[i] = shape[i];
        }
        var known = y.Aggregate(1L, (p, d) => p * d);
        if (infer >= 0)
        {
            if (known == 0 || total % known != 0) throw new Unknown($"Reshape of {total} elements to [{string.Join(",", shape)}] does not fit");
            y[infer] = total / known;
        }
        else if (known != total) throw new Unknown($"Reshape of {total} elements to [{string.Join(",", shape)}] does not fit");
        return y;
    }

    private long[] SliceShape(OnnxNode n, long[] x)
    {
        long[] starts, ends;
        long[]? axes, steps;
        if (g.Opset >= 10)
        {
            starts = ConstInts(n, 1) ?? throw new Unknown("Slice has no starts");
            ends = ConstInts(n, 2) ?? throw new Unknown("Slice has no ends");
            axes = ConstInts(n, 3);
            steps = ConstInts(n, 4);
        }
        else
        {
            starts = n.GetInts("starts") ?? throw new Unknown("Slice has no starts");
            ends = n.GetInts("ends") ?? throw new Unknown("Slice has no ends");
            axes = n.GetInts("axes");
            steps = null;
        }
        var y = x.ToArray();
        for (var i = 0; i < starts.Length; i++)
        {
            var axis = Norm(axes?[i] ?? i, x.Length, n);
            var step = steps?[i] ?? 1;
            if (step == 0) throw new Unknown("Slice step is 0");
            var dim = x[axis];
            var s = starts[i] < 0 ? starts[i] + dim : starts[i];
            var e = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0)
            {
                s = Math.Clamp(s, 0, dim);
                e = Math.Clamp(e, 0, dim);
                y[axis] = Math.Max(0, (e - s + step - 1) / step);
            }
            else
            {
                s = Math.Clamp(s, 0, dim - 1);
                e = Math.Clamp(e, -1, dim - 1);
                y[axis] = Math.Max(0, (s - e + (-step) - 1) / -step);
            }
        }
        return y;
    }

    private TypeShape[] SplitShapes(OnnxNode n, long[] x, TensorElementType type)
    {
        var axis = Norm(n.GetInt("axis", 0), x.Length, n);
        var count = n.Outputs.Count;
        var split = (n.InputAt(1) is not null ? ConstInts(n, 1) : n.GetInts("split"));
        if (split is null)
        {
            var chunk = (x[axis] + count - 1) / count;
            split = Enumerable.Range(0, count).Select(i => Math.Min(chunk, x[axis] - chunk * i)).ToArray();
        }
        if (split.Length != count || split.Sum() != x[axis]) throw new Unknown("Split sizes do not add up to the axis");
        return split.Select(s => new TypeShape(type, x.Select((d, i) => i == axis ? s : d).ToArray())).ToArray();
    }
}
