using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.ModelTool;

/// <summary>
/// Writes a <see cref="QuantizedModel"/> as the ONNX graph validators execute: one ONNX node per layer,
/// every constant an initializer, static shapes on the graph input and outputs. The node semantics are
/// exactly the ones <see cref="IntegerReference"/> implements, so the canonical executor must reproduce
/// its predictions bit for bit (a test checks that).
/// </summary>
public static class OnnxExport
{
    /// <summary>Opset 13: every op used here has had its current semantics since then.</summary>
    public const long Opset = 13;

    public static OnnxModel ToOnnx(QuantizedModel model)
    {
        var nodes = new List<OnnxNode>();
        var initializers = new List<OnnxTensor>();
        var shapes = new Dictionary<string, int[]> { [model.Input.Name] = model.Input.Shape };

        string Constant(string name, Tensor value)
        {
            initializers.Add(new OnnxTensor(name, value));
            return name;
        }

        foreach (var layer in model.Layers)
        {
            switch (layer)
            {
                case QLinearConvLayer conv:
                {
                    var p = conv.Name;
                    var inputs = new List<string>
                    {
                        conv.Input,
                        Constant($"{p}.x_scale", Scalar(conv.InputScale)),
                        Constant($"{p}.x_zero_point", Tensor.Create<byte>(TensorElementType.UInt8, [], [conv.InputZeroPoint])),
                        Constant($"{p}.w", Tensor.Create<sbyte>(TensorElementType.Int8, conv.WeightShape, conv.Weights)),
                        Constant($"{p}.w_scale", conv.WeightScales.Length == 1
                            ? Scalar(conv.WeightScales[0])
                            : Tensor.Create<float>(TensorElementType.Float, [conv.WeightScales.Length], conv.WeightScales)),
                        Constant($"{p}.w_zero_point", conv.WeightScales.Length == 1
                            ? Tensor.Create<sbyte>(TensorElementType.Int8, [], [conv.WeightZeroPoint])
                            : Tensor.Create<sbyte>(TensorElementType.Int8, [conv.WeightScales.Length], Enumerable.Repeat(conv.WeightZeroPoint, conv.WeightScales.Length).ToArray())),
                        Constant($"{p}.y_scale", Scalar(conv.OutputScale)),
                        Constant($"{p}.y_zero_point", Tensor.Create<byte>(TensorElementType.UInt8, [], [conv.OutputZeroPoint])),
                        Constant($"{p}.bias", Tensor.Create<int>(TensorElementType.Int32, [conv.Bias.Length], conv.Bias)),
                    };
                    nodes.Add(new OnnxNode(p, "QLinearConv", "", inputs, [conv.Output],
                    [
                        OnnxAttribute.Of("kernel_shape", conv.KernelShape.Select(v => (long)v).ToArray()),
                        OnnxAttribute.Of("strides", conv.Strides.Select(v => (long)v).ToArray()),
                        OnnxAttribute.Of("pads", conv.Pads.Select(v => (long)v).ToArray()),
                        OnnxAttribute.Of("dilations", new long[] { 1, 1 }),
                        OnnxAttribute.Of("group", 1L),
                    ]));
                    break;
                }
                case MaxPoolLayer pool:
                    nodes.Add(new OnnxNode(pool.Name, "MaxPool", "", [pool.Input], [pool.Output],
                    [
                        OnnxAttribute.Of("kernel_shape", pool.KernelShape.Select(v => (long)v).ToArray()),
                        OnnxAttribute.Of("strides", pool.Strides.Select(v => (long)v).ToArray()),
                    ]));
                    break;
                case ReshapeLayer reshape:
                    nodes.Add(new OnnxNode(reshape.Name, "Reshape", "",
                        [reshape.Input, Constant($"{reshape.Name}.shape", Tensor.Create<long>(TensorElementType.Int64, [reshape.Shape.Length], reshape.Shape))],
                        [reshape.Output], []));
                    break;
                case ArgMaxLayer argmax:
                    nodes.Add(new OnnxNode(argmax.Name, "ArgMax", "", [argmax.Input], [argmax.Output],
                    [
                        OnnxAttribute.Of("axis", (long)argmax.Axis),
                        OnnxAttribute.Of("keepdims", argmax.KeepDims ? 1L : 0L),
                        OnnxAttribute.Of("select_last_index", 0L),
                    ]));
                    break;
                default:
                    throw new InvalidOperationException($"layer {layer.Name} of type {layer.GetType().Name} has no ONNX export");
            }
            shapes[layer.Output] = layer.OutputShape;
        }

        var byOutput = model.Layers.ToDictionary(l => l.Output);
        var outputs = model.Outputs.Select(name => new OnnxValueInfo(name,
            (int)(byOutput[name] is ArgMaxLayer ? TensorElementType.Int64 : TensorElementType.UInt8),
            shapes[name].Select(d => OnnxDim.Fixed(d)).ToArray())).ToArray();
        var input = new OnnxValueInfo(model.Input.Name, (int)TensorElementType.UInt8, model.Input.Shape.Select(d => OnnxDim.Fixed(d)).ToArray());
        var graph = new OnnxGraph(model.Name, nodes, initializers, [input], outputs, []);
        return new OnnxModel(8, [new OpsetImport("", Opset)], graph, "chain-modeltool", "1");
    }

    public static byte[] ToBytes(QuantizedModel model) => ToOnnx(model).ToBytes();

    private static Tensor Scalar(float value) => Tensor.Create<float>(TensorElementType.Float, [], [value]);
}
