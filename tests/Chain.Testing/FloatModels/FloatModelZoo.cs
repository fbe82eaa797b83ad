using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Testing.FloatModels;

/// <summary>
/// Float32 ONNX models of real architectures, built in code with the project's ONNX writer (opset 17, default
/// domain, IR 8, static shapes with batch 1 unless noted): the inputs of the int8 quantizer's tests and of the
/// README walkthrough. Every model is seeded and deterministic (same bytes on every call and host).
///
/// How the weights are made (no external data): He/Xavier normal init from a SplitMix64 generator, then a
/// data-dependent pass on a synthetic calibration batch computed in plain C#: BatchNormalization statistics
/// are the batch's per-channel mean and variance, layers without BN get their weights rescaled so each unit is
/// normalised (LSUV-style), and every output head is fitted by ridge regression (closed form, Cholesky) on
/// the model's synthetic task: class templates plus shift and noise for the classifiers ("MNIST-like" but
/// generated), rectangles for the box regressor. So the classifiers are real classifiers of their task,
/// with well separated logits on <see cref="Samples"/> (top-1 agreement between float and int8 is meaningful);
/// <see cref="RandomInputs"/> gives uniform noise, on which outputs are finite and vary but are not "correct".
/// MNIST itself is not used: a fresh clone has no .data and tests must not depend on it.
/// </summary>
public static class FloatModelZoo
{
    private static readonly Lazy<FloatModel> s_kws = new(() => KeywordSpotting(dynamicBatch: false));
    private static readonly Lazy<FloatModel> s_kwsDynamic = new(() => KeywordSpotting(dynamicBatch: true));
    private static readonly Lazy<FloatModel> s_mobileNet = new(() => MobileNet(regressor: false));
    private static readonly Lazy<FloatModel> s_mobileNetBoxes = new(() => MobileNet(regressor: true));
    private static readonly Lazy<FloatModel> s_embedding = new(Embedding);
    private static readonly Lazy<FloatModel> s_resNet = new(ResNet);
    private static readonly Lazy<FloatModel> s_torch = new(TorchStyle);

    private static FloatModel Copy(Lazy<FloatModel> m) => m.Value with { Bytes = m.Value.Bytes.ToArray() };

    /// <summary>1. Keyword-spotting MLP: input [1,490] (49 frames x 10 MFCC-like), Gemm(transB=1)+Relu, MatMul+Add+Relu, Gemm logits (12 classes), Softmax.</summary>
    public static FloatModel KeywordSpottingMlp() => Copy(s_kws);

    /// <summary>6. The keyword-spotting MLP with a symbolic batch dimension "N" on its input and output; the same weights as <see cref="KeywordSpottingMlp"/>.</summary>
    public static FloatModel KeywordSpottingMlpDynamicBatch() => Copy(s_kwsDynamic);

    /// <summary>2. Depthwise-separable CNN (MobileNet / face-detector like), 10-class classifier with GlobalAveragePool, Flatten, Gemm, Softmax.</summary>
    public static FloatModel MobileNetClassifier() => Copy(s_mobileNet);

    /// <summary>2b. The same trunk with a box-regression head (MaxPool, Flatten, Gemm to 4 box values, no softmax).</summary>
    public static FloatModel MobileNetBoxRegressor() => Copy(s_mobileNetBoxes);

    /// <summary>3. Conv + LeakyRelu(0.1) embedding network with MaxPool and AveragePool; 64-float embedding (no L2 normalisation).</summary>
    public static FloatModel LeakyReluEmbedding() => Copy(s_embedding);

    /// <summary>4. ResNet-style classifier: Conv+BN+Relu, residual blocks (identity and 1x1-projection skip), Concat, ReduceMean, Gemm, Softmax.</summary>
    public static FloatModel ResNetClassifier() => Copy(s_resNet);

    /// <summary>5. PyTorch-export style: Constant-node weights, Shape/Gather/Unsqueeze/Concat/Reshape, ConstantOfShape, Squeeze, Transpose, assorted activations, LogSoftmax.</summary>
    public static FloatModel TorchExportStyle() => Copy(s_torch);

    /// <summary>Every zoo model, in family order.</summary>
    public static IReadOnlyList<FloatModel> All() =>
    [
        KeywordSpottingMlp(), MobileNetClassifier(), MobileNetBoxRegressor(), LeakyReluEmbedding(), ResNetClassifier(),
        TorchExportStyle(), KeywordSpottingMlpDynamicBatch(),
    ];

    /// <summary>The zoo models' names, in <see cref="All"/> order, without building any (for test data).</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["kws-mlp", "mobilenet", "mobilenet-boxes", "leaky-embedding", "resnet", "torch-style", "kws-mlp-dynamic"];

    /// <summary>The third-party models' names, without reading them.</summary>
    public static IReadOnlyList<string> ThirdPartyNames => ThirdPartyModels.Names;

    /// <summary>The zoo model (built on first use, then cached) or third-party model of this name.</summary>
    public static FloatModel ByName(string name) => name switch
    {
        "kws-mlp" => KeywordSpottingMlp(),
        "mobilenet" => MobileNetClassifier(),
        "mobilenet-boxes" => MobileNetBoxRegressor(),
        "leaky-embedding" => LeakyReluEmbedding(),
        "resnet" => ResNetClassifier(),
        "torch-style" => TorchExportStyle(),
        "kws-mlp-dynamic" => KeywordSpottingMlpDynamicBatch(),
        _ => ThirdPartyModels.Load().FirstOrDefault(m => m.Name == name) ?? throw new ArgumentException($"no float model named '{name}'"),
    };

    /// <summary>
    /// <paramref name="count"/> float inputs of the model's (batch 1) input shape, uniform in [lo, hi), from a
    /// seeded generator: held-out evaluation and calibration noise that is not the model's training task.
    /// </summary>
    public static IReadOnlyList<Tensor> RandomInputs(FloatModel model, int count, int seed, float lo = 0f, float hi = 1f)
    {
        var rng = new ZooRandom(0x52414E44UL ^ (ulong)(uint)seed << 32);
        var result = new Tensor[count];
        for (var i = 0; i < count; i++)
            result[i] = Tensor.Create<float>(TensorElementType.Float, model.InputShape, rng.Uniforms(model.InputElements, lo, hi));
        return result;
    }

    /// <summary>
    /// <paramref name="count"/> smooth random images for an NCHW model: per image a coarse grid of uniform values
    /// (one cell per <paramref name="cell"/>×<paramref name="cell"/> pixels; 70% a grey level shared by the channels,
    /// 30% per channel) upsampled bilinearly, in [<paramref name="lo"/>, <paramref name="hi"/>]. Low-frequency content
    /// like a photograph's, unlike pixel noise; still not "correct" inputs of any task.
    /// </summary>
    public static IReadOnlyList<Tensor> SmoothInputs(FloatModel model, int count, int seed, float lo = -1f, float hi = 1f, int cell = 8)
    {
        var shape = model.InputShape;
        if (shape.Length != 4) throw new ArgumentException($"{model.Name}: smooth images need an NCHW input", nameof(model));
        int n = shape[0], c = shape[1], h = shape[2], w = shape[3];
        int gh = (h + cell - 1) / cell + 1, gw = (w + cell - 1) / cell + 1;
        var rng = new ZooRandom(0x534D4F4FUL ^ (ulong)(uint)seed << 32);
        var result = new Tensor[count];
        for (var k = 0; k < count; k++)
        {
            var data = new float[n * c * h * w];
            for (var b = 0; b < n; b++)
            {
                var grey = rng.Uniforms(gh * gw, 0, 1);
                for (var ch = 0; ch < c; ch++)
                {
                    var own = rng.Uniforms(gh * gw, 0, 1);
                    var grid = new float[gh * gw];
                    for (var i = 0; i < grid.Length; i++) grid[i] = 0.7f * grey[i] + 0.3f * own[i];
                    for (var y = 0; y < h; y++)
                    {
                        var fy = y / (float)cell;
                        int y0 = (int)fy;
                        var ty = fy - y0;
                        for (var x = 0; x < w; x++)
                        {
                            var fx = x / (float)cell;
                            int x0 = (int)fx;
                            var tx = fx - x0;
                            var v = (1 - ty) * ((1 - tx) * grid[y0 * gw + x0] + tx * grid[y0 * gw + x0 + 1])
                                    + ty * ((1 - tx) * grid[(y0 + 1) * gw + x0] + tx * grid[(y0 + 1) * gw + x0 + 1]);
                            data[((b * c + ch) * h + y) * w + x] = lo + (hi - lo) * v;
                        }
                    }
                }
            }
            result[k] = Tensor.Create<float>(TensorElementType.Float, shape.ToArray(), data);
        }
        return result;
    }

    /// <summary>
    /// <paramref name="count"/> labelled examples of the synthetic task a zoo model was fitted on (its in-distribution
    /// data, values in [0, 1]); a different <paramref name="seed"/> gives held-out examples. Not for third-party models.
    /// </summary>
    public static IReadOnlyList<LabeledInput> Samples(FloatModel model, int count, int seed)
    {
        var sampler = model.Sampler ?? throw new ArgumentException($"model '{model.Name}' has no synthetic task (not a zoo model)");
        return sampler(count, 0x53414D50UL ^ (ulong)(uint)seed << 32)
            .Select(e => new LabeledInput(Tensor.Create<float>(TensorElementType.Float, model.InputShape, e.X), e.Label, e.Target))
            .ToArray();
    }

    /// <summary>Third-party float models shipped in tests/data/third-party-models (see its README.md), found from the repository root.</summary>
    public static IReadOnlyList<FloatModel> ThirdParty() => ThirdPartyModels.Load();

    // ---- families ----------------------------------------------------------------------------------------

    private static double[][] OneHot(ZooExample[] examples, int classes) =>
        examples.Select(e => Enumerable.Range(0, classes).Select(k => k == e.Label ? 1.0 : 0.0).ToArray()).ToArray();

    private static Func<int, ulong, ZooExample[]> SamplerOf(ZooTask task) => (count, seed) => task.Samples(count, new ZooRandom(seed));

    private static IReadOnlyList<string> Ops(byte[] bytes) => OpTypesOf(bytes);

    /// <summary>The distinct op types of a model, in first-use order, read from its bytes (Constant nodes included).</summary>
    internal static IReadOnlyList<string> OpTypesOf(byte[] bytes) => OnnxOpLister.OpTypes(bytes);

    private static FloatModel KeywordSpotting(bool dynamicBatch)
    {
        const int classes = 12;
        var task = new TemplateTask(0x4B5753UL, classes, c: 1, h: 49, w: 10, maxShift: 3, noise: 0.25f);
        var rng = new ZooRandom(0x1001);
        var calibration = task.Balanced(600, rng.Fork("calibration"));
        var g = new ZooGraph("kws_mlp", rng.Fork("weights"));
        var x = g.Input("input", [490], calibration.Select(e => e.X).ToArray(), dynamicBatch);
        g.Scope = "fc1";
        var h = g.Relu(g.Dense(x, 128, matMul: false));
        g.Scope = "fc2";
        h = g.Relu(g.Dense(h, 96, matMul: true));
        g.Scope = "fc3";
        h = g.Relu(g.Dense(h, 64, matMul: false));
        g.Scope = "classifier";
        var logits = g.FittedDense(h, OneHot(calibration, classes), matMul: false, lambda: 1.0, gain: 8.0);
        g.Scope = "";
        var output = g.Softmax(logits, "probabilities");
        var bytes = g.Finish(output);
        return new FloatModel(dynamicBatch ? "kws-mlp-dynamic" : "kws-mlp", bytes, x, [1, 490], dynamicBatch, output,
            FloatModelKind.Classifier, classes, Ops(bytes),
            (dynamicBatch ? "symbolic batch dimension N on input and output (use --shape input=1,490); otherwise kws-mlp. " : "") +
            "MLP 490-128-96-64-12: Gemm(transB=1)+Relu, MatMul+Add+Relu, Gemm logits, Softmax(axis=-1)",
            "He init, each hidden unit normalised on the calibration batch, logits fitted by ridge regression to 12 MFCC-like template classes (x8 temperature)")
        { Sampler = SamplerOf(task) };
    }

    private static FloatModel MobileNet(bool regressor)
    {
        const int classes = 10;
        ZooTask task = regressor ? new BoxTask(3, 32, 32) : new TemplateTask(0x4D4F42UL, classes, c: 3, h: 32, w: 32, maxShift: 1, noise: 0.2f);
        var rng = new ZooRandom(regressor ? 0x2002UL : 0x2001UL);
        var calibration = regressor ? task.Samples(1000, rng.Fork("calibration")) : task.Balanced(400, rng.Fork("calibration"));
        var g = new ZooGraph(regressor ? "mobilenet_boxes" : "mobilenet", rng.Fork("weights"));
        var x = g.Input("image", [3, 32, 32], calibration.Select(e => e.X).ToArray());

        string ConvBnRelu6(string input, int outC, int k, int stride, int pad, int dilation = 1, int group = 1, bool bias = false) =>
            g.Clip(g.BatchNorm(g.Conv(input, outC, k, stride, pad, dilation, group, bias: bias), 1.0f, 2.5f, 0f, 1f), 0f, 6f);

        g.Scope = "stem";
        var h = ConvBnRelu6(x, 16, 3, 2, 1, bias: true);                 // [16,16,16]
        g.Scope = "block1";
        h = ConvBnRelu6(h, 16, 3, 1, 1, group: 16);                      // depthwise
        h = ConvBnRelu6(h, 32, 1, 1, 0);                                 // pointwise [32,16,16]
        g.Scope = "block2";
        h = ConvBnRelu6(h, 32, 3, 2, 1, group: 32);                      // depthwise stride 2 [32,8,8]
        h = ConvBnRelu6(h, 64, 1, 1, 0);                                 // pointwise [64,8,8]
        g.Scope = "dilated";
        h = ConvBnRelu6(h, 48, 3, 1, 2, dilation: 2);                    // [48,8,8]
        g.Scope = "head";
        string output;
        if (regressor)
        {
            var f = g.Flatten(g.AveragePool(h, 4, 4));                   // [48*2*2]
            output = g.Rename(g.FittedDense(f, calibration.Select(e => e.Target!.Select(v => (double)v).ToArray()).ToArray(), matMul: false, lambda: 1.0), "boxes");
        }
        else
        {
            var f = g.Flatten(g.GlobalAveragePool(h));                   // [48]
            var logits = g.FittedDense(f, OneHot(calibration, classes), matMul: false, lambda: 0.1, gain: 8.0);
            g.Scope = "";
            output = g.Softmax(logits, "probabilities");
        }
        var bytes = g.Finish(output);
        const string trunk = "Conv 3x3 s2 p1 (+bias) + BatchNormalization + Clip(0,6); depthwise Conv (group=channels) + BN + ReLU6; pointwise 1x1 Conv + BN + ReLU6 (twice, one depthwise with stride 2); dilated 3x3 Conv (dilation 2, pad 2) + BN + ReLU6";
        return new FloatModel(regressor ? "mobilenet-boxes" : "mobilenet", bytes, x, [1, 3, 32, 32], false, output,
            regressor ? FloatModelKind.Regressor : FloatModelKind.Classifier, regressor ? 0 : classes, Ops(bytes),
            regressor ? trunk + "; head AveragePool 4x4 stride 4, Flatten, Gemm to 4 box values (cx, cy, w, h), no softmax"
                      : trunk + "; head GlobalAveragePool, Flatten, Gemm (10 classes), Softmax",
            regressor ? "He init, BN statistics from the calibration batch, box head fitted by ridge regression to rectangles' (cx, cy, w, h)"
                      : "He init, BN statistics from the calibration batch, logits fitted by ridge regression to 10 image template classes (x8 temperature)")
        { Sampler = SamplerOf(task) };
    }

    private static FloatModel Embedding()
    {
        var task = new TemplateTask(0x454D42UL, 16, c: 1, h: 32, w: 32, maxShift: 2, noise: 0.2f);
        var rng = new ZooRandom(0x3001);
        var calibration = task.Balanced(320, rng.Fork("calibration"));
        var g = new ZooGraph("embedding", rng.Fork("weights"));
        var x = g.Input("face", [1, 32, 32], calibration.Select(e => e.X).ToArray());
        g.Scope = "conv1";
        var h = g.MaxPool(g.LeakyRelu(g.Conv(x, 16, 3, 1, 1, foldNorm: true), 0.1f), 2, 2);                 // [16,16,16]
        g.Scope = "conv2";
        h = g.AveragePool(g.LeakyRelu(g.Conv(h, 32, 3, 1, 1, foldNorm: true), 0.1f), 2, 2);                // [32,8,8]
        g.Scope = "conv3";
        h = g.AveragePool(g.LeakyRelu(g.Conv(h, 32, 3, 1, 1, foldNorm: true), 0.1f), 3, 2, pad: 1, countIncludePad: false); // [32,4,4]
        g.Scope = "embedding";
        var output = g.Rename(g.StandardizedDense(g.Flatten(h), 64, matMul: false), "embedding");
        var bytes = g.Finish(output);
        return new FloatModel("leaky-embedding", bytes, x, [1, 1, 32, 32], false, output, FloatModelKind.Regressor, 0, Ops(bytes),
            "Conv 3x3 + LeakyRelu(alpha 0.1) x3, MaxPool 2x2, AveragePool 2x2 s2, AveragePool 3x3 s2 pads 1 count_include_pad=0, Flatten, Gemm to a 64-float embedding (not L2-normalised)",
            "He init rescaled per channel on the calibration batch (unit variance, no BN), Xavier embedding layer standardised per output")
        { Sampler = SamplerOf(task) };
    }

    private static FloatModel ResNet()
    {
        const int classes = 10;
        var task = new TemplateTask(0x524553UL, classes, c: 3, h: 32, w: 32, maxShift: 2, noise: 0.2f);
        var rng = new ZooRandom(0x4001);
        var calibration = task.Balanced(400, rng.Fork("calibration"));
        var g = new ZooGraph("resnet", rng.Fork("weights"));
        var x = g.Input("image", [3, 32, 32], calibration.Select(e => e.X).ToArray());

        string ConvBn(string input, int outC, int k, int stride, int pad, float gammaLo = 0.8f, float gammaHi = 1.2f) =>
            g.BatchNorm(g.Conv(input, outC, k, stride, pad, bias: false), gammaLo, gammaHi, -0.1f, 0.3f);

        g.Scope = "stem";
        var stem = g.Relu(ConvBn(x, 16, 3, 2, 1));                                         // [16,16,16]
        g.Scope = "layer1";
        var branch = ConvBn(g.Relu(ConvBn(stem, 16, 3, 1, 1)), 16, 3, 1, 1, 0.3f, 0.6f);
        var h = g.Relu(g.Add(stem, branch));                                                 // identity skip
        g.Scope = "layer2";
        branch = ConvBn(g.Relu(ConvBn(h, 32, 3, 2, 1)), 32, 3, 1, 1, 0.3f, 0.6f);
        var skip = ConvBn(h, 32, 1, 2, 0);                                                   // 1x1 projection skip
        h = g.Relu(g.Add(skip, branch));                                                     // [32,8,8]
        g.Scope = "mixed";
        var b1 = g.Relu(g.Conv(h, 24, 1, 1, 0, foldNorm: true));
        var b2 = g.Relu(g.Conv(h, 24, 3, 1, 1, foldNorm: true));
        h = g.ConcatChannels(b1, b2);                                                        // [48,8,8]
        g.Scope = "head";
        var pooled = g.ReduceMeanSpatial(h, keepDims: false);                                // [48]
        var logits = g.FittedDense(pooled, OneHot(calibration, classes), matMul: false, lambda: 0.1, gain: 8.0);
        g.Scope = "";
        var output = g.Softmax(logits, "probabilities");
        var bytes = g.Finish(output);
        return new FloatModel("resnet", bytes, x, [1, 3, 32, 32], false, output, FloatModelKind.Classifier, classes, Ops(bytes),
            "Conv+BN+Relu stem; residual block with identity skip (Add); residual block with stride 2 and a 1x1 Conv+BN projection on the skip; two branches (1x1 and 3x3 Conv + Relu) concatenated along channels; ReduceMean over H,W (keepdims=0); Gemm; Softmax",
            "He init, BN statistics from the calibration batch (second BN of each block with gamma 0.3-0.6), logits fitted by ridge regression to 10 image template classes (x8 temperature)")
        { Sampler = SamplerOf(task) };
    }

    private static FloatModel TorchStyle()
    {
        const int classes = 10;
        var task = new TemplateTask(0x544F52UL, classes, c: 3, h: 16, w: 16, maxShift: 1, noise: 0.2f);
        var rng = new ZooRandom(0x5001);
        var calibration = task.Balanced(400, rng.Fork("calibration"));
        var g = new ZooGraph("main_graph", rng.Fork("weights"), constantWeights: true);
        var x = g.Input("input", [3, 16, 16], calibration.Select(e => e.X).ToArray());

        Act Map(string v, Func<float, float> f) => g.A(v).Map(f);
        Act Zip(string a, string b, Func<float, float, float> f)
        {
            // Elementwise with b broadcast over a's trailing (spatial) positions when b is [C,1,1].
            var (p, q) = (g.A(a), g.A(b));
            var per = p.Rows[0].Length / q.Rows[0].Length;
            return new Act(p.Shape, p.Rows.Select((r, n) => r.Select((v, i) => f(v, q.Rows[n][i / per])).ToArray()).ToArray());
        }
        static float Sigmoid(float v) => (float)(1.0 / (1.0 + Math.Exp(-v)));

        g.Scope = "conv1";
        var c1 = g.Conv(x, 8, 3, 2, 1, foldNorm: true, betaLo: -0.5f, betaHi: 0.5f);       // [8,8,8]
        g.Scope = "act1";
        var slopes = g.Rng.Uniforms(8, 0.05f, 0.3f);
        var slope = g.Initializer("prelu_slope", slopes, 8, 1, 1);
        var p1Act = new Act(g.A(c1).Shape, g.A(c1).Rows.Select(r => r.Select((v, i) => v >= 0 ? v : v * slopes[i / 64]).ToArray()).ToArray());
        var p1 = g.Node("PRelu", [c1, slope], [], p1Act);
        var h1 = g.Node("HardSwish", [p1], [], Map(p1, v => v * Math.Clamp(v / 6f + 0.5f, 0f, 1f)));
        g.Scope = "conv2";
        var c2 = g.Conv(h1, 16, 3, 2, 1, foldNorm: true, betaLo: -0.3f, betaHi: 0.3f);    // [16,4,4]
        g.Scope = "act2";
        var t2 = g.Node("Tanh", [c2], [], Map(c2, v => (float)Math.Tanh(v)));
        var gate = g.Node("HardSigmoid", [c2], [OnnxAttribute.Of("alpha", 0.2f), OnnxAttribute.Of("beta", 0.5f)], Map(c2, v => Math.Clamp(0.2f * v + 0.5f, 0f, 1f)));
        var m2 = g.Node("Mul", [t2, gate], [], Zip(t2, gate, (a, b) => a * b));

        g.Scope = "se";
        var meanAct = ZooKernels.SpatialMean(g.A(m2));
        var s = g.Node("ReduceMean", [m2], [OnnxAttribute.Of("axes", new long[] { 2, 3 }), OnnxAttribute.Of("keepdims", 1L)], new Act([16, 1, 1], meanAct.Rows));
        var sq = g.Node("Squeeze", [s, g.Int64s("axes", [2, 3], 2)], [], meanAct);          // [16]
        var seW = g.Rng.Normals(16 * 16, Math.Sqrt(1.0 / 16));                              // [out, in]
        var seB = g.Rng.Uniforms(16, 0.5f, 1.5f);
        var seAct = ZooKernels.Dense(meanAct, seW, seB, 16);
        var seWt = new float[256];
        for (var o = 0; o < 16; o++)
            for (var i = 0; i < 16; i++) seWt[i * 16 + o] = seW[o * 16 + i];
        var fc = g.Node("MatMul", [sq, g.Weight("fc.weight", seWt, 16, 16)], [], null, [16]);
        var fcb = g.Node("Add", [fc, g.Weight("fc.bias", seB, 16)], [], seAct);
        var sig = g.Node("Sigmoid", [fcb], [], Map(fcb, Sigmoid));
        var un = g.Node("Unsqueeze", [sig, g.Int64s("axes", [2, 3], 2)], [], new Act([16, 1, 1], g.A(sig).Rows));
        var y = g.Node("Mul", [m2, un], [], Zip(m2, un, (a, b) => a * b));                 // [16,4,4]

        g.Scope = "";
        var yAct = g.A(y);
        var nhwc = yAct.Rows.Select(r =>
        {
            var o = new float[r.Length];
            for (var c = 0; c < 16; c++)
                for (var p = 0; p < 16; p++) o[p * 16 + c] = r[c * 16 + p];
            return o;
        }).ToArray();
        var tr = g.Node("Transpose", [y], [OnnxAttribute.Of("perm", new long[] { 0, 2, 3, 1 })], new Act([4, 4, 16], nhwc));
        var shape = g.Node("Shape", [tr], [], null);
        var n = g.Node("Gather", [shape, g.Int64s("index", [0])], [OnnxAttribute.Of("axis", 0L)], null);
        var n1 = g.Node("Unsqueeze", [n, g.Int64s("axes", [0], 1)], [], null);
        var target = g.Node("Concat", [n1, g.Int64s("minus_one", [-1], 1)], [OnnxAttribute.Of("axis", 0L)], null);
        var flat = g.Node("Reshape", [tr, target], [], new Act([256], nhwc));
        var shape2 = g.Node("Shape", [flat], [], null);
        var offsets = g.Node("ConstantOfShape", [shape2], [OnnxAttribute.Of("value", Tensor.Create<float>(TensorElementType.Float, [1], [0.25f]))], null);
        var shifted = g.Node("Add", [flat, offsets], [], new Act([256], nhwc.Select(r => r.Select(v => v + 0.25f).ToArray()).ToArray()));
        g.Scope = "fc";
        var logits = g.FittedDense(shifted, OneHot(calibration, classes), matMul: true, lambda: 1.0, gain: 8.0);
        g.Scope = "";
        var output = g.LogSoftmax(logits, "log_probs");
        var bytes = g.Finish(output);
        return new FloatModel("torch-style", bytes, x, [1, 3, 16, 16], false, output, FloatModelKind.Classifier, classes, Ops(bytes),
            "weights as Constant nodes (not initializers; PRelu slope [8,1,1] is an initializer); Conv, PRelu, HardSwish, Tanh, HardSigmoid, Mul; squeeze-excitation (ReduceMean keepdims, Squeeze/Unsqueeze with Constant axes, MatMul+Add, Sigmoid); Transpose to NHWC; Shape -> Gather -> Unsqueeze -> Concat -> Reshape; Shape -> ConstantOfShape -> Add; MatMul+Add logits; LogSoftmax",
            "He init rescaled per channel on the calibration batch, random squeeze-excitation, logits fitted by ridge regression to 10 image template classes (x8 temperature); the fit uses Math.Exp/Tanh (the only zoo model whose bytes depend on libm)")
        { Sampler = SamplerOf(task) };
    }
}
