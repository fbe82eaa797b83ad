using System.Globalization;
using System.Text;
using System.Text.Json;
using Chain.Inference.Kernels;

namespace Chain.Inference.Onnx;

/// <summary>
/// How one quantized graph input or output maps to floats: <c>real = (q − ZeroPoint) · Scale</c>.
/// <see cref="FloatMin"/>/<see cref="FloatMax"/> is the float range the quantizer calibrated the tensor for
/// (values outside it saturate). <see cref="Postprocess"/> names a float step the quantizer left to the client
/// (only "softmax" or "log-softmax" on an output), else null.
/// </summary>
public sealed record QuantizedTensorInfo(
    string Name,
    TensorElementType Type,
    float Scale,
    int ZeroPoint,
    float FloatMin,
    float FloatMax,
    string? Postprocess = null);

/// <summary>
/// The float interface a quantized model records in its ONNX <c>metadata_props</c> (docs/onnx-subset.md,
/// section 2, "Float interface"), so that clients can take float inputs and show float outputs while transactions carry
/// only the integer tensors. Informational: consensus never reads metadata; a client that trusts it merely
/// quantizes its own input, and the receipt commits to the integer tensors it actually sent.
/// Keys: <see cref="Key"/> holds one JSON object
/// <c>{"version":1,"inputs":[T...],"outputs":[T...]}</c> with T =
/// <c>{"name","type":"int8"|"uint8","scale","zeroPoint","floatMin","floatMax"[,"postprocess"]}</c>, scales written as
/// the shortest text that round-trips the float32; <see cref="LabelsKey"/> optionally holds class labels, one per line.
/// </summary>
public sealed record QuantizationMetadata(IReadOnlyList<QuantizedTensorInfo> Inputs, IReadOnlyList<QuantizedTensorInfo> Outputs,
    IReadOnlyList<string>? Labels = null)
{
    public const string Key = "chain.quantization";
    public const string LabelsKey = "chain.labels";
    public const int Version = 1;

    /// <summary>The metadata of <paramref name="model"/>, or null when it records none. Throws <see cref="FormatException"/> when malformed.</summary>
    public static QuantizationMetadata? From(OnnxModel model)
    {
        var json = model.Metadata(Key);
        if (json is null) return null;
        var labels = model.Metadata(LabelsKey) is { } l ? l.Split('\n', StringSplitOptions.None) : null;
        return Parse(json, labels);
    }

    public static QuantizationMetadata Parse(string json, IReadOnlyList<string>? labels = null)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var version = root.GetProperty("version").GetInt32();
            if (version != Version) throw new FormatException($"{Key} version {version} is not supported (expected {Version})");
            return new QuantizationMetadata(ReadList(root, "inputs"), ReadList(root, "outputs"), labels);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"{Key} is malformed: {e.Message}");
        }
    }

    private static List<QuantizedTensorInfo> ReadList(JsonElement root, string property)
    {
        var list = new List<QuantizedTensorInfo>();
        foreach (var t in root.GetProperty(property).EnumerateArray())
        {
            var type = t.GetProperty("type").GetString() switch
            {
                "int8" => TensorElementType.Int8,
                "uint8" => TensorElementType.UInt8,
                var other => throw new FormatException($"{Key}: type '{other}' is not int8 or uint8"),
            };
            var scale = t.GetProperty("scale").GetSingle();
            if (!float.IsNormal(scale) || scale <= 0) throw new FormatException($"{Key}: scale {scale} is not a positive normal float32");
            var zp = t.GetProperty("zeroPoint").GetInt32();
            var (qmin, qmax) = type == TensorElementType.Int8 ? (-128, 127) : (0, 255);
            if (zp < qmin || zp > qmax) throw new FormatException($"{Key}: zero point {zp} is outside {TensorElementTypes.Name(type)}");
            var post = t.TryGetProperty("postprocess", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            if (post is not (null or "softmax" or "log-softmax")) throw new FormatException($"{Key}: postprocess '{post}' is not softmax or log-softmax");
            list.Add(new QuantizedTensorInfo(t.GetProperty("name").GetString() ?? "", type, scale, zp,
                t.GetProperty("floatMin").GetSingle(), t.GetProperty("floatMax").GetSingle(), post));
        }
        return list;
    }

    /// <summary>The metadata_props entries that record this interface.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToProps()
    {
        var props = new List<KeyValuePair<string, string>> { new(Key, ToJson()) };
        if (Labels is { Count: > 0 }) props.Add(new(LabelsKey, string.Join('\n', Labels)));
        return props;
    }

    public string ToJson()
    {
        var sb = new StringBuilder();
        sb.Append("{\"version\":").Append(Version).Append(",\"inputs\":");
        WriteList(sb, Inputs);
        sb.Append(",\"outputs\":");
        WriteList(sb, Outputs);
        sb.Append('}');
        return sb.ToString();
    }

    private static void WriteList(StringBuilder sb, IReadOnlyList<QuantizedTensorInfo> list)
    {
        sb.Append('[');
        for (var i = 0; i < list.Count; i++)
        {
            var t = list[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"name\":").Append(JsonSerializer.Serialize(t.Name))
              .Append(",\"type\":\"").Append(t.Type == TensorElementType.Int8 ? "int8" : "uint8").Append('"')
              .Append(",\"scale\":").Append(F(t.Scale))
              .Append(",\"zeroPoint\":").Append(t.ZeroPoint.ToString(CultureInfo.InvariantCulture))
              .Append(",\"floatMin\":").Append(F(t.FloatMin))
              .Append(",\"floatMax\":").Append(F(t.FloatMax));
            if (t.Postprocess is { } p) sb.Append(",\"postprocess\":\"").Append(p).Append('"');
            sb.Append('}');
        }
        sb.Append(']');
    }

    // "R" gives the shortest text that parses back to the same float32; JSON has no NaN/∞, and none are valid here.
    private static string F(float v) => float.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "0";

    public QuantizedTensorInfo? Input(string name) => Inputs.FirstOrDefault(t => t.Name == name);

    public QuantizedTensorInfo? Output(string name) => Outputs.FirstOrDefault(t => t.Name == name);

    /// <summary>
    /// The tensor a transaction carries for input <paramref name="inputName"/>: an integer tensor as given; a float32
    /// tensor quantized with the recorded parameters (<see cref="Quantize"/>). Throws <see cref="ArgumentException"/>
    /// with a one-line reason when a float tensor is given for an input the metadata does not describe.
    /// </summary>
    public Tensor PrepareInput(string inputName, Tensor given)
    {
        if (given.ElementType != TensorElementType.Float) return given;
        var info = Input(inputName) ?? throw new ArgumentException($"the model records no quantization for input '{inputName}'; give an integer tensor");
        return Quantize(info, given);
    }

    /// <summary>
    /// Quantizes a float32 tensor for input <paramref name="info"/> exactly as the model's own QuantizeLinear would
    /// (docs/inference-semantics.md, QuantizeLinear: one float32 division, round half to even, saturate).
    /// </summary>
    public static Tensor Quantize(QuantizedTensorInfo info, Tensor floats)
    {
        if (floats.ElementType != TensorElementType.Float)
            throw new ArgumentException($"input '{info.Name}' must be float32 to be quantized, not {TensorElementTypes.Name(floats.ElementType)}");
        var scale = Tensor.Create<float>(TensorElementType.Float, [], [info.Scale]);
        var zp = info.Type == TensorElementType.Int8
            ? Tensor.Create<sbyte>(TensorElementType.Int8, [], [(sbyte)info.ZeroPoint])
            : Tensor.Create<byte>(TensorElementType.UInt8, [], [(byte)info.ZeroPoint]);
        return CanonicalOps.QuantizeLinear(floats, scale, zp);
    }

    /// <summary>The float values of a quantized output: <c>(q − zp) · scale</c> in float32 (DequantizeLinear's rule).</summary>
    public static float[] Dequantize(QuantizedTensorInfo info, Tensor quantized)
    {
        if (quantized.ElementType != info.Type)
            throw new ArgumentException($"output '{info.Name}' is {TensorElementTypes.Name(quantized.ElementType)}, metadata says {TensorElementTypes.Name(info.Type)}");
        var values = new float[quantized.ElementCount];
        if (info.Type == TensorElementType.Int8)
        {
            var q = quantized.Elements<sbyte>();
            for (var i = 0; i < values.Length; i++) values[i] = (float)(q[i] - info.ZeroPoint) * info.Scale;
        }
        else
        {
            var q = quantized.Elements<byte>();
            for (var i = 0; i < values.Length; i++) values[i] = (float)(q[i] - info.ZeroPoint) * info.Scale;
        }
        return values;
    }
}
