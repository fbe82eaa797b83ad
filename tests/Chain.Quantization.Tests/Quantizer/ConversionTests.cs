using Chain.Inference;
using Chain.Inference.Onnx;
using Xunit;
using static Chain.Quantization.Tests.Quantizer.QuantizerTestKit;

namespace Chain.Quantization.Tests.Quantizer;

/// <summary>
/// Each conversion on a small float model with seeded random weights and inputs in [−1, 1]: the int8 model is admitted,
/// the canonical executor and ONNX Runtime agree bit for bit on every held-out input, and the int8 outputs are within
/// 25 dB SQNR of the float model (30 dB for the plain convolutions and products).
/// </summary>
public class ConversionTests
{
    private static OnnxAttribute Ints(string name, params long[] v) => OnnxAttribute.Of(name, v);

    [Theory]
    [InlineData(1, 1, 1, 1)] // padded 3×3
    [InlineData(2, 1, 1, 0)] // strided, no padding
    [InlineData(1, 2, 1, 1)] // grouped
    [InlineData(1, 8, 1, 1)] // depthwise
    [InlineData(1, 1, 2, 2)] // dilated
    public void Conv_becomes_QLinearConv(int stride, int group, int dilation, int pad)
    {
        var g = new FloatGraph([1, 8, 9, 9]);
        var y = g.Conv(g.Input, 8, 16, 3, stride, pad, group, dilation);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        var conv = Assert.Single(Int8(r).Graph.Nodes, n => n.OpType == "QLinearConv");
        Assert.Equal(group, conv.GetInt("group", 1));
        Assert.Contains("per-channel", r.Report.Conversions[0].Detail);
    }

    [Fact]
    public void Conv_without_bias_and_per_tensor_weights()
    {
        var g = new FloatGraph([1, 3, 6, 6]);
        var y = g.Conv(g.Input, 3, 4, 3, bias: false);
        var r = Run(g.Bytes(y), options: new Chain.Quantization.Quantizer.QuantizerOptions { PerChannel = false });
        AssertGood(r, 30);
        var model = Int8(r);
        var conv = model.Graph.Nodes.Single(n => n.OpType == "QLinearConv");
        Assert.Equal(0, model.Graph.FindInitializer(conv.Inputs[4])!.Value.Rank);
    }

    [Theory]
    [InlineData("Relu")]
    [InlineData("ReLU6")]
    public void Relu_and_relu6_fuse_into_the_producer(string act)
    {
        var g = new FloatGraph([1, 4, 6, 6]);
        var c = g.Conv(g.Input, 4, 8, 3, pad: 1);
        var y = act == "Relu" ? g.Op("Relu", [c]) : g.Op("Clip", [c, g.Const([], _ => 0), g.Const([], _ => 6)]);
        var r = Run(g.Bytes(y), lo: -3, hi: 3);
        AssertGood(r, 30);
        var model = Int8(r);
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType is "Clip" or "Relu");
        Assert.Equal(-128, QuantizationMetadata.From(model)!.Outputs[0].ZeroPoint);
        Assert.Contains(act == "Relu" ? "fused Relu" : "fused ReLU6", r.Report.Conversions[0].Detail);
    }

    [Fact]
    public void Relu_that_cannot_fuse_becomes_Clip_on_int8()
    {
        var g = new FloatGraph([1, 4, 5, 5]);
        var c = g.Conv(g.Input, 4, 4, 3, pad: 1);
        var y = g.Op("Relu", [c]);
        var r = Run(g.Bytes(c, y)); // the convolution's output is itself a graph output
        AssertGood(r, 30);
        Assert.Single(Int8(r).Graph.Nodes, n => n.OpType == "Clip");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gemm_becomes_a_1x1_QLinearConv_with_bias(bool transB)
    {
        var g = new FloatGraph([3, 20]);
        var y = g.Gemm(g.Input, 20, 7, transB);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        Assert.Equal(["Reshape", "QLinearConv", "Reshape"], Int8(r).Graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void MatMul_plus_Add_bias_over_a_3d_activation()
    {
        var g = new FloatGraph([2, 5, 12]);
        var y = g.Op("Add", [g.Op("MatMul", [g.Input, g.Random([12, 6], 0.3)]), g.Random([6], 0.2)]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        Assert.Contains("bias from Add", r.Report.Conversions[0].Detail);
        Assert.Equal([2, 5, 6], Int8(r).Graph.Outputs[0].StaticShape!.Select(d => (int)d));
    }

    [Fact]
    public void MatMul_of_two_activations_becomes_s8_QLinearMatMul()
    {
        var g = new FloatGraph([1, 4, 8]);
        var t = g.Op("Transpose", [g.Input], Ints("perm", 0, 2, 1));
        var y = g.Op("MatMul", [g.Input, t]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 25);
        Assert.Single(Int8(r).Graph.Nodes, n => n.OpType == "QLinearMatMul");
    }

    [Theory]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("HardSigmoid")]
    [InlineData("HardSwish")]
    [InlineData("LeakyRelu")]
    [InlineData("Elu")]
    [InlineData("Softplus")]
    public void Unary_activations_become_lookup_tables(string op)
    {
        var g = new FloatGraph([1, 4, 6, 6]);
        var y = g.Op(op, [g.Conv(g.Input, 4, 8, 3, pad: 1)]);
        var r = Run(g.Bytes(y), lo: -2, hi: 2);
        AssertGood(r, 25);
        var model = Int8(r);
        Assert.Equal(["QLinearConv", "Cast", "Gather"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Contains("256-entry table", r.Report.Conversions[1].Detail);
    }

    [Fact]
    public void PRelu_per_channel_indexes_a_channel_table()
    {
        var g = new FloatGraph([1, 4, 5, 5]);
        var slope = g.Const([4, 1, 1], i => 0.05f + 0.1f * i);
        var y = g.Op("PRelu", [g.Conv(g.Input, 4, 4, 3, pad: 1), slope]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 25);
        Assert.Equal(["QLinearConv", "Cast", "Add", "Clip", "Gather"], Int8(r).Graph.Nodes.Select(n => n.OpType));
        Assert.Contains("per-channel table (4×256)", r.Report.Conversions[1].Detail);
    }

    [Fact]
    public void PRelu_with_one_slope_is_a_plain_table()
    {
        var g = new FloatGraph([1, 6]);
        var y = g.Op("PRelu", [g.Input, g.Const([1], _ => 0.25f)]);
        AssertGood(Run(g.Bytes(y)), 30);
    }

    [Fact]
    public void Standalone_BatchNormalization_and_per_channel_constants_quantize()
    {
        var g = new FloatGraph([1, 3, 4, 4]);
        var bn = g.Op("BatchNormalization", [g.Input, g.Random([3], 0.5, 1), g.Random([3], 0.2), g.Random([3], 0.1), g.Const([3], i => 0.5f + i)]);
        var mul = g.Op("Mul", [bn, g.Const([3, 1, 1], i => 1f + i)]);
        var y = g.Op("Sub", [mul, g.Const([], _ => 0.3f)]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        // Preparation turns a BatchNormalization with no Conv/Gemm before it into a depthwise 1×1 convolution; the Sub
        // by a constant is composed into the per-channel Mul's table.
        Assert.Equal(["depthwise,", "per-channel", "per-channel"], r.Report.Conversions.Select(c => c.Detail.Split(' ')[0]));
        Assert.Contains("composed with the table before it", r.Report.Conversions[^1].Detail);
        Assert.Equal(["QLinearConv", "Cast", "Add", "Clip", "Gather"], Int8(r).Graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void Concat_requantizes_inputs_of_other_scales()
    {
        var g = new FloatGraph([1, 3, 6, 6]);
        var a = g.Conv(g.Input, 3, 4, 3, pad: 1);
        var b = g.Op("Mul", [g.Conv(g.Input, 3, 2, 1), g.Const([], _ => 5f)]);
        var y = g.Op("Concat", [a, b], OnnxAttribute.Of("axis", 1L));
        var r = Run(g.Bytes(y));
        AssertGood(r, 25);
        Assert.Contains("requantized to the output's scale", r.Report.Conversions.Single(c => c.OpType == "Concat").Detail);
    }

    [Fact]
    public void Shape_ops_pass_int8_through()
    {
        var g = new FloatGraph([1, 4, 8, 8]);
        var p = g.Op("MaxPool", [g.Conv(g.Input, 4, 4, 3, pad: 1)], Ints("kernel_shape", 2, 2), Ints("strides", 2, 2));
        var t = g.Op("Transpose", [p], Ints("perm", 0, 2, 3, 1));
        var u = g.Op("Unsqueeze", [t, g.Ints(0)]);
        var s = g.Op("Squeeze", [u, g.Ints(0)]);
        var f = g.Op("Reshape", [s, g.Ints(1, -1)]);
        var y = g.Op("Flatten", [g.Op("Identity", [f])]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        Assert.Equal(["QLinearConv", "MaxPool", "Transpose", "Reshape", "Reshape", "Reshape", "Flatten"], Int8(r).Graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void Shape_arithmetic_of_an_exported_model_folds_into_constant_shapes()
    {
        // PyTorch's x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat → Reshape.
        var g = new FloatGraph([2, 3, 4, 4]);
        var c = g.Conv(g.Input, 3, 4, 3, pad: 1);
        var shape = g.Op("Shape", [c]);
        var n = g.Op("Gather", [shape, g.Ints(0)], OnnxAttribute.Of("axis", 0L));
        var target = g.Op("Concat", [n, g.Ints(-1)], OnnxAttribute.Of("axis", 0L));
        var y = g.Op("Reshape", [c, target]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        Assert.Equal([2, 64], Int8(r).Graph.Outputs[0].StaticShape!.Select(d => (int)d));
    }

    [Theory]
    [InlineData("Softmax", "softmax")]
    [InlineData("LogSoftmax", "log-softmax")]
    public void A_final_softmax_is_left_to_the_client(string op, string post)
    {
        var g = new FloatGraph([4, 10]);
        var logits = g.Gemm(g.Input, 10, 5);
        var y = g.Op(op, [logits], OnnxAttribute.Of("axis", 1L));
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        var output = Assert.Single(r.Report.Outputs);
        Assert.Equal(logits, output.Name);
        Assert.Equal(post, output.Postprocess);
        Assert.Equal(post, QuantizationMetadata.From(Int8(r))!.Outputs[0].Postprocess);
        Assert.True(output.Top1Agreement >= 0.95, $"{output.Top1Agreement}");
    }

    [Fact]
    public void Residual_Add_and_Mul_become_QLinearAdd_and_QLinearMul()
    {
        var g = new FloatGraph([1, 4, 6, 6]);
        var a = g.Conv(g.Input, 4, 4, 3, pad: 1);
        var sum = g.Op("Relu", [g.Op("Add", [a, g.Input])]);
        var y = g.Op("Mul", [sum, a]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 25, contrib: true);
        Assert.Equal(["QLinearConv", "QLinearAdd", "QLinearMul"], Int8(r).Graph.Nodes.Select(n => n.OpType));
        Assert.Contains("fused Relu", r.Report.Conversions.Single(c => c.OpType == "Add").Detail);
    }

    [Fact]
    public void Average_pools_and_spatial_means_become_QLinear_pools()
    {
        var g = new FloatGraph([1, 4, 8, 8]);
        var c = g.Op("Relu", [g.Conv(g.Input, 4, 8, 3, pad: 1)]);
        var ap = g.Op("AveragePool", [c], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1));
        var gap = g.Op("Flatten", [g.Op("GlobalAveragePool", [ap])]);
        var mean = g.Op("ReduceMean", [ap], Ints("axes", 2, 3), OnnxAttribute.Of("keepdims", 0L));
        var r = Run(g.Bytes(gap, mean), lo: 0, hi: 1);
        AssertGood(r, 25, contrib: true);
        var ops = Int8(r).Graph.Nodes.Select(n => n.OpType).ToList();
        Assert.Contains("QLinearAveragePool", ops);
        Assert.Equal(2, ops.Count(o => o == "QLinearGlobalAveragePool"));
    }

    [Fact]
    public void Elementwise_ops_of_functions_of_one_tensor_become_one_table()
    {
        // x·Clip(x + 3, 0, 6)/6 (hard-swish as paddle2onnx writes it), then h·Sigmoid(h) (swish).
        var g = new FloatGraph([1, 4, 6, 6]);
        var a = g.Conv(g.Input, 4, 4, 3, pad: 1);
        var clip = g.Op("Clip", [g.Op("Add", [a, g.Const([], _ => 3f)]), g.Const([], _ => 0f), g.Const([], _ => 6f)]);
        var hs = g.Op("Mul", [g.Op("Mul", [a, clip]), g.Const([], _ => 1 / 6f)]);
        var y = g.Op("Mul", [hs, g.Op("Sigmoid", [hs])]);
        var r = Run(g.Bytes(y));
        AssertGood(r, 30);
        // hs·Sigmoid(hs) is a function of the convolution output too: the whole chain is one table.
        Assert.Equal(["QLinearConv", "Cast", "Gather"], Int8(r).Graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void Sub_Div_Max_Min_of_two_activations_and_LayerNorm_written_out_quantize()
    {
        // LayerNorm as PyTorch exports it: ReduceMean over the last axis, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div.
        var g = new FloatGraph([1, 24]);
        var h = g.Gemm(g.Input, 24, 32);
        var mean = g.Op("ReduceMean", [h], Ints("axes", -1));
        var d = g.Op("Sub", [h, mean]);
        var v = g.Op("ReduceMean", [g.Op("Pow", [d, g.Const([], _ => 2f)])], Ints("axes", -1));
        var ln = g.Op("Div", [d, g.Op("Sqrt", [g.Op("Add", [v, g.Const([], _ => 1e-5f)])])]);
        var other = g.Gemm(g.Input, 24, 32);
        var mx = g.Op("Max", [ln, other]);
        var mn = g.Op("Min", [ln, other]);
        var r = Run(g.Bytes(ln, mx, mn));
        AssertGood(r, 25, contrib: true);
        var ops = Int8(r).Graph.Nodes.Select(n => n.OpType).ToList();
        Assert.Contains("Max", ops);
        Assert.DoesNotContain("Sub", ops);
        Assert.Contains("QLinearGlobalAveragePool", ops);
        Assert.Contains("reciprocal", r.Report.Conversions.Single(c => c.OpType == "Div").Detail);
    }
}
