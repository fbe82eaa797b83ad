using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Testing.FloatModels;

/// <summary>
/// A batch of calibration activations for one graph value: per-sample shape (no batch dimension) and one
/// row of floats per sample. The zoo computes these in plain C# loops (double accumulation, fixed order)
/// while it builds a model, so normalisation statistics and fitted heads depend on nothing but the seed.
/// </summary>
internal sealed class Act(int[] shape, float[][] rows)
{
    public int[] Shape { get; } = shape;
    public float[][] Rows { get; } = rows;
    public int N => Rows.Length;
    public int Channels => Shape[0];
    public int Spatial => Shape.Skip(1).Aggregate(1, (a, b) => a * b);

    public Act Map(Func<float, float> f) =>
        new(Shape, Rows.Select(r => r.Select(f).ToArray()).ToArray());

    /// <summary>Per-channel (axis 0 of the sample shape) mean and population standard deviation over batch and space.</summary>
    public (double[] Mean, double[] Std) ChannelStats()
    {
        int c = Channels, s = Spatial;
        var mean = new double[c];
        var std = new double[c];
        for (var ch = 0; ch < c; ch++)
        {
            double sum = 0, sq = 0;
            foreach (var r in Rows)
                for (var i = ch * s; i < (ch + 1) * s; i++) { sum += r[i]; sq += (double)r[i] * r[i]; }
            var n = (double)N * s;
            mean[ch] = sum / n;
            std[ch] = Math.Sqrt(Math.Max(sq / n - mean[ch] * mean[ch], 1e-8));
        }
        return (mean, std);
    }
}

/// <summary>
/// Builds one float32 ONNX graph (opset 17, default domain) and, alongside, its activations on a calibration
/// batch. Layer helpers create weights (He/Xavier, seeded), a node, and the output activations.
/// </summary>
internal sealed class ZooGraph
{
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensor> _initializers = [];
    private readonly List<OnnxValueInfo> _inputs = [];
    private readonly Dictionary<string, int[]> _shapes = [];
    private readonly Dictionary<string, Act> _acts = [];
    private readonly Dictionary<string, int> _opCounts = [];
    private readonly string _name;
    private bool _dynamicBatch;

    public ZooGraph(string name, ZooRandom rng, bool constantWeights = false)
    {
        _name = name;
        Rng = rng;
        ConstantWeights = constantWeights;
    }

    public ZooRandom Rng { get; }

    /// <summary>Weights as Constant nodes (PyTorch-export style) rather than initializers.</summary>
    public bool ConstantWeights { get; }

    /// <summary>Prefix of node and value names, PyTorch-2 style ("/conv1/Conv", "/conv1/Conv_output_0").</summary>
    public string Scope { get; set; } = "";

    public Act A(string value) => _acts[value];

    public int[] ShapeOf(string value) => _shapes[value];

    public string Input(string name, int[] sampleShape, float[][] calibration, bool dynamicBatch = false)
    {
        _dynamicBatch = dynamicBatch;
        _inputs.Add(Info(name, sampleShape));
        Set(name, new Act(sampleShape, calibration));
        return name;
    }

    private OnnxValueInfo Info(string name, int[] sampleShape) =>
        new(name, (int)TensorElementType.Float,
            [_dynamicBatch ? OnnxDim.Symbolic("N") : OnnxDim.Fixed(1), .. sampleShape.Select(d => OnnxDim.Fixed(d))]);

    private void Set(string value, Act act)
    {
        _shapes[value] = act.Shape;
        _acts[value] = act;
    }

    private string NextName(string op)
    {
        var key = Scope + "/" + op;
        _opCounts.TryGetValue(key, out var k);
        _opCounts[key] = k + 1;
        return (Scope.Length > 0 ? "/" + Scope + "/" : "/") + op + (k > 0 ? "_" + k : "");
    }

    /// <summary>A float weight: an initializer, or a Constant node when <see cref="ConstantWeights"/>.</summary>
    public string Weight(string label, float[] data, params int[] shape) =>
        AddTensor(label, Tensor.Create<float>(TensorElementType.Float, shape, data), ConstantWeights);

    /// <summary>A float initializer even in Constant-weight mode (e.g. a PRelu slope).</summary>
    public string Initializer(string label, float[] data, params int[] shape) =>
        AddTensor(label, Tensor.Create<float>(TensorElementType.Float, shape, data), false);

    /// <summary>An int64 tensor (axes, shapes, indices): a Constant node in Constant-weight mode, else an initializer.</summary>
    public string Int64s(string label, long[] data, params int[] shape) =>
        AddTensor(label, Tensor.Create<long>(TensorElementType.Int64, shape, data), ConstantWeights);

    private string AddTensor(string label, Tensor t, bool asConstant)
    {
        if (!asConstant)
        {
            var stem = (Scope.Length > 0 ? Scope + "." : "") + label;
            var name = stem;
            for (var k = 1; _initializers.Any(t => t.Name == name); k++) name = stem + "_" + k;
            _initializers.Add(new OnnxTensor(name, t));
            return name;
        }
        var node = NextName("Constant");
        var output = node + "_output_0";
        _nodes.Add(new OnnxNode(node, "Constant", "", [], [output], [OnnxAttribute.Of("value", t)]));
        return output;
    }

    /// <summary>Adds a node with one output; <paramref name="act"/> (when known) or <paramref name="shape"/> records its value.</summary>
    public string Node(string op, string[] inputs, OnnxAttribute[] attributes, Act? act, int[]? shape = null, string? output = null)
    {
        var node = NextName(op);
        output ??= node + "_output_0";
        _nodes.Add(new OnnxNode(node, op, "", inputs, [output], attributes));
        if (act is not null) Set(output, act);
        else if (shape is not null) _shapes[output] = shape;
        return output;
    }

    public byte[] Finish(params string[] outputs)
    {
        var graph = new OnnxGraph(_name, _nodes.ToList(), _initializers.ToList(), _inputs.ToList(),
            outputs.Select(o => Info(o, _shapes[o])).ToList(), []);
        return new OnnxModel(8, [new OpsetImport("", 17)], graph, "chain-float-zoo", "1").ToBytes();
    }

    // ---- layers ------------------------------------------------------------------------------------------

    /// <summary>
    /// Conv with He-initialised weights. With <paramref name="foldNorm"/> the weights and bias are rescaled per
    /// output channel so that, on the calibration batch, each channel has mean <c>beta</c> (drawn in
    /// [betaLo, betaHi]) and unit variance (data-dependent init). Without, the bias is small random.
    /// </summary>
    public string Conv(string x, int outC, int k, int stride = 1, int pad = 0, int dilation = 1, int group = 1,
        bool foldNorm = false, float betaLo = -0.2f, float betaHi = 0.4f, bool bias = true)
    {
        var a = A(x);
        var inC = a.Channels;
        var fanIn = inC / group * k * k;
        var w = Rng.Normals(outC * fanIn, Math.Sqrt(2.0 / fanIn));
        var b = bias ? Rng.Uniforms(outC, -0.05f, 0.05f) : new float[outC];
        var result = ZooKernels.Conv(a, w, b, outC, k, stride, pad, dilation, group);
        if (foldNorm)
        {
            // Rescale the weights; the activations follow by the same affine map (close enough for calibration).
            var (mean, std) = result.ChannelStats();
            var spatial = result.Spatial;
            var scale = new float[outC];
            var shift = new float[outC];
            for (var oc = 0; oc < outC; oc++)
            {
                var beta = Rng.Uniform(betaLo, betaHi);
                for (var i = 0; i < fanIn; i++) w[oc * fanIn + i] = (float)(w[oc * fanIn + i] / std[oc]);
                var oldBias = b[oc];
                b[oc] = (float)(beta - (mean[oc] - oldBias) / std[oc]);
                scale[oc] = (float)(1 / std[oc]);
                shift[oc] = (float)(beta - mean[oc] / std[oc]);
            }
            result = new Act(result.Shape, result.Rows.Select(r =>
            {
                var o = new float[r.Length];
                for (var i = 0; i < r.Length; i++) o[i] = r[i] * scale[i / spatial] + shift[i / spatial];
                return o;
            }).ToArray());
        }
        var wName = Weight("weight", w, outC, inC / group, k, k);
        string[] inputs = bias || foldNorm ? [x, wName, Weight("bias", b, outC)] : [x, wName];
        return Node("Conv", inputs,
        [
            OnnxAttribute.Of("dilations", new long[] { dilation, dilation }),
            OnnxAttribute.Of("group", (long)group),
            OnnxAttribute.Of("kernel_shape", new long[] { k, k }),
            OnnxAttribute.Of("pads", new long[] { pad, pad, pad, pad }),
            OnnxAttribute.Of("strides", new long[] { stride, stride }),
        ], result);
    }

    /// <summary>BatchNormalization (inference) whose mean and variance are the calibration batch's statistics.</summary>
    public string BatchNorm(string x, float gammaLo, float gammaHi, float betaLo, float betaHi)
    {
        var a = A(x);
        var (mean, std) = a.ChannelStats();
        int c = a.Channels, s = a.Spatial;
        var gamma = Rng.Uniforms(c, gammaLo, gammaHi);
        var beta = Rng.Uniforms(c, betaLo, betaHi);
        var m = mean.Select(v => (float)v).ToArray();
        var v = std.Select(d => (float)(d * d)).ToArray();
        const float eps = 1e-5f;
        var rows = a.Rows.Select(r =>
        {
            var o = new float[r.Length];
            for (var ch = 0; ch < c; ch++)
            {
                var scale = gamma[ch] / Math.Sqrt(v[ch] + (double)eps);
                for (var i = ch * s; i < (ch + 1) * s; i++) o[i] = (float)((r[i] - m[ch]) * scale + beta[ch]);
            }
            return o;
        }).ToArray();
        return Node("BatchNormalization",
            [x, Weight("bn_scale", gamma, c), Weight("bn_bias", beta, c), Weight("bn_mean", m, c), Weight("bn_var", v, c)],
            [OnnxAttribute.Of("epsilon", eps), OnnxAttribute.Of("momentum", 0.9f)], new Act(a.Shape, rows));
    }

    public string Relu(string x) => Node("Relu", [x], [], A(x).Map(v => Math.Max(v, 0f)));

    /// <summary>Clip with min and max as inputs (opset 11+): ReLU6 is Clip(x, 0, 6).</summary>
    public string Clip(string x, float lo, float hi) =>
        Node("Clip", [x, Weight("clip_min", [lo]), Weight("clip_max", [hi])], [], A(x).Map(v => Math.Clamp(v, lo, hi)));

    public string LeakyRelu(string x, float alpha) =>
        Node("LeakyRelu", [x], [OnnxAttribute.Of("alpha", alpha)], A(x).Map(v => v >= 0 ? v : v * alpha));

    public string MaxPool(string x, int k, int stride, int pad = 0) =>
        Node("MaxPool", [x], PoolAttributes(k, stride, pad), ZooKernels.Pool(A(x), k, stride, pad, max: true, countIncludePad: false));

    public string AveragePool(string x, int k, int stride, int pad = 0, bool countIncludePad = false)
    {
        var attributes = PoolAttributes(k, stride, pad).ToList();
        if (pad > 0) attributes.Add(OnnxAttribute.Of("count_include_pad", countIncludePad ? 1L : 0L));
        return Node("AveragePool", [x], [.. attributes], ZooKernels.Pool(A(x), k, stride, pad, max: false, countIncludePad));
    }

    private static OnnxAttribute[] PoolAttributes(int k, int stride, int pad) =>
    [
        OnnxAttribute.Of("kernel_shape", new long[] { k, k }),
        OnnxAttribute.Of("pads", new long[] { pad, pad, pad, pad }),
        OnnxAttribute.Of("strides", new long[] { stride, stride }),
    ];

    public string GlobalAveragePool(string x)
    {
        var a = A(x);
        var pooled = ZooKernels.SpatialMean(a);
        return Node("GlobalAveragePool", [x], [], new Act([a.Channels, 1, 1], pooled.Rows));
    }

    /// <summary>ReduceMean over the spatial axes (opset 17: axes is an attribute).</summary>
    public string ReduceMeanSpatial(string x, bool keepDims)
    {
        var a = A(x);
        var pooled = ZooKernels.SpatialMean(a);
        long[] axes = [.. Enumerable.Range(2, a.Shape.Length - 1).Select(i => (long)i)];
        return Node("ReduceMean", [x], [OnnxAttribute.Of("axes", axes), OnnxAttribute.Of("keepdims", keepDims ? 1L : 0L)],
            keepDims ? new Act([a.Channels, .. Enumerable.Repeat(1, a.Shape.Length - 1)], pooled.Rows) : pooled);
    }

    public string Flatten(string x)
    {
        var a = A(x);
        return Node("Flatten", [x], [OnnxAttribute.Of("axis", 1L)], new Act([a.Rows[0].Length], a.Rows));
    }

    public string Add(string a, string b)
    {
        var (x, y) = (A(a), A(b));
        var rows = x.Rows.Select((r, n) => r.Select((v, i) => v + y.Rows[n][i]).ToArray()).ToArray();
        return Node("Add", [a, b], [], new Act(x.Shape, rows));
    }

    /// <summary>Concat along channels (axis 1 of the batched tensor).</summary>
    public string ConcatChannels(string a, string b)
    {
        var (x, y) = (A(a), A(b));
        var rows = x.Rows.Select((r, n) => r.Concat(y.Rows[n]).ToArray()).ToArray();
        return Node("Concat", [a, b], [OnnxAttribute.Of("axis", 1L)], new Act([x.Channels + y.Channels, .. x.Shape.Skip(1)], rows));
    }

    /// <summary>
    /// A hidden fully connected layer, Gemm(transB=1) or MatMul + Add, with weights rescaled so that each unit's
    /// pre-activation has unit variance and mean in [betaLo, betaHi] on the calibration batch.
    /// </summary>
    public string Dense(string x, int outF, bool matMul, float betaLo = -0.2f, float betaHi = 0.4f)
    {
        var a = A(x);
        var inF = a.Shape[0];
        var w = Rng.Normals(outF * inF, Math.Sqrt(2.0 / inF)); // [out, in]
        var raw = ZooKernels.Dense(a, w, new float[outF], outF);
        var (mean, std) = raw.ChannelStats();
        var b = new float[outF];
        for (var o = 0; o < outF; o++)
        {
            var beta = Rng.Uniform(betaLo, betaHi);
            for (var i = 0; i < inF; i++) w[o * inF + i] = (float)(w[o * inF + i] / std[o]);
            b[o] = (float)(beta - mean[o] / std[o]);
        }
        return DenseNode(x, w, b, inF, outF, matMul, ZooKernels.Dense(a, w, b, outF));
    }

    /// <summary>
    /// An output layer fitted by ridge regression from this value's calibration features to <paramref name="targets"/>
    /// (one row per calibration sample), then multiplied by <paramref name="gain"/> (a softmax temperature for classifiers).
    /// </summary>
    public string FittedDense(string x, double[][] targets, bool matMul, double lambda = 1.0, double gain = 1.0)
    {
        var a = A(x);
        var inF = a.Shape[0];
        var outF = targets[0].Length;
        var solution = ZooKernels.Ridge(a.Rows, targets, lambda); // [inF + 1, outF], last row the bias
        var w = new float[outF * inF];
        var b = new float[outF];
        for (var o = 0; o < outF; o++)
        {
            for (var i = 0; i < inF; i++) w[o * inF + i] = (float)(solution[i][o] * gain);
            b[o] = (float)(solution[inF][o] * gain);
        }
        return DenseNode(x, w, b, inF, outF, matMul, ZooKernels.Dense(a, w, b, outF));
    }

    /// <summary>An output layer with Xavier weights, then standardised per output on the calibration batch (an embedding).</summary>
    public string StandardizedDense(string x, int outF, bool matMul)
    {
        var a = A(x);
        var inF = a.Shape[0];
        var w = Rng.Normals(outF * inF, Math.Sqrt(2.0 / (inF + outF)));
        var (mean, std) = ZooKernels.Dense(a, w, new float[outF], outF).ChannelStats();
        var b = new float[outF];
        for (var o = 0; o < outF; o++)
        {
            for (var i = 0; i < inF; i++) w[o * inF + i] = (float)(w[o * inF + i] / std[o]);
            b[o] = (float)(-mean[o] / std[o]);
        }
        return DenseNode(x, w, b, inF, outF, matMul, ZooKernels.Dense(a, w, b, outF));
    }

    private string DenseNode(string x, float[] w, float[] b, int inF, int outF, bool matMul, Act result)
    {
        if (!matMul)
            return Node("Gemm", [x, Weight("weight", w, outF, inF), Weight("bias", b, outF)],
                [OnnxAttribute.Of("alpha", 1f), OnnxAttribute.Of("beta", 1f), OnnxAttribute.Of("transB", 1L)], result);
        var wt = new float[inF * outF]; // MatMul weight is [in, out]
        for (var o = 0; o < outF; o++)
            for (var i = 0; i < inF; i++) wt[i * outF + o] = w[o * inF + i];
        var mm = Node("MatMul", [x, Weight("weight", wt, inF, outF)], [], null, result.Shape);
        return Node("Add", [mm, Weight("bias", b, outF)], [], result);
    }

    public string Softmax(string x, string? output = null) =>
        Node("Softmax", [x], [OnnxAttribute.Of("axis", -1L)], null, ShapeOf(x), output);

    public string LogSoftmax(string x, string? output = null) =>
        Node("LogSoftmax", [x], [OnnxAttribute.Of("axis", -1L)], null, ShapeOf(x), output);

    /// <summary>Renames the last node's output (for a graph output with a readable name).</summary>
    public string Rename(string value, string name)
    {
        var i = _nodes.FindLastIndex(n => n.Outputs.Contains(value));
        var n = _nodes[i];
        _nodes[i] = n with { Outputs = n.Outputs.Select(o => o == value ? name : o).ToArray() };
        _shapes[name] = _shapes[value];
        if (_acts.TryGetValue(value, out var a)) _acts[name] = a;
        return name;
    }
}
