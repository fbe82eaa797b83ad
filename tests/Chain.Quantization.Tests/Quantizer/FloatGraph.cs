using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Quantization.Tests.Quantizer;

/// <summary>A small builder of float32 ONNX models with seeded random weights, for the quantizer's tests.</summary>
internal sealed class FloatGraph(int[] inputShape, int seed = 1, string input = "x")
{
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensor> _inits = [];
    private readonly Random _rng = new(seed);
    private int _next;

    public string Input => input;

    public string Const(int[] shape, Func<int, float> value)
    {
        var n = shape.Aggregate(1, (a, d) => a * d);
        var name = $"c{_next++}";
        _inits.Add(new OnnxTensor(name, Tensor.Create<float>(TensorElementType.Float, shape, Enumerable.Range(0, n).Select(value).ToArray())));
        return name;
    }

    public string Random(int[] shape, double std, double mean = 0) => Const(shape, _ => (float)(mean + std * Gauss()));

    /// <summary>A Constant node (not an initializer) holding seeded random values.</summary>
    public string ConstantNode(int[] shape, double std)
    {
        var n = shape.Aggregate(1, (a, d) => a * d);
        var output = $"k{_next++}";
        var value = Tensor.Create<float>(TensorElementType.Float, shape, Enumerable.Range(0, n).Select(_ => (float)(std * Gauss())).ToArray());
        _nodes.Add(new OnnxNode($"Constant_{_next}", "Constant", "", [], [output], [OnnxAttribute.Of("value", value)]));
        return output;
    }

    public string Ints(params long[] values)
    {
        var name = $"i{_next++}";
        _inits.Add(new OnnxTensor(name, Tensor.Create<long>(TensorElementType.Int64, [values.Length], values)));
        return name;
    }

    private double Gauss() => Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble());

    public string Op(string op, string[] inputs, params OnnxAttribute[] attrs)
    {
        var output = $"{op.ToLowerInvariant()}{_next++}";
        _nodes.Add(new OnnxNode($"{op}_{_next}", op, "", inputs, [output], attrs));
        return output;
    }

    public string Conv(string x, int cin, int cout, int k, int stride = 1, int pad = 0, int group = 1, int dilation = 1, bool bias = true)
    {
        var w = Random([cout, cin / group, k, k], 1.0 / Math.Sqrt(cin / group * k * k));
        string[] inputs = bias ? [x, w, Random([cout], 0.1)] : [x, w];
        return Op("Conv", inputs, OnnxAttribute.Of("kernel_shape", new long[] { k, k }), OnnxAttribute.Of("strides", new long[] { stride, stride }),
            OnnxAttribute.Of("pads", new long[] { pad, pad, pad, pad }), OnnxAttribute.Of("group", (long)group), OnnxAttribute.Of("dilations", new long[] { dilation, dilation }));
    }

    public string Gemm(string x, int k, int m, bool transB = true) =>
        Op("Gemm", [x, Random(transB ? [m, k] : [k, m], 1.0 / Math.Sqrt(k)), Random([m], 0.1)], OnnxAttribute.Of("transB", transB ? 1L : 0L));

    public OnnxModel Build(string[] outputs, long opset = 14, IReadOnlyList<KeyValuePair<string, string>>? metadata = null, bool dynamicBatch = false) =>
        new(8, [new OpsetImport("", opset)], new OnnxGraph("float", _nodes, _inits,
            [new OnnxValueInfo(input, (int)TensorElementType.Float, inputShape.Select((d, i) => i == 0 && dynamicBatch ? OnnxDim.Symbolic("batch") : OnnxDim.Fixed(d)).ToArray())],
            outputs.Select(o => new OnnxValueInfo(o, (int)TensorElementType.Float, null)).ToArray(), []), "test", "1", metadata);

    public byte[] Bytes(params string[] outputs) => Build(outputs).ToBytes();
}
