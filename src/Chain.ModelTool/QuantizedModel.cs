using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chain.ModelTool;

/// <summary>
/// A quantized model as a straight-line graph of ONNX operators, ready for the ONNX writer: one layer
/// record per ONNX node, tensors named, every constant in the exact integer form the node takes.
/// Layers run in list order; each reads the tensor named <see cref="QuantizedLayer.Input"/> (the graph
/// input or an earlier layer's output). All u8 tensors carry (scale, zero point); Reshape and MaxPool
/// outputs keep their input's. <see cref="IntegerReference"/> executes exactly this description.
/// </summary>
public sealed record QuantizedModel(
    string Name,
    QuantizedInput Input,
    IReadOnlyList<QuantizedLayer> Layers,
    IReadOnlyList<string> Outputs)
{
    /// <summary>Multiply-accumulates of one inference (QLinearConv nodes only).</summary>
    public long MacCount => Layers.OfType<QLinearConvLayer>().Sum(l => l.MacCount);

    /// <summary>Bytes of constants: s8 weights plus int32 biases (scales and zero points not counted).</summary>
    public long ParameterBytes => Layers.OfType<QLinearConvLayer>().Sum(l => (long)l.Weights.Length + 4L * l.Bias.Length);

    public long ParameterCount => Layers.OfType<QLinearConvLayer>().Sum(l => (long)l.Weights.Length + l.Bias.Length);
}

/// <summary>The graph input: u8 pixels, real value = (q − zero point) × scale (scale 1/255, zero point 0 for MNIST).</summary>
public sealed record QuantizedInput(string Name, int[] Shape, float Scale, byte ZeroPoint);

/// <summary>One ONNX node; <c>op</c> in JSON is the ONNX op_type.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "op")]
[JsonDerivedType(typeof(QLinearConvLayer), "QLinearConv")]
[JsonDerivedType(typeof(MaxPoolLayer), "MaxPool")]
[JsonDerivedType(typeof(ReshapeLayer), "Reshape")]
[JsonDerivedType(typeof(ArgMaxLayer), "ArgMax")]
public abstract record QuantizedLayer(string Name, string Input, string Output, int[] OutputShape);

/// <summary>
/// ONNX QLinearConv (group 1, dilations 1), inputs in ONNX order: x, x_scale, x_zero_point (u8),
/// w [M,C,kH,kW] s8, w_scale (float, length 1 = per tensor or M = per output channel), w_zero_point (s8 0),
/// y_scale, y_zero_point (u8), B (int32 [M], scale x_scale·w_scale[m], zero point 0).
/// Weights are symmetric and within [−64, 63] (consensus rule). A ReLU layer has y_zero_point 0, so the
/// u8 saturation at 0 is the ReLU. Fully connected layers are this node with a 1×1 kernel over [1,K,1,1]
/// (or a kernel as large as the input) so that bias and requantization stay inside one exact op.
/// Pads are ONNX order [top, left, bottom, right].
/// </summary>
public sealed record QLinearConvLayer(
    string Name, string Input, string Output, int[] OutputShape,
    float InputScale, byte InputZeroPoint,
    int[] WeightShape,
    [property: JsonConverter(typeof(Base64SByteConverter))] sbyte[] Weights,
    float[] WeightScales, sbyte WeightZeroPoint,
    int[] Bias,
    float OutputScale, byte OutputZeroPoint,
    int[] KernelShape, int[] Strides, int[] Pads,
    bool Relu)
    : QuantizedLayer(Name, Input, Output, OutputShape)
{
    public int OutChannels => WeightShape[0];
    public int InChannels => WeightShape[1];

    public long MacCount => (long)OutputShape[1] * OutputShape[2] * OutputShape[3] * InChannels * KernelShape[0] * KernelShape[1];

    /// <summary>Requantization multiplier of output channel <paramref name="m"/>: float32((x_scale·w_scale)/y_scale), in that order.</summary>
    public float Multiplier(int m) => Requant.Multiplier(InputScale, WeightScales[WeightScales.Length == 1 ? 0 : m], OutputScale);
}

/// <summary>ONNX MaxPool on u8 (no padding, ceil_mode 0); output keeps the input's scale and zero point.</summary>
public sealed record MaxPoolLayer(string Name, string Input, string Output, int[] OutputShape, int[] KernelShape, int[] Strides)
    : QuantizedLayer(Name, Input, Output, OutputShape);

/// <summary>ONNX Reshape; <see cref="Shape"/> is the int64 shape initializer (no 0 or −1 entries).</summary>
public sealed record ReshapeLayer(string Name, string Input, string Output, int[] OutputShape, long[] Shape)
    : QuantizedLayer(Name, Input, Output, OutputShape);

/// <summary>ONNX ArgMax (int64 output; the first maximal index wins, i.e. select_last_index 0).</summary>
public sealed record ArgMaxLayer(string Name, string Input, string Output, int[] OutputShape, int Axis, bool KeepDims)
    : QuantizedLayer(Name, Input, Output, OutputShape);

/// <summary>Writes s8 arrays as base64 of their two's-complement bytes (a JSON array of 100k numbers is unwieldy).</summary>
public sealed class Base64SByteConverter : JsonConverter<sbyte[]>
{
    public override sbyte[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var bytes = reader.GetBytesFromBase64();
        return Array.ConvertAll(bytes, b => unchecked((sbyte)b));
    }

    public override void Write(Utf8JsonWriter writer, sbyte[] value, JsonSerializerOptions options) =>
        writer.WriteBase64StringValue(System.Runtime.InteropServices.MemoryMarshal.AsBytes(value.AsSpan()));
}

public static class QuantizedModelJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NewLine = "\n",
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>Byte-for-byte stable for equal models (fixed property order, shortest round-trip floats, "\n").</summary>
    public static string Serialize(QuantizedModel model) => JsonSerializer.Serialize(model, Options) + "\n";

    public static QuantizedModel Deserialize(string json) =>
        JsonSerializer.Deserialize<QuantizedModel>(json, Options) ?? throw new InvalidDataException("empty model JSON");
}
