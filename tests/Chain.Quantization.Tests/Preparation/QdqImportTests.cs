using Chain.Inference;
using Chain.Inference.Onnx;
using Xunit;
using static Chain.Quantization.Tests.Preparation.Kit;

namespace Chain.Quantization.Tests.Preparation;

public class QdqImportTests
{
    private static OnnxTensor S8(string name, int[] shape, params sbyte[] v) => new(name, Tensor.Create<sbyte>(TensorElementType.Int8, shape, v));
    private static OnnxTensor U8(string name, params byte[] v) => new(name, Tensor.Create<byte>(TensorElementType.UInt8, [], v));
    private static OnnxTensor I32(string name, int[] shape, params int[] v) => new(name, Tensor.Create<int>(TensorElementType.Int32, shape, v));

    /// <summary>onnxruntime.quantization's QDQ form: activations Q→DQ (uint8, per tensor), Conv weights DQ per channel, bias DQ int32.</summary>
    private static OnnxModel QdqConv(long opset)
    {
        var w = Enumerable.Range(0, 2 * 3 * 3 * 3).Select(i => (sbyte)(i * 7 % 255 - 127)).ToArray();
        return Model(
            [
                N("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
                N("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
                N("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], OnnxAttribute.Of("axis", 0L)),
                N("DequantizeLinear", ["bq", "bs"], ["bd"], OnnxAttribute.Of("axis", 0L)),
                N("Conv", ["xd", "wd", "bd"], ["c"]),
                N("QuantizeLinear", ["c", "cs", "cz"], ["cq"]),
                N("DequantizeLinear", ["cq", "cs", "cz"], ["cd"]),
                N("Relu", ["cd"], ["y"]),
            ],
            [V("x", 1, 3, 5, 5)], [V("y", 1, 2, 3, 3)],
            [
                FV("xs", [], 0.02f), U8("xz", 128), S8("wq", [2, 3, 3, 3], w), FV("ws", [2], 0.01f, 0.005f), S8("wz", [2], 0, 0),
                I32("bq", [2], 100, -50), FV("bs", [2], 0.0002f, 0.0001f), FV("cs", [], 0.05f), U8("cz", 100),
            ],
            opset);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(21)]
    public void A_qdq_model_loses_its_qdq_nodes_and_pins_their_parameters(long opset)
    {
        var model = QdqConv(opset);
        var p = Prepare(model);
        Assert.Equal(["Conv", "Relu"], p.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(3, p.Pinned.Count);
        var x = p.Pinned["x"];
        Assert.Equal((TensorElementType.UInt8, 0.02f, 128, false), (x.Type, x.Scales.Single(), x.ZeroPoints.Single(), x.PerChannel));
        var c = p.Pinned["c"];
        Assert.Equal((0.05f, 100), (c.Scales.Single(), c.ZeroPoints.Single()));
        var w = p.Pinned["wd"];
        Assert.Equal((TensorElementType.Int8, 0), (w.Type, w.Axis!.Value));
        Assert.Equal(new[] { 0.01f, 0.005f }, w.Scales);
        // The weight is exactly the dequantized integers.
        var wd = p.Model.Graph.FindInitializer("wd")!.Value.Elements<float>().ToArray();
        var wq = model.Graph.FindInitializer("wq")!.Value.Elements<sbyte>().ToArray();
        for (var i = 0; i < wq.Length; i++) Assert.Equal(wq[i] * (i < 27 ? 0.01f : 0.005f), wd[i]);
        Assert.Contains("QDQ: 3 tensors pinned", p.Notes);
        // Without the activations' fake quantization the outputs differ by at most a quantization step or so.
        AssertEquivalent(model, p, tolerance: 0.1);
    }

    [Fact]
    public void Fake_quantized_float_weights_and_per_tensor_weights_pin_per_channel()
    {
        var model = Model(
            [
                N("QuantizeLinear", ["wf", "ws", "wz"], ["wq"]),
                N("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
                N("DequantizeLinear", ["w2q", "w2s", "w2z"], ["w2d"]),
                N("Gemm", ["x", "wd"], ["h"], OnnxAttribute.Of("transB", 1L)),
                N("MatMul", ["h", "w2d"], ["y"]),
            ],
            [V("x", 2, 4)], [V("y", 2, 3)],
            [F("wf", [5, 4], 1), FV("ws", [], 0.01f), S8("wz", [], 0), S8("w2q", [5, 3], Enumerable.Range(0, 15).Select(i => (sbyte)(i * 9 - 60)).ToArray()),
             FV("w2s", [], 0.02f), S8("w2z", [], 3)]);
        var p = Prepare(model);
        Assert.Equal(["Gemm", "MatMul"], p.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal((0, 5), (p.Pinned["wd"].Axis!.Value, p.Pinned["wd"].Scales.Length));
        Assert.Equal((1, 3), (p.Pinned["w2d"].Axis!.Value, p.Pinned["w2d"].Scales.Length));
        Assert.All(p.Pinned["w2d"].ZeroPoints, z => Assert.Equal(3, z));
        // Weights are exactly what ONNX Runtime's Q→DQ produces, so outputs agree tightly.
        AssertEquivalent(model, p, tolerance: 1e-5);
    }

    [Fact]
    public void A_quantize_without_matching_dequantize_is_refused()
    {
        var model = Model([N("QuantizeLinear", ["x", "s", "z"], ["y"])], [V("x", 1, 2)], [new OnnxValueInfo("y", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(2)])],
            [FV("s", [], 0.1f), U8("z", 0)]);
        var e = Assert.Throws<QuantizationException>(() => Prepare(model));
        Assert.StartsWith("quantizelinear_y (QuantizeLinear): QuantizeLinear whose output is not read only by DequantizeLinear", e.Message);
    }

    [Fact]
    public void A_pin_follows_its_tensor_when_an_identity_renames_it()
    {
        var model = Model(
            [N("Relu", ["x"], ["r"]), N("QuantizeLinear", ["r", "s", "z"], ["rq"]), N("DequantizeLinear", ["rq", "s", "z"], ["rd"]), N("Identity", ["rd"], ["y"])],
            [V("x", 1, 4)], [V("y", 1, 4)], [FV("s", [], 0.1f), U8("z", 0)]);
        var p = Prepare(model);
        Assert.Equal(["Relu"], p.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(["y"], p.Pinned.Keys);
        Assert.Equal(0.1f, p.Pinned["y"].Scales.Single());
    }
}
