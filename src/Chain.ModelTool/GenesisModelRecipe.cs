using System.Diagnostics;

namespace Chain.ModelTool;

/// <summary>What a recipe run produced: the quantized model and how good and how costly it is.</summary>
public sealed record ModelReport(
    QuantizedModel Model,
    TrainingOptions Options,
    double[] EpochLoss,
    double FloatAccuracy,
    double Int8Accuracy,
    double Int8AgreementWithFloat,
    TimeSpan TrainTime,
    TimeSpan QuantizeTime,
    long FloatParameterCount);

/// <summary>
/// The two genesis models: how they are trained (seeded, deterministic float32) and post-training quantized
/// into the integer graph the chain executes. The same seed and data give byte-identical JSON.
/// </summary>
public static class GenesisModelRecipe
{
    public const ulong DefaultSeed = 20260101;
    public const int MlpHidden = 128;
    public const int CnnChannels1 = 8, CnnChannels2 = 16;

    public static TrainingOptions MlpOptions(ulong seed) => new(Epochs: 8, BatchSize: 64, LearningRate: 2e-3f, Seed: seed);
    public static TrainingOptions CnnOptions(ulong seed) => new(Epochs: 8, BatchSize: 64, LearningRate: 3e-3f, Seed: seed);

    private static readonly int[] ImageShape = [1, 1, 28, 28];

    public static ModelReport TrainMlp(string mnistDir, ulong seed, Action<string>? log = null) =>
        TrainMlp(MnistSet.Load(mnistDir, "train"), MnistSet.Load(mnistDir, "t10k"), MlpOptions(seed), MlpHidden, log);

    public static ModelReport TrainCnn(string mnistDir, ulong seed, Action<string>? log = null) =>
        TrainCnn(MnistSet.Load(mnistDir, "train"), MnistSet.Load(mnistDir, "t10k"), CnnOptions(seed), CnnChannels1, CnnChannels2, log);

    public static ModelReport TrainMlp(MnistSet train, MnistSet test, TrainingOptions o, int hidden, Action<string>? log = null)
    {
        CheckImages(train);
        var sw = Stopwatch.StartNew();
        var net = new FloatMlp(hidden, new Rng(o.Seed));
        var training = Trainer.Train(net, train, o, log);
        var trainTime = sw.Elapsed;
        sw.Restart();
        var act = Calibrate(train, o.CalibrationImages, net.CreateWorkspace, (img, ws) => net.Activations(img, ws), 2);
        var input = new QuantizedInput("image", ImageShape, 1f / 255f, 0);
        var (hScale, hZp) = Requant.ReluParameters(act[0], o.ActivationPercentile);
        var (lScale, lZp) = Requant.AsymmetricParameters(act[1]);
        var layers = new List<QuantizedLayer>
        {
            new ReshapeLayer("flatten", "image", "image_flat", [1, 784, 1, 1], [1, 784, 1, 1]),
            BuildConv("fc1", "image_flat", "hidden", [1, hidden, 1, 1], input.Scale, input.ZeroPoint, net.W1OutputMajor(), net.B1,
                [hidden, 784, 1, 1], hScale, hZp, [0, 0, 0, 0], true, o.PerChannelWeights),
            BuildConv("fc2", "hidden", "logits_4d", [1, 10, 1, 1], hScale, hZp, net.W2OutputMajor(), net.B2,
                [10, hidden, 1, 1], lScale, lZp, [0, 0, 0, 0], false, o.PerChannelWeights),
            new ReshapeLayer("logits_2d", "logits_4d", "logits", [1, 10], [1, 10]),
            new ArgMaxLayer("argmax", "logits", "class", [1], 1, false),
        };
        var model = new QuantizedModel($"genesis-mnist-mlp-784-{hidden}-10", input, layers, ["logits", "class"]);
        return Report(model, net, test, o, training, trainTime, sw);
    }

    public static ModelReport TrainCnn(MnistSet train, MnistSet test, TrainingOptions o, int c1, int c2, Action<string>? log = null)
    {
        CheckImages(train);
        var sw = Stopwatch.StartNew();
        var net = new FloatCnn(c1, c2, new Rng(o.Seed));
        var training = Trainer.Train(net, train, o, log);
        var trainTime = sw.Elapsed;
        sw.Restart();
        var act = Calibrate(train, o.CalibrationImages, net.CreateWorkspace, (img, ws) => net.Activations(img, ws), 3);
        var input = new QuantizedInput("image", ImageShape, 1f / 255f, 0);
        var (s1, z1) = Requant.ReluParameters(act[0], o.ActivationPercentile);
        var (s2, z2) = Requant.ReluParameters(act[1], o.ActivationPercentile);
        var (s3, z3) = Requant.AsymmetricParameters(act[2]);
        var layers = new List<QuantizedLayer>
        {
            BuildConv("conv1", "image", "conv1_out", [1, c1, 28, 28], input.Scale, input.ZeroPoint, net.W1, net.B1,
                [c1, 1, 3, 3], s1, z1, [1, 1, 1, 1], true, o.PerChannelWeights),
            new MaxPoolLayer("pool1", "conv1_out", "pool1_out", [1, c1, 14, 14], [2, 2], [2, 2]),
            BuildConv("conv2", "pool1_out", "conv2_out", [1, c2, 14, 14], s1, z1, net.W2, net.B2,
                [c2, c1, 3, 3], s2, z2, [1, 1, 1, 1], true, o.PerChannelWeights),
            new MaxPoolLayer("pool2", "conv2_out", "pool2_out", [1, c2, 7, 7], [2, 2], [2, 2]),
            // The FC layer is a 7×7 convolution over the whole [1,C2,7,7] map: no flatten, bias and requant in one op.
            BuildConv("fc", "pool2_out", "logits_4d", [1, 10, 1, 1], s2, z2, net.W3, net.B3,
                [10, c2, 7, 7], s3, z3, [0, 0, 0, 0], false, o.PerChannelWeights),
            new ReshapeLayer("logits_2d", "logits_4d", "logits", [1, 10], [1, 10]),
            new ArgMaxLayer("argmax", "logits", "class", [1], 1, false),
        };
        var model = new QuantizedModel($"genesis-mnist-cnn-{c1}-{c2}", input, layers, ["logits", "class"]);
        return Report(model, net, test, o, training, trainTime, sw);
    }

    private static ModelReport Report(QuantizedModel model, FloatNet net, MnistSet test, TrainingOptions o,
        TrainingLog training, TimeSpan trainTime, Stopwatch quantizeWatch)
    {
        var quantizeTime = quantizeWatch.Elapsed;
        var floatAcc = Trainer.Accuracy(net, test);
        var int8Acc = IntegerReference.Accuracy(model, test);
        var agree = new int[test.Count];
        Parallel.For(0, test.Count, () => net.CreateWorkspace(), (i, _, ws) =>
        {
            agree[i] = net.Predict(test.Image(i), ws) == IntegerReference.Run(model, test.Image(i)).Class ? 1 : 0;
            return ws;
        }, _ => { });
        return new ModelReport(model, o, training.EpochLoss, floatAcc, int8Acc, agree.Sum() / (double)test.Count,
            trainTime, quantizeTime, net.Parameters.Sum(p => (long)p.Length));
    }

    private static void CheckImages(MnistSet set)
    {
        if (set.Rows != 28 || set.Cols != 28) throw new ArgumentException("the genesis models take 28x28 images");
    }

    /// <summary>Collects the float values at each quantization point over the first <paramref name="images"/> training images.</summary>
    private static float[][] Calibrate(MnistSet set, int images, Func<object> workspace, Func<byte[], object, float[][]> activations, int points)
    {
        var n = Math.Min(images, set.Count);
        var perImage = new float[n][][];
        Parallel.For(0, n, workspace, (i, _, ws) =>
        {
            perImage[i] = activations(set.Image(i).ToArray(), ws);
            return ws;
        }, _ => { });
        var result = new float[points][];
        for (var p = 0; p < points; p++) result[p] = perImage.SelectMany(a => a[p]).ToArray();
        return result;
    }

    /// <summary>
    /// Quantizes one float layer (weights [M, C·kH·kW] output-major, bias [M]) into a QLinearConv:
    /// symmetric s8 weights in [−64, 63] (per output channel or per tensor), int32 bias at x_scale·w_scale.
    /// </summary>
    internal static QLinearConvLayer BuildConv(string name, string input, string output, int[] outputShape,
        float inScale, byte inZp, float[] weights, float[] bias, int[] weightShape, float outScale, byte outZp,
        int[] pads, bool relu, bool perChannel)
    {
        var m = weightShape[0];
        var k = weights.Length / m;
        if (weights.Length != m * weightShape[1] * weightShape[2] * weightShape[3] || bias.Length != m)
            throw new ArgumentException($"{name}: weights/bias do not match shape [{string.Join(",", weightShape)}]");
        if (relu && outZp != 0) throw new ArgumentException($"{name}: a ReLU layer needs output zero point 0");
        var scales = perChannel
            ? Enumerable.Range(0, m).Select(o => Requant.WeightScale(weights.AsSpan(o * k, k))).ToArray()
            : [Requant.WeightScale(weights)];
        var q = new sbyte[weights.Length];
        var b = new int[m];
        for (var o = 0; o < m; o++)
        {
            var s = scales[perChannel ? o : 0];
            for (var j = 0; j < k; j++) q[o * k + j] = Requant.QuantizeWeight(weights[o * k + j], s);
            b[o] = Requant.QuantizeBias(bias[o], inScale, s);
        }
        return new QLinearConvLayer(name, input, output, outputShape, inScale, inZp, weightShape, q, scales, 0, b,
            outScale, outZp, [weightShape[2], weightShape[3]], [1, 1], pads, relu);
    }
}
