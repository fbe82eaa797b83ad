using Chain.Inference.Onnx;

namespace Chain.Inference.Tests.Onnx;

/// <summary>Builds small models in code with the project's own writer types.</summary>
internal static class Models
{
    public static OnnxValueInfo Value(string name, TensorElementType type, params long[] shape) =>
        new(name, (int)type, shape.Select(OnnxDim.Fixed).ToArray());

    public static OnnxNode Node(string op, string[] inputs, string[] outputs, params OnnxAttribute[] attributes) =>
        new(outputs.FirstOrDefault() is { } o ? op.ToLowerInvariant() + "_" + o : op, op, "", inputs, outputs, attributes);

    public static OnnxTensor Init(string name, TensorElementType type, int[] shape, byte[] data) => new(name, Tensor.Create(type, shape, data));

    public static OnnxTensor Int8(string name, int[] shape, params sbyte[] values) => new(name, Tensor.Create<sbyte>(TensorElementType.Int8, shape, values));

    public static OnnxTensor UInt8(string name, int[] shape, params byte[] values) => new(name, Tensor.Create<byte>(TensorElementType.UInt8, shape, values));

    public static OnnxTensor Int64(string name, int[] shape, params long[] values) => new(name, Tensor.Create<long>(TensorElementType.Int64, shape, values));

    public static OnnxTensor Int32(string name, int[] shape, params int[] values) => new(name, Tensor.Create<int>(TensorElementType.Int32, shape, values));

    public static OnnxTensor Float(string name, int[] shape, params float[] values) => new(name, Tensor.Create<float>(TensorElementType.Float, shape, values));

    public static OnnxModel Model(IEnumerable<OnnxNode> nodes, IEnumerable<OnnxValueInfo> inputs, IEnumerable<OnnxValueInfo> outputs,
        IEnumerable<OnnxTensor>? initializers = null, long opset = 17) =>
        new(9, [new OpsetImport("", opset)],
            new OnnxGraph("test", nodes.ToArray(), (initializers ?? []).ToArray(), inputs.ToArray(), outputs.ToArray(), []),
            "chain-tests", "1");

    /// <summary>u8 activations [1,k] × s8 weights [k,n] with MatMulInteger: the canonical admitted model.</summary>
    public static OnnxModel MatMulInteger(int k, int n, sbyte weight, TensorElementType activation = TensorElementType.UInt8)
    {
        var w = Enumerable.Repeat(weight, k * n).ToArray();
        return Model(
            [Node("MatMulInteger", ["x", "w"], ["y"])],
            [Value("x", activation, 1, k)],
            [Value("y", TensorElementType.Int32, 1, n)],
            [Int8("w", [k, n], w)]);
    }
}
