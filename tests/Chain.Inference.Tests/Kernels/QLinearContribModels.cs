using Chain.Inference.Onnx;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Kernels;

/// <summary>Single-node models of the com.microsoft QLinear ops, built with the project's writer.</summary>
internal static class QLinearContribModels
{
    public const string Domain = "com.microsoft";

    public static OnnxModel Model(OnnxNode node, IEnumerable<OnnxValueInfo> inputs, IEnumerable<OnnxTensor> inits, long opset = 17,
        bool importMicrosoft = true, long microsoftVersion = 1, T? outputType = null) =>
        new(9, importMicrosoft ? [new OpsetImport("", opset), new OpsetImport(Domain, microsoftVersion)] : [new OpsetImport("", opset)],
            new OnnxGraph("contrib", [node], inits.ToArray(), inputs.ToArray(), [new OnnxValueInfo(node.Outputs[0], (int)(outputType ?? (T)inputs.First().ElemType), null)], []),
            "chain-tests", "1");

    public static OnnxTensor Scale(string name, float v) => new(name, Tensor.Create<float>(T.Float, [], [v]));

    public static OnnxTensor ZeroPoint(string name, T type, int v) =>
        new(name, Tensor.Create(type, [], [unchecked((byte)v)]));

    private static OnnxValueInfo Input(string name, T type, int[] shape) =>
        new(name, (int)type, shape.Select(d => OnnxDim.Fixed(d)).ToArray());

    /// <summary>QLinearAdd or QLinearMul with A and B graph inputs (or B constant when <paramref name="bConst"/> is given).</summary>
    public static OnnxModel Binary(string op, T type, int[] aShape, int[] bShape, float sA, int zA, float sB, int zB, float sC, int zC,
        Tensor? bConst = null, bool omitZeroPoints = false)
    {
        var inits = new List<OnnxTensor> { Scale("sa", sA), Scale("sb", sB), Scale("sc", sC) };
        if (!omitZeroPoints)
        {
            inits.Add(ZeroPoint("za", type, zA));
            inits.Add(ZeroPoint("zb", type, zB));
            inits.Add(ZeroPoint("zc", type, zC));
        }
        var inputs = new List<OnnxValueInfo> { Input("a", type, aShape) };
        if (bConst is null) inputs.Add(Input("b", type, bShape));
        else inits.Add(new OnnxTensor("b", bConst));
        string[] ins = omitZeroPoints ? ["a", "sa", "", "b", "sb", "", "sc"] : ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"];
        return Model(new OnnxNode("n", op, Domain, ins, ["y"], []), inputs, inits);
    }

    public static OnnxModel GlobalPool(T type, int[] shape, float sx, int zx, float sy, int zy, params OnnxAttribute[] attrs) =>
        Model(new OnnxNode("n", "QLinearGlobalAveragePool", Domain, ["x", "sx", "zx", "sy", "zy"], ["y"], attrs),
            [Input("x", type, shape)],
            [Scale("sx", sx), ZeroPoint("zx", type, zx), Scale("sy", sy), ZeroPoint("zy", type, zy)]);

    public static OnnxModel AveragePool(T type, int[] shape, float sx, int zx, float sy, int zy, params OnnxAttribute[] attrs) =>
        Model(new OnnxNode("n", "QLinearAveragePool", Domain, ["x", "sx", "zx", "sy", "zy"], ["y"], attrs),
            [Input("x", type, shape)],
            [Scale("sx", sx), ZeroPoint("zx", type, zx), Scale("sy", sy), ZeroPoint("zy", type, zy)]);
}
