using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Cli.Commands;

/// <summary>
/// A ResNet-shaped int8 CNN with seeded random weights, for measuring and testing large models: a 3×3 stem, four
/// stages of basic blocks (two 3×3 QLinearConv and a QLinearAdd shortcut; a strided 1×1 projection where the shape
/// changes), QLinearGlobalAveragePool and a QLinearMatMul classifier. The blocks per stage and the stem width set
/// the size: ResNet-18's layout [2, 2, 2, 2] at width 64 is about 11 MB, ResNet-34's [3, 4, 6, 3] at width 80 about
/// 33 MB. Stage widths double from the stem's, capped at 672 so a 3×3 kernel stays within admission's 2^22 elements
/// per tensor. The input is a small u8 image (8×8 by default) so that inference stays cheap next to the weights.
/// </summary>
public static class SyntheticResNet
{
    public const int MaxWidth = 672;

    /// <summary>The model's ONNX bytes.</summary>
    public static byte[] Create(int seed, int width = 80, int[]? blocks = null, int imageSize = 8, int classes = 10)
    {
        blocks ??= [3, 4, 6, 3];
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 1);
        var g = new Builder(new Random(seed));
        var x = g.Conv("x", 3, width, stride: 1, kernel: 3);
        int channels = width;
        for (int stage = 0; stage < blocks.Length; stage++)
        {
            int outChannels = Math.Min(width << stage, MaxWidth);
            for (int block = 0; block < blocks[stage]; block++)
            {
                int stride = stage > 0 && block == 0 ? 2 : 1;
                var y = g.Conv(x, channels, outChannels, stride, 3);
                y = g.Conv(y, outChannels, outChannels, 1, 3);
                var shortcut = stride == 1 && channels == outChannels ? x : g.Conv(x, channels, outChannels, stride, 1);
                x = g.Add(y, shortcut);
                channels = outChannels;
            }
        }
        var pooled = g.Node("QLinearGlobalAveragePool", Builder.Microsoft, [x, g.Scale, g.ZeroPoint, g.Scale, g.ZeroPoint]);
        var flat = g.Node("Flatten", "", [pooled], OnnxAttribute.Of("axis", 1L));
        var logits = g.MatMul(flat, channels, classes);
        return g.Model(imageSize, logits, classes).ToBytes();
    }

    private sealed class Builder(Random random)
    {
        public const string Microsoft = "com.microsoft";
        private readonly List<OnnxNode> _nodes = [];
        private readonly List<OnnxTensor> _initializers = [];
        private int _next;

        public string Scale { get; } = "activation_scale";
        public string ZeroPoint { get; } = "activation_zero_point";

        private string Name(string prefix) => $"{prefix}{_next++}";

        private string Constant(string prefix, Tensor value)
        {
            var name = Name(prefix);
            _initializers.Add(new OnnxTensor(name, value));
            return name;
        }

        // Weights in [-64, 63] (admission's u8×s8 bound), scaled so a layer's outputs spread over the u8 range.
        private (string Weights, string Scale) Weights(int[] shape, int fanIn)
        {
            var data = new sbyte[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < data.Length; i++) data[i] = (sbyte)random.Next(-64, 64);
            var w = Constant("w", Tensor.Create<sbyte>(TensorElementType.Int8, shape, data));
            var scale = Constant("w_scale", Tensor.Create<float>(TensorElementType.Float, [], [1f / (37f * MathF.Sqrt(fanIn))]));
            return (w, scale);
        }

        public string Node(string op, string domain, string[] inputs, params OnnxAttribute[] attributes)
        {
            var output = Name(op.ToLowerInvariant() + "_");
            _nodes.Add(new OnnxNode(output, op, domain, inputs, [output], attributes));
            return output;
        }

        public string Conv(string x, int inChannels, int outChannels, int stride, int kernel)
        {
            var (w, wScale) = Weights([outChannels, inChannels, kernel, kernel], inChannels * kernel * kernel);
            var wZero = Constant("w_zero_point", Tensor.Create<sbyte>(TensorElementType.Int8, [], [0]));
            int pad = kernel / 2;
            return Node("QLinearConv", "", [x, Scale, ZeroPoint, w, wScale, wZero, Scale, ZeroPoint],
                OnnxAttribute.Of("kernel_shape", new long[] { kernel, kernel }), OnnxAttribute.Of("strides", new long[] { stride, stride }),
                OnnxAttribute.Of("pads", new long[] { pad, pad, pad, pad }));
        }

        public string Add(string a, string b) => Node("QLinearAdd", Microsoft, [a, Scale, ZeroPoint, b, Scale, ZeroPoint, Scale, ZeroPoint]);

        public string MatMul(string x, int inFeatures, int outFeatures)
        {
            var (w, wScale) = Weights([inFeatures, outFeatures], inFeatures);
            var wZero = Constant("w_zero_point", Tensor.Create<sbyte>(TensorElementType.Int8, [], [0]));
            return Node("QLinearMatMul", "", [x, Scale, ZeroPoint, w, wScale, wZero, Scale, ZeroPoint]);
        }

        public OnnxModel Model(int imageSize, string output, int classes)
        {
            _initializers.Add(new OnnxTensor(Scale, Tensor.Create<float>(TensorElementType.Float, [], [1f / 16])));
            _initializers.Add(new OnnxTensor(ZeroPoint, Tensor.Create<byte>(TensorElementType.UInt8, [], [0])));
            var input = new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(3), OnnxDim.Fixed(imageSize), OnnxDim.Fixed(imageSize)]);
            var result = new OnnxValueInfo(output, (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(classes)]);
            return new OnnxModel(9, [new OpsetImport("", 17), new OpsetImport(Microsoft, 1)],
                new OnnxGraph("synthetic-resnet", _nodes, _initializers, [input], [result], []), "chain-bench", "1");
        }
    }
}
