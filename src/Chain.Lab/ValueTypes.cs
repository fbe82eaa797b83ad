using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Lab;

/// <summary>
/// The element type of every node output of a model that admission did not type (a researcher's float model seldom
/// declares its intermediates), so ONNX Runtime can be asked to expose them as graph outputs, which must carry an
/// element type. Ops whose output type is fixed or given by an attribute are looked up; every other op is taken to
/// output its first input's type (true of arithmetic, activations, pooling, reshapes). A value this cannot type is
/// left out of the trace rather than guessed.
/// </summary>
public static class ValueTypes
{
    public static IReadOnlyDictionary<string, TensorElementType> Infer(OnnxModel model, IReadOnlyList<int> order)
    {
        var graph = model.Graph;
        var types = new Dictionary<string, TensorElementType>(StringComparer.Ordinal);
        foreach (var v in graph.Inputs.Concat(graph.ValueInfo).Concat(graph.Outputs))
            if (v.ElemType != 0) types[v.Name] = v.ElementType;
        foreach (var t in graph.Initializers) types[t.Name] = t.Value.ElementType;
        foreach (var index in order)
        {
            var node = graph.Nodes[index];
            if (node.Outputs.Count == 0 || node.Outputs[0].Length == 0 || types.ContainsKey(node.Outputs[0])) continue;
            TensorElementType? InputType(int k) => node.InputAt(k) is { } input && types.TryGetValue(input, out var t) ? t : null;
            var type = OutputType(node, InputType);
            if (type is { } known) types[node.Outputs[0]] = known;
        }
        return types;
    }

    private static TensorElementType? OutputType(OnnxNode node, Func<int, TensorElementType?> inputType) => node.OpType switch
    {
        "Shape" or "Size" or "ArgMax" or "ArgMin" or "NonZero" or "NonMaxSuppression" => TensorElementType.Int64,
        "Equal" or "Less" or "LessOrEqual" or "Greater" or "GreaterOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf"
            => TensorElementType.Bool,
        "Cast" => (TensorElementType)node.GetInt("to", 0),
        "Constant" => node.GetTensor("value")?.ElementType,
        "ConstantOfShape" => node.GetTensor("value")?.ElementType ?? TensorElementType.Float,
        "QuantizeLinear" or "DynamicQuantizeLinear" => null, // the zero point's type decides: not worth guessing
        "DequantizeLinear" => TensorElementType.Float,
        "MatMulInteger" or "ConvInteger" => TensorElementType.Int32,
        "Where" => inputType(1),
        "RandomNormal" or "RandomUniform" or "EyeLike" => null,
        _ => inputType(0),
    };
}
