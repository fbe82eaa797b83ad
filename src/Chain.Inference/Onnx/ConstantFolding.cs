using Chain.Inference.Protobuf;

namespace Chain.Inference.Onnx;

/// <summary>
/// Turns ai.onnx Constant nodes into initializers named by the node's output when a model is read, so
/// admission and both executors only ever see initializers (the model id still hashes the bytes as
/// given). The constant is the <c>value</c> tensor, or <c>value_int</c>/<c>value_ints</c> as int64 and
/// <c>value_float</c>/<c>value_floats</c> as float32, each a scalar or 1-D; string and sparse constants
/// are refused. Initializers keep their order, and the folded ones follow in node order.
/// </summary>
internal static class ConstantFolding
{
    public static OnnxGraph Fold(OnnxGraph graph, long? opset)
    {
        if (!graph.Nodes.Any(IsConstant)) return graph;
        // Names defined by anything but a Constant; a Constant may not redefine one (nor another Constant's).
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in graph.Initializers) defined.Add(t.Name);
        foreach (var v in graph.Inputs) defined.Add(v.Name);
        foreach (var n in graph.Nodes.Where(n => !IsConstant(n)))
            foreach (var o in n.Outputs.Where(o => o.Length > 0)) defined.Add(o);
        var nodes = new List<OnnxNode>(graph.Nodes.Count);
        var initializers = graph.Initializers.ToList();
        foreach (var node in graph.Nodes)
        {
            if (!IsConstant(node))
            {
                nodes.Add(node);
                continue;
            }
            var value = Value(node, opset);
            var output = node.Outputs.Count == 1 && node.Outputs[0].Length > 0
                ? node.Outputs[0]
                : throw Error(node, $"must have exactly one named output, has {node.Outputs.Count}");
            if (!defined.Add(output)) throw Error(node, $"output '{output}' is already defined elsewhere in the graph");
            initializers.Add(new OnnxTensor(output, value));
        }
        return graph with { Nodes = nodes, Initializers = initializers };
    }

    private static bool IsConstant(OnnxNode node) => node.OpType == "Constant" && node.Domain is "" or "ai.onnx";

    private static Tensor Value(OnnxNode node, long? opset)
    {
        if (node.Inputs.Count > 0) throw Error(node, $"takes no inputs, has {node.Inputs.Count}");
        if (node.Attributes.Count != 1)
            throw Error(node, $"needs exactly one value attribute, has {node.Attributes.Count} ({string.Join(", ", node.Attributes.Select(a => a.Name))})");
        var a = node.Attributes[0];
        // Constant-12 added every form but the tensor; before it only 'value' (and sparse_value) exist.
        if (a.Name != "value" && opset < 12) throw Error(node, $"attribute '{a.Name}' needs opset 12 or later (model imports {opset})");
        return a.Name switch
        {
            "value" => a.AsTensor(),
            "value_int" => Tensor.Create<long>(TensorElementType.Int64, [], [a.AsInt()]),
            "value_ints" => Tensor.Create<long>(TensorElementType.Int64, [a.AsInts().Length], a.AsInts()),
            "value_float" => Tensor.Create<float>(TensorElementType.Float, [], [a.AsFloat()]),
            "value_floats" => Tensor.Create<float>(TensorElementType.Float, [a.AsFloats().Length], a.AsFloats()),
            "value_string" or "value_strings" => throw Error(node, $"'{a.Name}' is a string constant; string tensors are not supported"),
            "sparse_value" => throw Error(node, "'sparse_value' is a sparse constant; sparse tensors are not supported"),
            _ => throw Error(node, $"attribute '{a.Name}' is not a Constant value"),
        };
    }

    private static OnnxFormatException Error(OnnxNode node, string message) => new($"Constant node {node.DisplayName}: {message}");
}
