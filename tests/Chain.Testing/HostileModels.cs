using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Testing;

/// <summary>Models an attacker would register, built in code with the project's own ONNX writer.</summary>
public static class HostileModels
{
    /// <summary>
    /// x int64 [side,1]; t = Transpose(x) [1,side]; then <paramref name="adds"/> broadcast Adds, each [side,side]
    /// int64 (32 MiB at side 2048). Chained (<paramref name="allOutputs"/> false), each intermediate dies after the
    /// next Add and the memory plan needs two of them. With <paramref name="allOutputs"/> every one is a graph output
    /// and lives to the end (the hostile case the memory plan refuses); the small t comes first, because a receipt
    /// records the first output, so the chain's output-size rule does not refuse the model before the memory plan.
    /// </summary>
    public static OnnxModel BroadcastAdds(int adds = 4000, bool allOutputs = true, int side = 2048)
    {
        static OnnxValueInfo Value(string name, params long[] shape) =>
            new(name, (int)TensorElementType.Int64, shape.Select(OnnxDim.Fixed).ToArray());
        var nodes = new List<OnnxNode> { new("transpose_t", "Transpose", "", ["x"], ["t"], []) };
        var outputs = new List<OnnxValueInfo> { Value("t", 1, side) };
        for (var i = 0; i < adds; i++)
        {
            var a = allOutputs || i == 0 ? "x" : $"a{i - 1}";
            nodes.Add(new OnnxNode($"add_a{i}", "Add", "", [a, "t"], [$"a{i}"], []));
            if (allOutputs) outputs.Add(Value($"a{i}", side, side));
        }
        if (!allOutputs) outputs.Add(Value($"a{adds - 1}", side, side));
        return new OnnxModel(9, [new OpsetImport("", 17)], new OnnxGraph("hostile", nodes, [], [Value("x", side, 1)], outputs, []),
            "chain-tests", "1");
    }
}
