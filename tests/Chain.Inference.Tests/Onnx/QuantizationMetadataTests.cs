using Chain.Inference.Onnx;
using Xunit;

namespace Chain.Inference.Tests.Onnx;

public class QuantizationMetadataTests
{
    private static readonly QuantizationMetadata Sample = new(
        [new QuantizedTensorInfo("x", TensorElementType.Int8, 0.1f, -3, -12.5f, 13.1f)],
        [new QuantizedTensorInfo("logits", TensorElementType.UInt8, 1f / 3, 128, -42f, 43f, "softmax")],
        ["zero", "one"]);

    [Fact]
    public void Metadata_survives_the_model_bytes_and_scales_round_trip_exactly()
    {
        var model = Models.MatMulInteger(4, 2, 3).WithMetadata(Sample.ToProps());
        var parsed = OnnxModel.Parse(model.ToBytes());
        Assert.Equal(model.ToBytes(), parsed.ToBytes());
        var back = QuantizationMetadata.From(parsed)!;
        Assert.Equal(Sample.Inputs, back.Inputs);
        Assert.Equal(Sample.Outputs, back.Outputs);
        Assert.Equal(Sample.Labels, back.Labels);
        Assert.Null(QuantizationMetadata.From(Models.MatMulInteger(4, 2, 3)));
    }

    [Theory]
    [InlineData("{\"version\":2,\"inputs\":[],\"outputs\":[]}", "version 2")]
    [InlineData("{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"int16\",\"scale\":1,\"zeroPoint\":0,\"floatMin\":0,\"floatMax\":1}],\"outputs\":[]}", "int16")]
    [InlineData("{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"int8\",\"scale\":0,\"zeroPoint\":0,\"floatMin\":0,\"floatMax\":1}],\"outputs\":[]}", "scale")]
    [InlineData("{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"int8\",\"scale\":1,\"zeroPoint\":200,\"floatMin\":0,\"floatMax\":1}],\"outputs\":[]}", "zero point")]
    [InlineData("{\"version\":1", "malformed")]
    public void Malformed_metadata_is_refused_with_a_reason(string json, string expected) =>
        Assert.Contains(expected, Assert.Throws<FormatException>(() => QuantizationMetadata.Parse(json)).Message);

    [Fact]
    public void Quantize_is_QuantizeLinear_and_dequantize_inverts_it_within_half_a_step()
    {
        var info = Sample.Inputs[0];
        var floats = Tensor.Create<float>(TensorElementType.Float, [5], [0f, 0.05f, 0.15f, -100f, 100f]);
        var q = QuantizationMetadata.Quantize(info, floats);
        // 0.05/0.1 = 0.5 rounds to even 0; 0.15/0.1 rounds to 2 (float32 0.15/0.1 = 1.4999999 → 1? checked below by the kernel rule).
        var expected = floats.Elements<float>().ToArray().Select(v => (sbyte)Math.Clamp((int)MathF.Round(v / 0.1f, MidpointRounding.ToEven) - 3, -128, 127));
        Assert.Equal(expected, q.Elements<sbyte>().ToArray());
        var back = QuantizationMetadata.Dequantize(info, q);
        Assert.Equal(0f, back[0]);
        Assert.Equal(-12.5f, back[3], 3);
    }
}
