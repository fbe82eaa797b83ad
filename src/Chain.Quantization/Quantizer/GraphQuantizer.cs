using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Quantization.Calibration;

namespace Chain.Quantization.Quantizer;

/// <summary>What `chain model quantize` asks of the quantizer.</summary>
public sealed record QuantizerOptions
{
    /// <summary>Weights get one scale per output channel (default); false: one per tensor.</summary>
    public bool PerChannel { get; init; } = true;
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;
    /// <summary>The percentile of <see cref="CalibrationMethod.Percentile"/> (99.99 keeps all but the top and bottom 0.01%).</summary>
    public double Percentile { get; init; } = 99.99;
    /// <summary>
    /// Empirical bias correction (docs/quantization.md, "Bias correction"): each QLinearConv's int32 bias absorbs the mean
    /// per-channel error of its output on the calibration inputs, layer by layer (`--bias-correction on|off`).
    /// </summary>
    public bool BiasCorrection { get; init; } = true;
}

/// <summary>
/// One QLinearConv of the int8 graph, for bias correction: its int8 output, the float tensor of the same values before
/// any fused activation, its bias initializer (int32, <c>x_scale·w_scale[oc]</c> units), the output's channels
/// (<c>channel = (flat index / Inner) % Channels</c>) and admission's bound on |bias|.
/// </summary>
public sealed record ConvLayer(string Node, string Output, string FloatTensor, string BiasInit, int Channels, int Inner,
    float XScale, float[] WScales, QTensor Y, long Budget, int[] Bias);

/// <summary>One node of the float model and what it became, for the report.</summary>
public sealed record Conversion(string Node, string OpType, string Into, string Detail = "")
{
    public override string ToString() => $"{OpType} {Node} → {Into}{(Detail.Length > 0 ? $", {Detail}" : "")}";
}

/// <summary>A quantized tensor of the int8 graph: its name there and <c>real = (q − Zp)·Scale</c>.</summary>
public readonly record struct QTensor(string Name, float Scale, int Zp, float Lo, float Hi);

/// <summary>
/// Rewrites a prepared float graph into the admitted int8 operator set (docs/quantization.md, "Scheme"):
/// int8 activations, asymmetric per tensor; int8 weights, symmetric (zero point 0, values in [−127, 127]) per
/// output channel; int32 biases at <c>x_scale·w_scale[oc]</c>. Every int8 tensor keeps the name of the float
/// tensor it stands for, so the report can compare them layer by layer.
/// </summary>
public sealed class GraphQuantizer
{
    public const long Opset = 13;
    public const string MsDomain = "com.microsoft";

    private readonly OnnxModel _model;
    private readonly OnnxGraph _g;
    private readonly IReadOnlyDictionary<string, QuantParams> _pinned;
    private readonly Calibrator _cal;
    private readonly QuantizerOptions _o;
    private readonly Dictionary<string, Tensor> _inits;
    private readonly HashSet<string> _dyn = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphOutputs;
    private readonly HashSet<OnnxNode> _handled = new(ReferenceEqualityComparer.Instance);

    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensor> _newInits = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QTensor> _q = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _casts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _postprocess = new(StringComparer.Ordinal);
    private bool _usesMs;

    public GraphQuantizer(PreparedGraph prepared, Calibrator calibration, QuantizerOptions options)
    {
        _model = prepared.Model;
        _g = _model.Graph;
        _pinned = prepared.Pinned;
        _cal = calibration;
        _o = options;
        _inits = _g.Initializers.ToDictionary(t => t.Name, t => t.Value, StringComparer.Ordinal);
        _graphOutputs = _g.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var v in _g.Inputs.Where(v => !_inits.ContainsKey(v.Name))) _dyn.Add(v.Name);
        foreach (var n in _g.Nodes)
        {
            foreach (var i in n.Inputs.Where(i => i.Length > 0))
                (_consumers.TryGetValue(i, out var l) ? l : _consumers[i] = []).Add(n);
            if (n.OpType is "Shape" or "Size") continue;
            if (n.Inputs.Any(_dyn.Contains)) foreach (var o in n.Outputs.Where(o => o.Length > 0)) _dyn.Add(o);
        }
    }

    public List<Conversion> Conversions { get; } = [];

    /// <summary>Every QLinearConv emitted, in graph order.</summary>
    public List<ConvLayer> ConvLayers { get; } = [];

    /// <summary>Float tensor name → its int8 counterpart (fused tensors, which exist only in float, are absent).</summary>
    public IReadOnlyDictionary<string, QTensor> Tensors => _q;

    public QuantizationMetadata? Metadata { get; private set; }

    /// <summary>The int8 model.</summary>
    public OnnxModel Quantize()
    {
        var inputs = new List<OnnxValueInfo>();
        foreach (var v in _g.Inputs.Where(v => _dyn.Contains(v.Name)))
        {
            var q = Params(v.Name, v.Name);
            _q[v.Name] = q;
            _names.Add(v.Name);
            inputs.Add(new OnnxValueInfo(v.Name, (int)TensorElementType.Int8, Dims(Shape(v.Name))));
        }
        foreach (var n in _g.Nodes)
        {
            if (_handled.Contains(n)) continue;
            if (!n.Outputs.Any(_dyn.Contains)) continue; // shape arithmetic: constant, read from calibration where used
            if (n.Domain is not ("" or "ai.onnx")) throw Refuse(n, $"domain '{n.Domain}' is not ai.onnx");
            Convert(n);
        }
        var outputs = new List<OnnxValueInfo>();
        var outInfos = new List<QuantizedTensorInfo>();
        foreach (var o in _g.Outputs)
        {
            if (_postprocess.TryGetValue(o.Name, out var logits))
            {
                var q = _q[logits];
                outputs.Add(new OnnxValueInfo(q.Name, (int)TensorElementType.Int8, Dims(Shape(logits))));
                outInfos.Add(new QuantizedTensorInfo(q.Name, TensorElementType.Int8, q.Scale, q.Zp, q.Lo, q.Hi,
                    _g.Nodes.First(n => n.Outputs.Contains(o.Name)).OpType == "Softmax" ? "softmax" : "log-softmax"));
                continue;
            }
            if (_argMax.Contains(o.Name))
            {
                outputs.Add(new OnnxValueInfo(o.Name, (int)TensorElementType.Int64, Dims(Shape(o.Name))));
                continue;
            }
            if (!_q.TryGetValue(o.Name, out var t)) throw new QuantizationException($"output '{o.Name}'", "is not computed from the graph input's data");
            if (t.Name != o.Name)
            {
                _nodes.Add(new OnnxNode($"{o.Name}.identity", "Identity", "", [t.Name], [o.Name], []));
                t = t with { Name = o.Name };
                _q[o.Name] = t;
            }
            outputs.Add(new OnnxValueInfo(o.Name, (int)TensorElementType.Int8, Dims(Shape(o.Name))));
            outInfos.Add(new QuantizedTensorInfo(o.Name, TensorElementType.Int8, t.Scale, t.Zp, t.Lo, t.Hi));
        }
        var inInfos = inputs.Select(i => { var q = _q[i.Name]; return new QuantizedTensorInfo(i.Name, TensorElementType.Int8, q.Scale, q.Zp, q.Lo, q.Hi); }).ToList();
        var labels = _model.Metadata(QuantizationMetadata.LabelsKey)?.Split('\n');
        Metadata = new QuantizationMetadata(inInfos, outInfos, labels);
        Prune(outputs.Select(o => o.Name));
        var graph = new OnnxGraph(_g.Name.Length > 0 ? _g.Name : "quantized", _nodes, _newInits, inputs, outputs, []);
        OpsetImport[] opsets = _usesMs ? [new("", Opset), new(MsDomain, 1)] : [new("", Opset)];
        return new OnnxModel(8, opsets, graph, "chain-quantize", "1", Metadata.ToProps());
    }

    private readonly HashSet<string> _argMax = new(StringComparer.Ordinal);

    /// <summary>Drops nodes nothing reads (tables composed into later ones) and the initializers only they read.</summary>
    private void Prune(IEnumerable<string> outputs)
    {
        var needed = outputs.ToHashSet(StringComparer.Ordinal);
        var keep = new bool[_nodes.Count];
        for (var i = _nodes.Count - 1; i >= 0; i--)
        {
            if (!_nodes[i].Outputs.Any(needed.Contains)) continue;
            keep[i] = true;
            foreach (var x in _nodes[i].Inputs) needed.Add(x);
        }
        var kept = _nodes.Where((_, i) => keep[i]).ToList();
        _nodes.Clear();
        _nodes.AddRange(kept);
        _newInits.RemoveAll(t => !needed.Contains(t.Name));
    }

    // ---------------------------------------------------------------- node conversions

    private void Convert(OnnxNode n)
    {
        switch (n.OpType)
        {
            case "Conv": ConvertConv(n); break;
            case "Gemm": ConvertGemm(n); break;
            case "MatMul": ConvertMatMul(n); break;
            case "Relu": ConvertClip(n, 0, float.PositiveInfinity, "Relu"); break;
            case "Clip": { var (lo, hi) = ClipBounds(n); ConvertClip(n, lo, hi, $"Clip[{lo},{hi}]"); break; }
            case "PRelu": ConvertPRelu(n); break;
            case "BatchNormalization": ConvertBatchNorm(n); break;
            case "Add" or "Sub" or "Mul" or "Div" or "Max" or "Min" or "Pow": ConvertBinary(n); break;
            case "Concat": ConvertConcat(n); break;
            case "MaxPool":
                if (n.Outputs.Count > 1 && n.Outputs[1].Length > 0) throw Refuse(n, "the Indices output is not supported");
                Passthrough(n, "MaxPool", n.Attributes.Where(a => a.Name != "storage_order" || a.I != 0).ToList());
                break;
            case "AveragePool": ConvertAveragePool(n); break;
            case "GlobalAveragePool": ConvertGlobalAveragePool(n, n.Inputs[0], n.Outputs[0]); break;
            case "ReduceMean": ConvertReduceMean(n); break;
            case "Flatten": Passthrough(n, "Flatten", n.Attributes); break;
            case "Transpose": Passthrough(n, "Transpose", n.Attributes); break;
            case "Reshape" or "Squeeze" or "Unsqueeze": ConvertReshape(n); break;
            case "Identity" or "Dropout":
                if (n.Outputs.Count > 1 && n.Outputs[1].Length > 0 && _consumers.ContainsKey(n.Outputs[1])) throw Refuse(n, "the mask output is used");
                _q[n.Outputs[0]] = Need(n, n.Inputs[0]);
                Conversions.Add(new Conversion(n.DisplayName, n.OpType, "removed (alias)"));
                break;
            case "Softmax" or "LogSoftmax": ConvertSoftmax(n); break;
            case "ArgMax":
                Emit(n.DisplayName, "ArgMax", [Need(n, n.Inputs[0]).Name], n.Outputs[0], n.Attributes);
                _argMax.Add(n.Outputs[0]);
                Conversions.Add(new Conversion(n.DisplayName, "ArgMax", "ArgMax on int8", "order is kept by a positive scale"));
                break;
            default:
                if (Lut.Function(n.OpType, (name, d) => n.Find(name) is { } a ? a.AsFloat() : d) is { } f)
                {
                    ConvertLut(n, n.Inputs[0], f, n.OpType);
                    break;
                }
                throw Refuse(n, n.OpType == "BatchNormalization" ? "BatchNormalization must be folded by preparation"
                    : $"{n.OpType} has no int8 form in the admitted operator set");
        }
    }

    private void ConvertConv(OnnxNode n)
    {
        var x = Need(n, n.Inputs[0]);
        var w = Const(n.InputAt(1)) ?? throw Refuse(n, "the weights must be a constant initializer");
        var b = n.InputAt(2) is { } bn ? Const(bn) ?? throw Refuse(n, "the bias must be a constant initializer") : null;
        var m = w.Shape[0];
        var weights = Floats(w);
        var bias = b is null ? new float[m] : Floats(b);
        var (outName, fused) = FuseActivation(n.Outputs[0]);
        var y = Params(outName, outName);
        var attrs = n.Attributes.ToList();
        if (n.Find("kernel_shape") is null) attrs.Add(OnnxAttribute.Of("kernel_shape", w.Shape[2..].ToArray().Select(d => (long)d).ToArray()));
        var group = n.GetInt("group", 1);
        var detail = QLinearConv(n, x, n.InputAt(1)!, weights, w.Shape.ToArray(), bias, y, attrs, n.Outputs[0], Shape(n.Outputs[0])[2..].Aggregate(1, (a, d) => a * d));
        _q[outName] = y;
        var kind = group == 1 ? "" : group == w.Shape[0] && w.Shape[1] == 1 ? "depthwise, " : $"group {group}, ";
        Conversions.Add(new Conversion(n.DisplayName, "Conv", "QLinearConv", kind + detail + (fused is null ? "" : $", fused {fused}")));
    }

    private void ConvertGemm(OnnxNode n)
    {
        if (n.GetInt("transA", 0) != 0) throw Refuse(n, "transA=1 is not supported (the activation must be [N, K])");
        var b = Const(n.InputAt(1)) ?? throw Refuse(n, "B must be a constant initializer (weights)");
        if (b.Rank != 2) throw Refuse(n, $"B is {b.ShapeText}, not 2-D");
        var transB = n.GetInt("transB", 0) != 0;
        float alpha = n.GetFloat("alpha", 1), beta = n.GetFloat("beta", 1);
        int k = transB ? b.Shape[1] : b.Shape[0], m = transB ? b.Shape[0] : b.Shape[1];
        var bv = Floats(b);
        var w = new float[m * k];
        for (var o = 0; o < m; o++)
            for (var i = 0; i < k; i++) w[o * k + i] = alpha * (transB ? bv[o * k + i] : bv[i * m + o]);
        var bias = new float[m];
        if (n.InputAt(2) is { } cn)
        {
            var c = Const(cn) ?? throw Refuse(n, "C must be a constant initializer (bias)");
            var cv = Floats(c);
            if (cv.Length != 1 && cv.Length != m) throw Refuse(n, $"C is {c.ShapeText}; only a bias of one value or of N = {m} is supported");
            for (var o = 0; o < m; o++) bias[o] = beta * cv[cv.Length == 1 ? 0 : o];
        }
        FullyConnected(n, "Gemm", n.Inputs[0], w, m, k, bias, n.Outputs[0], "");
    }

    private void ConvertMatMul(OnnxNode n)
    {
        var b = Const(n.InputAt(1));
        if (b is null)
        {
            // Two activations: s8 × s8 QLinearMatMul (no int16 saturation hazard, so no constant operand is needed).
            var a = Need(n, n.Inputs[0]);
            var bq = Need(n, n.Inputs[1]);
            var (outName, fused) = FuseActivation(n.Outputs[0]);
            var y = Params(outName, outName);
            var k = Shape(n.Inputs[0])[^1];
            if ((long)k * 255 * 255 > int.MaxValue) throw Refuse(n, $"K = {k} could overflow the int32 accumulator");
            Emit(n.DisplayName, "QLinearMatMul", [a.Name, F($"{outName}.a_scale", a.Scale), Z($"{outName}.a_zp", a.Zp),
                bq.Name, F($"{outName}.b_scale", bq.Scale), Z($"{outName}.b_zp", bq.Zp), F($"{outName}.y_scale", y.Scale), Z($"{outName}.y_zp", y.Zp)], outName, []);
            _q[outName] = y;
            Conversions.Add(new Conversion(n.DisplayName, "MatMul", "QLinearMatMul", "two activations, per-tensor" + (fused is null ? "" : $", fused {fused}")));
            return;
        }
        if (b.Rank != 2) throw Refuse(n, $"the constant B is {b.ShapeText}; only 2-D weights are supported");
        int kk = b.Shape[0], m = b.Shape[1];
        var bv = Floats(b);
        var w = new float[m * kk];
        for (var o = 0; o < m; o++)
            for (var i = 0; i < kk; i++) w[o * kk + i] = bv[i * m + o];
        var bias = new float[m];
        var output = n.Outputs[0];
        var note = "";
        // MatMul + Add(constant bias along the last axis): the bias goes into the convolution's int32 bias.
        if (!_graphOutputs.Contains(output) && _consumers.TryGetValue(output, out var cs) && cs.Count == 1 && cs[0].OpType == "Add")
        {
            var add = cs[0];
            var other = add.Inputs[0] == output ? add.Inputs[1] : add.Inputs[0];
            if (Const(other) is { } c && c.ElementCount == m && (c.Rank == 0 || c.Shape[^1] == m))
            {
                var cv = Floats(c);
                for (var o = 0; o < m; o++) bias[o] = cv[o];
                _handled.Add(add);
                output = add.Outputs[0];
                note = $"bias from Add {add.DisplayName}";
            }
        }
        FullyConnected(n, "MatMul", n.Inputs[0], w, m, kk, bias, output, note);
    }

    /// <summary>A [.., K] × [K, M] product with bias as Reshape → 1×1 QLinearConv (per-channel weights, int32 bias) → Reshape.</summary>
    private void FullyConnected(OnnxNode n, string op, string input, float[] w, int m, int k, float[] bias, string output, string note)
    {
        var x = Need(n, input);
        var shape = Shape(input);
        if (shape[^1] != k) throw Refuse(n, $"the activation is [{string.Join(",", shape)}] but the weights take K = {k}");
        var rows = shape[..^1].Aggregate(1, (a, d) => a * d);
        var (outName, fused) = FuseActivation(output);
        var y = Params(outName, outName);
        var in4 = Unique($"{outName}.in4d");
        Emit($"{n.DisplayName}.reshape_in", "Reshape", [x.Name, I64($"{in4}.shape", [rows, k, 1, 1])], in4, []);
        var out4 = Unique($"{outName}.out4d");
        var detail = QLinearConv(n, x with { Name = in4 }, input, w, [m, k, 1, 1], bias, y with { Name = out4 },
            [OnnxAttribute.Of("kernel_shape", new long[] { 1, 1 })], output, 1);
        var outShape = Shape(outName);
        Emit($"{n.DisplayName}.reshape_out", "Reshape", [out4, I64($"{out4}.shape", outShape.Select(d => (long)d).ToArray())], outName, []);
        _q[outName] = y;
        var parts = new[] { "as a 1×1 convolution", detail, note, fused is null ? "" : $"fused {fused}" }.Where(p => p.Length > 0);
        Conversions.Add(new Conversion(n.DisplayName, op, "QLinearConv", string.Join(", ", parts)));
    }

    /// <summary>Emits one QLinearConv: weights [M, …] quantized symmetric per output channel (or per tensor), bias int32.</summary>
    private string QLinearConv(OnnxNode n, QTensor x, string weightName, float[] w, int[] wShape, float[] bias, QTensor y, List<OnnxAttribute> attrs, string floatPre, int inner)
    {
        var m = wShape[0];
        var k = w.Length / m;
        float[] scales;
        int[] zps;
        if (_pinned.TryGetValue(weightName, out var pin) && pin.Scales.Length is var c && (c == 1 || c == m))
        {
            scales = Enumerable.Range(0, m).Select(o => pin.Scales[c == 1 ? 0 : o]).ToArray();
            var shift = pin.Type == TensorElementType.UInt8 ? 128 : 0;
            zps = Enumerable.Range(0, m).Select(o => pin.ZeroPoints[c == 1 ? 0 : o] - shift).ToArray();
        }
        else
        {
            var perTensor = MaxAbs(w, 0, w.Length);
            scales = Enumerable.Range(0, m).Select(o => WeightScale(_o.PerChannel ? MaxAbs(w, o * k, k) : perTensor)).ToArray();
            zps = new int[m];
        }
        var q = new sbyte[w.Length];
        var qb = new int[m];
        long maxW = 0, maxB = 0;
        for (var o = 0; o < m; o++)
        {
            for (var j = 0; j < k; j++)
            {
                var v = (int)Math.Clamp(Math.Round(w[o * k + j] / (double)scales[o], MidpointRounding.ToEven) + zps[o], zps[o] == 0 ? -127 : -128, 127);
                q[o * k + j] = (sbyte)v;
                maxW = Math.Max(maxW, Math.Abs(v - zps[o]));
            }
            var bs = (double)(x.Scale * scales[o]);
            qb[o] = (int)Math.Clamp(Math.Round(bias[o] / bs, MidpointRounding.ToEven), -int.MaxValue, int.MaxValue);
        }
        // Admission's int32 bound: K·max|x − x_zp|·max|w − w_zp| + max|bias| ≤ 2^31 − 1.
        var xSpan = Math.Max(127 - x.Zp, x.Zp + 128);
        var budget = int.MaxValue - (long)k * xSpan * Math.Max(maxW, 1);
        if (budget <= 0) throw Refuse(n, $"K = {k} int8 products could overflow the int32 accumulator");
        var clipped = 0;
        for (var o = 0; o < m; o++)
        {
            if (Math.Abs((long)qb[o]) > budget) { qb[o] = (int)Math.Clamp(qb[o], -budget, budget); clipped++; }
            maxB = Math.Max(maxB, Math.Abs((long)qb[o]));
        }
        var p = y.Name;
        var perChannel = scales.Distinct().Count() > 1 || zps.Distinct().Count() > 1 || (_o.PerChannel && m > 1);
        var wt = Tensor.Create<sbyte>(TensorElementType.Int8, wShape, q);
        var biasInit = Init($"{p}.bias", Tensor.Create<int>(TensorElementType.Int32, [m], qb));
        ConvLayers.Add(new ConvLayer(n.DisplayName, y.Name, floatPre, biasInit, m, inner, x.Scale, scales, y, budget, (int[])qb.Clone()));
        Emit(n.DisplayName, "QLinearConv",
        [
            x.Name, F($"{p}.x_scale", x.Scale), Z($"{p}.x_zp", x.Zp),
            Init($"{p}.w", wt),
            perChannel ? Init($"{p}.w_scale", Tensor.Create<float>(TensorElementType.Float, [m], scales)) : F($"{p}.w_scale", scales[0]),
            perChannel ? Init($"{p}.w_zp", Tensor.Create<sbyte>(TensorElementType.Int8, [m], zps.Select(z => (sbyte)z).ToArray())) : Z($"{p}.w_zp", zps[0]),
            F($"{p}.y_scale", y.Scale), Z($"{p}.y_zp", y.Zp),
            biasInit,
        ], y.Name, attrs);
        return (perChannel ? "per-channel" : "per-tensor") + (clipped > 0 ? $", {clipped} bias value(s) clipped to the int32 bound" : "");
    }

    private static float WeightScale(float maxAbs) => maxAbs > 0 && float.IsNormal(maxAbs / 127f) ? maxAbs / 127f : 1f;

    private static float MaxAbs(float[] v, int start, int count)
    {
        float m = 0;
        for (var i = start; i < start + count; i++) m = Math.Max(m, Math.Abs(v[i]));
        return m;
    }

    /// <summary>
    /// When <paramref name="tensor"/>'s only reader is a Relu, or a Clip whose range holds 0, the producer writes that
    /// activation's output directly: its int8 range starts at the quantized 0 (or the clip bounds), so requantization's
    /// saturation is the activation. Returns the tensor the producer writes and what was fused.
    /// </summary>
    private (string Output, string? Fused) FuseActivation(string tensor)
    {
        if (_graphOutputs.Contains(tensor) || !_consumers.TryGetValue(tensor, out var cs) || cs.Count != 1) return (tensor, null);
        var c = cs[0];
        if (c.OpType == "Relu")
        {
            _handled.Add(c);
            return (c.Outputs[0], "Relu");
        }
        if (c.OpType == "Clip")
        {
            var (lo, hi) = ClipBounds(c);
            if (lo <= 0 && hi >= 0)
            {
                _handled.Add(c);
                _clipRange[c.Outputs[0]] = (lo, hi);
                return (c.Outputs[0], lo == 0 && hi == 6 ? "ReLU6" : $"Clip[{lo},{hi}]");
            }
        }
        return (tensor, null);
    }

    private readonly Dictionary<string, (float Lo, float Hi)> _clipRange = new(StringComparer.Ordinal);

    private (float Lo, float Hi) ClipBounds(OnnxNode c)
    {
        float lo = float.NegativeInfinity, hi = float.PositiveInfinity;
        if (_model.DefaultOpset < 11)
        {
            lo = c.GetFloat("min", lo);
            hi = c.GetFloat("max", hi);
        }
        else
        {
            if (c.InputAt(1) is { } mn) lo = Floats(Const(mn) ?? throw Refuse(c, "min must be a constant"))[0];
            if (c.InputAt(2) is { } mx) hi = Floats(Const(mx) ?? throw Refuse(c, "max must be a constant"))[0];
        }
        return (lo, hi);
    }

    private void ConvertClip(OnnxNode n, float lo, float hi, string what)
    {
        if (_tableOf.ContainsKey(n.Inputs[0]))
        {
            ConvertLut(n, n.Inputs[0], v => Math.Max(lo, Math.Min(hi, v)), what);
            return;
        }
        var x = Need(n, n.Inputs[0]);
        int qlo = Math.Max(-128, (int)Math.Clamp(Math.Round(lo / (double)x.Scale, MidpointRounding.ToEven) + x.Zp, -128, 127));
        int qhi = Math.Min(127, (int)Math.Clamp(Math.Round(hi / (double)x.Scale, MidpointRounding.ToEven) + x.Zp, -128, 127));
        var y = x with { Name = n.Outputs[0] };
        Emit(n.DisplayName, "Clip", [x.Name, Z($"{y.Name}.min", qlo), Z($"{y.Name}.max", qhi)], y.Name, []);
        _q[y.Name] = y;
        Conversions.Add(new Conversion(n.DisplayName, n.OpType, "Clip on int8", $"{what} as [{qlo}, {qhi}] at the input's scale"));
    }

    private void ConvertLut(OnnxNode n, string input, Func<double, double> f, string what) =>
        ConvertTable(n, input, -1, 1, (_, v) => f(v), what);

    private void ConvertPerChannelLut(OnnxNode n, string input, int axis, int channels, Func<int, double, double> f, string what) =>
        ConvertTable(n, input, axis, channels, f, what);

    /// <summary>
    /// An int8 tensor that a table computes elementwise from another int8 tensor of the same shape:
    /// <c>y = F(c, x)</c> with c the index along <see cref="Axis"/> (−1: one function for every element).
    /// </summary>
    private sealed record TableOf(QTensor Source, int Axis, int Channels, Func<int, double, double> F);

    private readonly Dictionary<string, TableOf> _tableOf = new(StringComparer.Ordinal);

    /// <summary>
    /// What float tensor <paramref name="name"/> is as a function of an int8 tensor: the source of the table that
    /// computed it (so that a table read by a table, or an elementwise op of two tables of one tensor, becomes one
    /// table: no intermediate requantization), or the tensor itself with the identity.
    /// </summary>
    private TableOf Root(OnnxNode n, string name) =>
        _tableOf.TryGetValue(name, out var t) ? t : new TableOf(Need(n, name), -1, 1, static (_, v) => v);

    /// <summary>f applied to <paramref name="input"/>, composed with the table that computed it when there is one.</summary>
    private void ConvertTable(OnnxNode n, string input, int axis, int channels, Func<int, double, double> f, string what)
    {
        var r = Root(n, input);
        if (r.Axis >= 0 && axis >= 0 && r.Axis != axis) r = new TableOf(Need(n, input), -1, 1, static (_, v) => v);
        var composed = r.F;
        var composedNote = _tableOf.TryGetValue(input, out var before) && ReferenceEquals(before, r) ? ", composed with the table before it" : "";
        Func<int, double, double> g = composedNote.Length > 0 ? (c, v) => f(c, composed(c, v)) : f;
        var ax = axis >= 0 ? axis : r.Axis;
        var ch = axis >= 0 ? channels : r.Channels;
        var y = Params(n.Outputs[0], n.Outputs[0]);
        EmitTable(n.DisplayName, r.Source, ax, ch, g, y, Shape(n.Outputs[0]).Length);
        _tableOf[y.Name] = new TableOf(r.Source, ax, ch, g);
        Conversions.Add(ax < 0
            ? new Conversion(n.DisplayName, n.OpType, "Cast + Gather", $"256-entry table of {what}{composedNote}")
            : new Conversion(n.DisplayName, n.OpType, "Cast + Add + Clip + Gather", $"per-channel table ({ch}×256) of {what} along axis {ax}{composedNote}"));
    }

    /// <summary>
    /// Emits y = f(c, x) as a table: Cast + Gather on 256 entries (<paramref name="axis"/> −1), or per channel Cast, Add
    /// offsets c·256 + 128 shaped to broadcast along the axis, Clip to [0, C·256 − 1] (which proves the Gather indices to
    /// admission), Gather on a C·256 table.
    /// </summary>
    private void EmitTable(string node, QTensor x, int axis, int channels, Func<int, double, double> f, QTensor y, int rank)
    {
        if (axis < 0)
        {
            var table = Lut.Build(v => f(0, v), x.Scale, x.Zp, y.Scale, y.Zp);
            Emit(node, "Gather", [Init($"{y.Name}.table", Tensor.Create<sbyte>(TensorElementType.Int8, [256], table)), CastToInt32(x)], y.Name, [OnnxAttribute.Of("axis", 0L)]);
        }
        else
        {
            var table = Lut.BuildPerChannel(channels, f, x.Scale, x.Zp, y.Scale, y.Zp);
            var offShape = new int[rank - axis];
            offShape[0] = channels;
            for (var i = 1; i < offShape.Length; i++) offShape[i] = 1;
            var offsets = Enumerable.Range(0, channels).Select(c => c * 256 + 128).ToArray();
            var idx = Unique($"{y.Name}.idx");
            var clipped = Unique($"{y.Name}.idx_clip");
            Emit($"{node}.offset", "Add", [CastToInt32(x), Init($"{y.Name}.offsets", Tensor.Create<int>(TensorElementType.Int32, offShape, offsets))], idx, []);
            Emit($"{node}.range", "Clip", [idx, Init($"{y.Name}.lo", Tensor.Create<int>(TensorElementType.Int32, [], [0])),
                Init($"{y.Name}.hi", Tensor.Create<int>(TensorElementType.Int32, [], [channels * 256 - 1]))], clipped, []);
            Emit(node, "Gather", [Init($"{y.Name}.table", Tensor.Create<sbyte>(TensorElementType.Int8, [channels * 256], table)), clipped], y.Name,
                [OnnxAttribute.Of("axis", 0L)]);
        }
        _q[y.Name] = y;
    }

    /// <summary>A new int8 tensor <c>g(input)</c> over the float range [lo, hi] (a negation or reciprocal feeding a QLinearAdd/Mul), composed with the table that computed the input.</summary>
    private QTensor Derived(OnnxNode n, string input, Func<double, double> g, float lo, float hi, string suffix)
    {
        var r = Root(n, input);
        var (scale, zp) = FromRange(lo, hi);
        var y = new QTensor(Unique($"{input}.{suffix}"), scale, zp, Math.Min(lo, 0), Math.Max(hi, 0));
        _names.Remove(y.Name); // Emit registers it
        var f = r.F;
        EmitTable($"{n.DisplayName}.{suffix}", r.Source, r.Axis, r.Channels, (c, v) => g(f(c, v)), y, Shape(input).Length);
        return y;
    }

    private string CastToInt32(QTensor x)
    {
        if (_casts.TryGetValue(x.Name, out var c)) return c;
        c = Unique($"{x.Name}.i32");
        Emit($"{x.Name}.cast", "Cast", [x.Name], c, [OnnxAttribute.Of("to", (long)TensorElementType.Int32)]);
        return _casts[x.Name] = c;
    }

    /// <summary>The single axis of the input a constant varies along (its other dims 1), or null; -1 when it is one value.</summary>
    private int? ChannelAxis(Tensor c, int[] xShape)
    {
        if (c.ElementCount == 1) return -1;
        if (c.Rank > xShape.Length) return null;
        int? axis = null;
        for (var i = 0; i < c.Rank; i++)
        {
            var d = c.Shape[c.Rank - 1 - i];
            if (d == 1) continue;
            var xa = xShape.Length - 1 - i;
            if (axis is not null || d != xShape[xa]) return null;
            axis = xa;
        }
        return axis;
    }

    private void ConvertPRelu(OnnxNode n)
    {
        var slope = Const(n.InputAt(1)) ?? throw Refuse(n, "the slope must be a constant initializer");
        var s = Floats(slope);
        var shape = Shape(n.Inputs[0]);
        switch (ChannelAxis(slope, shape))
        {
            case -1: ConvertLut(n, n.Inputs[0], x => x >= 0 ? x : s[0] * x, "PRelu"); break;
            case int axis: ConvertPerChannelLut(n, n.Inputs[0], axis, shape[axis], (c, x) => x >= 0 ? x : s[c] * x, "PRelu"); break;
            default: throw Refuse(n, $"slope {slope.ShapeText} varies along more than one axis of the input [{string.Join(",", shape)}]");
        }
    }

    private void ConvertBatchNorm(OnnxNode n)
    {
        var p = Enumerable.Range(1, 4).Select(i => Const(n.InputAt(i)) is { } t ? Floats(t) : throw Refuse(n, "its parameters must be constants")).ToArray();
        var eps = n.GetFloat("epsilon", 1e-5f);
        var channels = Shape(n.Inputs[0])[1];
        ConvertPerChannelLut(n, n.Inputs[0], 1, channels, (c, x) => (x - p[2][c]) / Math.Sqrt(p[3][c] + eps) * p[0][c] + p[1][c], "BatchNormalization (not folded)");
    }

    private void ConvertBinary(OnnxNode n)
    {
        var a = n.Inputs[0];
        var b = n.Inputs[1];
        var ca = Const(a);
        var cb = Const(b);
        if (ca is null && cb is null)
        {
            BinaryOfActivations(n, a, b);
            return;
        }
        if (ca is not null && cb is not null) throw Refuse(n, "both operands are constant (preparation should fold it)");
        var constFirst = ca is not null;
        var c = (ca ?? cb)!;
        var x = constFirst ? b : a;
        var cv = Floats(c);
        Func<double, double, double> op = n.OpType switch
        {
            "Add" => (v, k) => v + k,
            "Mul" => (v, k) => v * k,
            "Sub" => constFirst ? (v, k) => k - v : (v, k) => v - k,
            "Div" => constFirst ? (v, k) => k / v : (v, k) => v / k,
            "Max" => Math.Max,
            "Min" => Math.Min,
            _ => constFirst ? (v, k) => Math.Pow(k, v) : Math.Pow,
        };
        var shape = Shape(x);
        if (!Shape(n.Outputs[0]).SequenceEqual(shape)) throw Refuse(n, "the constant operand broadcasts the output beyond the activation's shape");
        switch (ChannelAxis(c, shape))
        {
            case -1: ConvertLut(n, x, v => op(v, cv[0]), $"{n.OpType} by {cv[0]}"); return;
            case int axis: ConvertPerChannelLut(n, x, axis, shape[axis], (ch, v) => op(v, cv[ch]), $"{n.OpType} by a per-channel constant"); return;
        }
        if (n.OpType is not ("Add" or "Mul")) throw Refuse(n, $"{n.OpType} by a constant {c.ShapeText} that varies along several axes has no int8 form");
        var qc = Need(n, constFirst ? a : b);
        var qx = Need(n, x);
        QLinearBinary(n, constFirst ? qc : qx, constFirst ? qx : qc, "a constant operand quantized per tensor");
    }

    private static Func<double, double, double>? Elementwise(string op) => op switch
    {
        "Add" => (u, v) => u + v,
        "Sub" => (u, v) => u - v,
        "Mul" => (u, v) => u * v,
        "Div" => (u, v) => u / v,
        "Max" => Math.Max,
        "Min" => Math.Min,
        "Pow" => Math.Pow,
        _ => null,
    };

    /// <summary>
    /// An elementwise op of two activations. When both are (tables of) the same int8 tensor — x·relu6(x + 3)/6, the
    /// hard-swish paddle2onnx writes out — it is one table of that tensor. Otherwise: Add/Mul → QLinearAdd/Mul;
    /// Sub → QLinearAdd of a negating table; Div → QLinearMul by a reciprocal table (the divisor's calibrated range
    /// must exclude 0); Max → both requantized to the output's scale by tables, then integer Max; Min → Max of the
    /// negations, negated by a table.
    /// </summary>
    private void BinaryOfActivations(OnnxNode n, string a, string b)
    {
        var op = Elementwise(n.OpType)!;
        var ra = Root(n, a);
        var rb = Root(n, b);
        var outShape = Shape(n.Outputs[0]);
        if (ra.Source.Name == rb.Source.Name && (ra.Axis < 0 || rb.Axis < 0 || ra.Axis == rb.Axis)
            && Shape(a).SequenceEqual(outShape) && Shape(b).SequenceEqual(outShape))
        {
            var (fa, fb) = (ra.F, rb.F);
            var ax = ra.Axis >= 0 ? ra.Axis : rb.Axis;
            var ch = ra.Axis >= 0 ? ra.Channels : rb.Channels;
            var y = Params(n.Outputs[0], n.Outputs[0]);
            Func<int, double, double> g = (c, v) => op(fa(c, v), fb(c, v));
            EmitTable(n.DisplayName, ra.Source, ax, ch, g, y, outShape.Length);
            _tableOf[y.Name] = new TableOf(ra.Source, ax, ch, g);
            Conversions.Add(new Conversion(n.DisplayName, n.OpType, ax < 0 ? "Cast + Gather" : "Cast + Add + Clip + Gather",
                $"both operands are functions of '{ra.Source.Name}': one table of {n.OpType}"));
            return;
        }
        switch (n.OpType)
        {
            case "Add" or "Mul":
                QLinearBinary(n, Need(n, a), Need(n, b), "");
                return;
            case "Sub":
            {
                var (lo, hi) = Observed(n, b);
                QLinearBinary(n, Need(n, a), Derived(n, b, v => -v, -hi, -lo, "neg"), "as QLinearAdd of a negating table of the subtrahend", "QLinearAdd");
                return;
            }
            case "Div":
            {
                var (lo, hi) = Observed(n, b);
                if (!(lo > 0 || hi < 0)) throw Refuse(n, $"the divisor's calibrated range [{lo}, {hi}] includes 0, so its reciprocal has no int8 range");
                QLinearBinary(n, Need(n, a), Derived(n, b, v => 1 / v, 1 / hi, 1 / lo, "recip"), "as QLinearMul by a reciprocal table of the divisor", "QLinearMul");
                return;
            }
            case "Max" or "Min":
            {
                var neg = n.OpType == "Min";
                var outName = n.Outputs[0];
                var y = Params(outName, outName);
                // Max(a, b) at y's scale; Min(a, b) = −Max(−a, −b), computed at the scale of −y.
                var m = neg ? new QTensor(Unique($"{outName}.negmax"), y.Scale, -y.Zp, -y.Hi, -y.Lo) : y;
                if (neg) _names.Remove(m.Name);
                var ins = new[] { a, b }.Select((t, i) =>
                {
                    var r = Root(n, t);
                    if (!neg && !_tableOf.ContainsKey(t) && r.Source.Scale == m.Scale && r.Source.Zp == m.Zp) return r.Source.Name;
                    var q = new QTensor(Unique($"{outName}.in{i}"), m.Scale, m.Zp, m.Lo, m.Hi);
                    _names.Remove(q.Name);
                    var f = r.F;
                    EmitTable($"{n.DisplayName}.requantize{i}", r.Source, r.Axis, r.Channels, neg ? (c, v) => -f(c, v) : f, q, Shape(t).Length);
                    return q.Name;
                }).ToList();
                Emit(n.DisplayName, "Max", ins, m.Name, []);
                _q[m.Name] = m;
                if (neg)
                {
                    EmitTable($"{n.DisplayName}.negate", m, -1, 1, static (_, v) => -v, y, outShape.Length);
                    _tableOf[y.Name] = new TableOf(m, -1, 1, static (_, v) => -v);
                }
                _q[y.Name] = y;
                Conversions.Add(new Conversion(n.DisplayName, n.OpType, neg ? "tables + Max + table" : "tables + Max",
                    neg ? "Min(a, b) = −Max(−a, −b): both negated into −y's scale by tables, integer Max, negated back" : "both operands requantized to the output's scale by tables (where needed), integer Max"));
                return;
            }
            default:
                throw Refuse(n, $"{n.OpType} of two activations has no int8 form (Add, Sub, Mul, Div, Max and Min do)");
        }
    }

    /// <summary>The smallest and largest value calibration saw for float tensor <paramref name="name"/>.</summary>
    private (float Lo, float Hi) Observed(OnnxNode n, string name) =>
        _cal.Stats.TryGetValue(name, out var st) ? (st.Min, st.Max) : throw Refuse(n, $"'{name}' was not seen by calibration");

    private void QLinearBinary(OnnxNode n, QTensor a, QTensor b, string note, string? opName = null)
    {
        var (outName, fused) = FuseActivation(n.Outputs[0]);
        var y = Params(outName, outName);
        var op = opName ?? (n.OpType == "Add" ? "QLinearAdd" : "QLinearMul");
        _usesMs = true;
        _nodes.Add(new OnnxNode(n.DisplayName, op, MsDomain,
            [a.Name, F($"{outName}.a_scale", a.Scale), Z($"{outName}.a_zp", a.Zp), b.Name, F($"{outName}.b_scale", b.Scale), Z($"{outName}.b_zp", b.Zp),
             F($"{outName}.y_scale", y.Scale), Z($"{outName}.y_zp", y.Zp)], [outName], []));
        _q[outName] = y;
        var parts = new[] { note, fused is null ? "" : $"fused {fused}" }.Where(p => p.Length > 0);
        Conversions.Add(new Conversion(n.DisplayName, n.OpType, $"com.microsoft {op}", string.Join(", ", parts)));
    }

    private void ConvertConcat(OnnxNode n)
    {
        var y = Params(n.Outputs[0], n.Outputs[0]);
        var names = new List<string>();
        var requantized = 0;
        for (var i = 0; i < n.Inputs.Count; i++)
        {
            var x = Need(n, n.Inputs[i]);
            if (x.Scale == y.Scale && x.Zp == y.Zp) { names.Add(x.Name); continue; }
            var rq = Unique($"{y.Name}.in{i}");
            Emit($"{n.DisplayName}.requantize{i}", "Gather",
                [Init($"{rq}.table", Tensor.Create<sbyte>(TensorElementType.Int8, [256], Lut.Build(v => v, x.Scale, x.Zp, y.Scale, y.Zp))), CastToInt32(x)], rq,
                [OnnxAttribute.Of("axis", 0L)]);
            names.Add(rq);
            requantized++;
        }
        Emit(n.DisplayName, "Concat", names, y.Name, n.Attributes);
        _q[y.Name] = y;
        Conversions.Add(new Conversion(n.DisplayName, "Concat", "Concat on int8",
            requantized == 0 ? "inputs share the output's scale" : $"{requantized} of {n.Inputs.Count} input(s) requantized to the output's scale by a 256-entry table"));
    }

    private void ConvertAveragePool(OnnxNode n)
    {
        var x = Need(n, n.Inputs[0]);
        var y = Params(n.Outputs[0], n.Outputs[0]);
        _usesMs = true;
        _nodes.Add(new OnnxNode(n.DisplayName, "QLinearAveragePool", MsDomain,
            [x.Name, F($"{y.Name}.x_scale", x.Scale), Z($"{y.Name}.x_zp", x.Zp), F($"{y.Name}.y_scale", y.Scale), Z($"{y.Name}.y_zp", y.Zp)], [y.Name], n.Attributes));
        _q[y.Name] = y;
        Conversions.Add(new Conversion(n.DisplayName, "AveragePool", "com.microsoft QLinearAveragePool"));
    }

    private void ConvertGlobalAveragePool(OnnxNode n, string input, string output, string? op = null)
    {
        var x = Need(n, input);
        var y = Params(output, output);
        _usesMs = true;
        _nodes.Add(new OnnxNode(n.DisplayName, "QLinearGlobalAveragePool", MsDomain,
            [x.Name, F($"{y.Name}.x_scale", x.Scale), Z($"{y.Name}.x_zp", x.Zp), F($"{y.Name}.y_scale", y.Scale), Z($"{y.Name}.y_zp", y.Zp)], [y.Name], []));
        _q[y.Name] = y;
        if (op is null) Conversions.Add(new Conversion(n.DisplayName, "GlobalAveragePool", "com.microsoft QLinearGlobalAveragePool"));
    }

    private void ConvertReduceMean(OnnxNode n)
    {
        var rank = Shape(n.Inputs[0]).Length;
        var axes = n.GetInts("axes") ?? (n.InputAt(1) is { } an ? Longs(Const(an) ?? throw Refuse(n, "axes must be a constant")) : null);
        var set = axes?.Select(a => a < 0 ? a + rank : a).Order().ToArray();
        if (set is { Length: > 0 } && set[^1] == rank - 1 && set.SequenceEqual(Enumerable.Range((int)set[0], set.Length).Select(a => (long)a))
            && !(rank >= 3 && set[0] == 2))
        {
            // A mean over trailing axes (LayerNorm's ReduceMean over the features): Reshape to [1, rows, inner, 1],
            // QLinearGlobalAveragePool (one mean per row), Reshape to the output's shape.
            var shape = Shape(n.Inputs[0]);
            var first = (int)set[0];
            long rows = shape[..first].Aggregate(1L, (p, d) => p * d), inner = shape[first..].Aggregate(1L, (p, d) => p * d);
            var xin = Need(n, n.Inputs[0]);
            var in4 = Unique($"{n.Outputs[0]}.rows");
            Emit($"{n.DisplayName}.reshape_in", "Reshape", [xin.Name, I64($"{in4}.shape", [1, rows, inner, 1])], in4, []);
            var pooledRows = Unique($"{n.Outputs[0]}.pooled");
            var yr = Params(n.Outputs[0], pooledRows);
            _usesMs = true;
            _nodes.Add(new OnnxNode(n.DisplayName, "QLinearGlobalAveragePool", MsDomain,
                [in4, F($"{pooledRows}.x_scale", xin.Scale), Z($"{pooledRows}.x_zp", xin.Zp), F($"{pooledRows}.y_scale", yr.Scale), Z($"{pooledRows}.y_zp", yr.Zp)], [pooledRows], []));
            Emit($"{n.DisplayName}.reshape_out", "Reshape", [pooledRows, I64($"{n.Outputs[0]}.shape", Shape(n.Outputs[0]).Select(d => (long)d).ToArray())], n.Outputs[0], []);
            _q[n.Outputs[0]] = yr with { Name = n.Outputs[0] };
            Conversions.Add(new Conversion(n.DisplayName, "ReduceMean", "Reshape + com.microsoft QLinearGlobalAveragePool + Reshape", $"mean over the trailing axes [{string.Join(",", set)}], one per row"));
            return;
        }
        if (rank < 3 || set is null || !set.SequenceEqual(Enumerable.Range(2, rank - 2).Select(a => (long)a)))
            throw Refuse(n, $"only a mean over every spatial axis (2…{rank - 1}) or over trailing axes has an int8 form (QLinearGlobalAveragePool); axes are [{string.Join(",", set ?? [])}]");
        if (n.GetInt("keepdims", 1) != 0)
        {
            ConvertGlobalAveragePool(n, n.Inputs[0], n.Outputs[0], "ReduceMean");
            Conversions.Add(new Conversion(n.DisplayName, "ReduceMean", "com.microsoft QLinearGlobalAveragePool", "over the spatial axes"));
            return;
        }
        var pooled = Unique($"{n.Outputs[0]}.pooled");
        var x = Need(n, n.Inputs[0]);
        var y = Params(n.Outputs[0], pooled);
        _usesMs = true;
        _nodes.Add(new OnnxNode(n.DisplayName, "QLinearGlobalAveragePool", MsDomain,
            [x.Name, F($"{pooled}.x_scale", x.Scale), Z($"{pooled}.x_zp", x.Zp), F($"{pooled}.y_scale", y.Scale), Z($"{pooled}.y_zp", y.Zp)], [pooled], []));
        Emit($"{n.DisplayName}.reshape", "Reshape", [pooled, I64($"{n.Outputs[0]}.shape", Shape(n.Outputs[0]).Select(d => (long)d).ToArray())], n.Outputs[0], []);
        _q[n.Outputs[0]] = y with { Name = n.Outputs[0] };
        Conversions.Add(new Conversion(n.DisplayName, "ReduceMean", "com.microsoft QLinearGlobalAveragePool + Reshape", "over the spatial axes, keepdims=0"));
    }

    private void ConvertReshape(OnnxNode n)
    {
        var x = Need(n, n.Inputs[0]);
        var y = x with { Name = n.Outputs[0] };
        Emit(n.DisplayName, "Reshape", [x.Name, I64($"{y.Name}.shape", Shape(y.Name).Select(d => (long)d).ToArray())], y.Name, []);
        _q[y.Name] = y;
        Conversions.Add(new Conversion(n.DisplayName, n.OpType, "Reshape", "to the static shape, int8 passthrough"));
    }

    private void Passthrough(OnnxNode n, string op, IReadOnlyList<OnnxAttribute> attrs)
    {
        var x = Need(n, n.Inputs[0]);
        var y = x with { Name = n.Outputs[0] };
        Emit(n.DisplayName, op, [x.Name], y.Name, attrs);
        _q[y.Name] = y;
        Conversions.Add(new Conversion(n.DisplayName, n.OpType, $"{op} on int8", "passthrough, same scale"));
    }

    private void ConvertSoftmax(OnnxNode n)
    {
        var output = n.Outputs[0];
        if (!_graphOutputs.Contains(output) || _consumers.ContainsKey(output))
            throw Refuse(n, $"{n.OpType} has no int8 form; only a final {n.OpType} (a graph output nothing reads) can be left to the client");
        _q.TryGetValue(n.Inputs[0], out var logits);
        if (logits.Name is null) Need(n, n.Inputs[0]);
        _postprocess[output] = n.Inputs[0];
        Conversions.Add(new Conversion(n.DisplayName, n.OpType, "left to the client",
            $"the model outputs the quantized logits '{_q[n.Inputs[0]].Name}'; metadata postprocess \"{(n.OpType == "Softmax" ? "softmax" : "log-softmax")}\""));
    }

    // ---------------------------------------------------------------- helpers

    private QTensor Need(OnnxNode n, string name)
    {
        if (_q.TryGetValue(name, out var q)) return q;
        if (Const(name) is { } c)
        {
            // A float constant used as an activation: quantized per tensor over its own range.
            var v = Floats(c);
            var (s, zp) = FromRange(v.Length == 0 ? 0 : v.Min(), v.Length == 0 ? 0 : v.Max());
            var data = v.Select(f => Lut.Quantize(f, s, zp)).ToArray();
            q = new QTensor(Init($"{name}.q", Tensor.Create<sbyte>(TensorElementType.Int8, c.Shape, data)), s, zp, v.Min(), v.Max());
            _q[name] = q;
            return q;
        }
        throw Refuse(n, $"input '{name}' has no int8 form (it is neither a quantized activation nor a constant)");
    }

    /// <summary>The calibrated (or pinned) parameters of float tensor <paramref name="floatName"/>, for an int8 tensor named <paramref name="name"/>.</summary>
    private QTensor Params(string floatName, string name)
    {
        if (_pinned.TryGetValue(floatName, out var p) && p.Scales.Length == 1)
        {
            var zp = p.ZeroPoints[0] - (p.Type == TensorElementType.UInt8 ? 128 : 0);
            return new QTensor(name, p.Scales[0], zp, (-128 - zp) * p.Scales[0], (127 - zp) * p.Scales[0]);
        }
        if (!_cal.Stats.TryGetValue(floatName, out var st)) throw new QuantizationException($"tensor '{floatName}'", "was not seen by calibration (not float32?)");
        var (lo, hi) = st.Range(_o.Method, _o.Percentile);
        if (_clipRange.TryGetValue(floatName, out var clip)) { lo = Math.Max(lo, clip.Lo); hi = Math.Min(hi, clip.Hi); }
        var (scale, z) = FromRange(lo, hi);
        return new QTensor(name, scale, z, lo, hi);
    }

    /// <summary>Asymmetric int8 parameters covering [lo, hi] ∪ {0}, with 0 exactly representable.</summary>
    public static (float Scale, int Zp) FromRange(float lo, float hi)
    {
        lo = Math.Min(lo, 0);
        hi = Math.Max(hi, 0);
        var scale = (hi - lo) / 255f;
        if (!(scale >= 1e-6f)) scale = 1e-6f;
        var zp = (int)Math.Clamp(Math.Round(-128 - lo / (double)scale, MidpointRounding.ToEven), -128, 127);
        return (scale, zp);
    }

    private Tensor? Const(string? name)
    {
        if (name is null) return null;
        if (_inits.TryGetValue(name, out var t)) return t;
        return !_dyn.Contains(name) && _cal.Samples.TryGetValue(name, out var s) ? s : null;
    }

    private int[] Shape(string floatName) =>
        _cal.Samples.TryGetValue(floatName, out var t) ? t.Shape.ToArray()
        : throw new QuantizationException($"tensor '{floatName}'", "has no shape (calibration did not produce it)");

    private static OnnxDim[] Dims(int[] shape) => shape.Select(d => OnnxDim.Fixed(d)).ToArray();

    private static float[] Floats(Tensor t) => t.ElementType switch
    {
        TensorElementType.Float => t.Elements<float>().ToArray(),
        TensorElementType.Double => t.Elements<double>().ToArray().Select(d => (float)d).ToArray(),
        _ => Longs(t).Select(v => (float)v).ToArray(),
    };

    private static long[] Longs(Tensor t) => t.ElementType switch
    {
        TensorElementType.Int64 => t.Elements<long>().ToArray(),
        TensorElementType.Int32 => t.Elements<int>().ToArray().Select(v => (long)v).ToArray(),
        _ => throw new QuantizationException("constant", $"{TensorElementTypes.Name(t.ElementType)} is not a number type the quantizer reads"),
    };

    private string Unique(string name)
    {
        var n = name;
        for (var i = 1; _names.Contains(n); i++) n = $"{name}.{i}";
        _names.Add(n);
        return n;
    }

    private string Init(string name, Tensor value)
    {
        var n = Unique(name);
        _newInits.Add(new OnnxTensor(n, value));
        return n;
    }

    private string F(string name, float v) => Init(name, Tensor.Create<float>(TensorElementType.Float, [], [v]));
    private string Z(string name, int v) => Init(name, Tensor.Create<sbyte>(TensorElementType.Int8, [], [(sbyte)v]));
    private string I64(string name, long[] v) => Init(name, Tensor.Create<long>(TensorElementType.Int64, [v.Length], v));

    private void Emit(string name, string op, IReadOnlyList<string> inputs, string output, IReadOnlyList<OnnxAttribute> attrs)
    {
        _names.Add(output);
        _nodes.Add(new OnnxNode(name, op, "", inputs, [output], attrs));
    }

    private static QuantizationException Refuse(OnnxNode n, string reason) => new($"{n.DisplayName} ({n.OpType})", reason);
}
