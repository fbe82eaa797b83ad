using Chain.Inference.Onnx;
using Xunit;
using static Chain.Quantization.Tests.Preparation.Kit;

namespace Chain.Quantization.Tests.Preparation;

public class BatchNormFoldTests
{
    private static OnnxTensor[] BnParams(string p, int c, int seed) =>
    [
        F(p + "_scale", [c], seed, 0.5f, 1.5f), F(p + "_b", [c], seed + 1), F(p + "_mean", [c], seed + 2), F(p + "_var", [c], seed + 3, 0.1f, 2f),
    ];

    private static OnnxNode Bn(string x, string y, string p) =>
        N("BatchNormalization", [x, p + "_scale", p + "_b", p + "_mean", p + "_var"], [y], OnnxAttribute.Of("epsilon", 1e-3f));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Conv_then_BatchNormalization_folds_into_the_conv(bool bias)
    {
        var model = Model(
            [N("Conv", bias ? ["x", "w", "cb"] : ["x", "w"], ["c"], OnnxAttribute.Of("pads", new long[] { 1, 1, 1, 1 })), Bn("c", "y", "bn")],
            [V("x", 1, 3, 8, 8)], [V("y", 1, 4, 8, 8)],
            [F("w", [4, 3, 3, 3], 1), F("cb", [4], 2), .. BnParams("bn", 4, 3)]);
        var p = Prepare(model);
        Assert.False(Has(p, "BatchNormalization"));
        Assert.Single(p.Model.Graph.Nodes);
        Assert.Equal(3, p.Model.Graph.Nodes[0].Inputs.Count);
        Assert.Contains("folded BatchNormalization batchnormalization_y into Conv conv_c", p.Notes);
        AssertEquivalent(model, p);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Gemm_then_BatchNormalization_folds_into_the_gemm(bool bias, bool transB)
    {
        var model = Model(
            [N("Gemm", bias ? ["x", "w", "cb"] : ["x", "w"], ["m"], OnnxAttribute.Of("transB", transB ? 1L : 0L), OnnxAttribute.Of("beta", 0.5f)), Bn("m", "y", "bn")],
            [V("x", 2, 6)], [V("y", 2, 5)],
            [F("w", transB ? [5, 6] : [6, 5], 1), F("cb", [5], 2), .. BnParams("bn", 5, 3)]);
        var p = Prepare(model);
        Assert.False(Has(p, "BatchNormalization"));
        Assert.Single(p.Model.Graph.Nodes);
        AssertEquivalent(model, p);
    }

    [Fact]
    public void MatMul_with_and_without_Add_then_BatchNormalization_fold()
    {
        var model = Model(
            [N("MatMul", ["x", "w"], ["m"]), N("Add", ["m", "b"], ["a"]), Bn("a", "y", "bn"), N("MatMul", ["y", "w2"], ["m2"]), Bn("m2", "z", "bn2")],
            [V("x", 3, 6)], [V("z", 3, 4)],
            [F("w", [6, 5], 1), F("b", [5], 2), F("w2", [5, 4], 9), .. BnParams("bn", 5, 3), .. BnParams("bn2", 4, 7)]);
        var p = Prepare(model);
        Assert.False(Has(p, "BatchNormalization"));
        Assert.Equal(["MatMul", "Add", "MatMul", "Add"], p.Model.Graph.Nodes.Select(n => n.OpType));
        AssertEquivalent(model, p);
    }

    [Fact]
    public void Standalone_BatchNormalization_becomes_a_depthwise_1x1_conv_or_mul_add()
    {
        var model = Model(
            [N("Relu", ["x"], ["r"]), Bn("r", "y", "bn"), N("GlobalAveragePool", ["y"], ["gp"]), N("Flatten", ["gp"], ["f"]), Bn("f", "z", "bn2")],
            [V("x", 1, 4, 5, 5)], [V("z", 1, 4)],
            [.. BnParams("bn", 4, 3), .. BnParams("bn2", 4, 8)]);
        var p = Prepare(model);
        Assert.False(Has(p, "BatchNormalization"));
        var conv = p.Model.Graph.Nodes.Single(n => n.OpType == "Conv");
        Assert.Equal(4, conv.GetInt("group", 1));
        Assert.True(Has(p, "Mul") && Has(p, "Add"));
        Assert.Contains(p.Notes, n => n.Contains("depthwise 1x1 Conv"));
        AssertEquivalent(model, p);
    }

    [Fact]
    public void Conv_output_read_twice_is_not_folded_into()
    {
        var model = Model(
            [N("Conv", ["x", "w"], ["c"]), Bn("c", "y", "bn"), N("Add", ["y", "c"], ["z"])],
            [V("x", 1, 2, 4, 4)], [V("z", 1, 3, 4, 4)],
            [F("w", [3, 2, 1, 1], 1), .. BnParams("bn", 3, 3)]);
        var p = Prepare(model);
        Assert.Equal(2, p.Model.Graph.Nodes.Count(n => n.OpType == "Conv"));
        AssertEquivalent(model, p);
    }
}
