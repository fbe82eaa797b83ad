using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Quantization;

/// <summary>
/// Quantization parameters of one tensor: <c>real = (q − ZeroPoint) · Scale</c>. Per tensor when
/// <see cref="Axis"/> is null (one scale and zero point), else one per index of that axis (per channel).
/// </summary>
public sealed record QuantParams(TensorElementType Type, float[] Scales, int[] ZeroPoints, int? Axis = null)
{
    public bool PerChannel => Axis is not null;

    public static QuantParams PerTensor(TensorElementType type, float scale, int zeroPoint) => new(type, [scale], [zeroPoint]);
}

/// <summary>What `--shape`, and other preparation choices, ask of <see cref="PreparedGraph"/>.</summary>
public sealed record PreparationOptions
{
    /// <summary>Static shapes for graph inputs (`--shape name=1,3,224,224`), replacing dynamic dimensions.</summary>
    public IReadOnlyDictionary<string, long[]> InputShapes { get; init; } = new Dictionary<string, long[]>();
}

/// <summary>
/// A float model made ready for quantization, offline: BatchNormalization folded, constants folded, shapes
/// static, every intermediate's float32 shape declared in value_info. <see cref="Pinned"/> holds quantization
/// parameters that must be used as they are (from a QDQ model's QuantizeLinear/DequantizeLinear pairs), by tensor
/// name; weights of a QDQ model are pinned per channel so that the quantizer reproduces their integers exactly.
/// <see cref="Notes"/> says, in one line each, what preparation changed (for the report).
/// </summary>
public sealed record PreparedGraph(OnnxModel Model, IReadOnlyDictionary<string, QuantParams> Pinned, IReadOnlyList<string> Notes);

/// <summary>A model that cannot be quantized: names the node (or op) and says why, in one line.</summary>
public sealed class QuantizationException(string where, string reason) : Exception($"{where}: {reason}")
{
    public string Where { get; } = where;
    public string Reason { get; } = reason;
}
