using Chain.Inference;
using Chain.Inference.Onnx;
using Xunit;
using static Chain.Quantization.Tests.Preparation.Kit;

namespace Chain.Quantization.Tests.Preparation;

public class FoldingTests
{
    /// <summary>PyTorch's `x.view(x.size(0), -1)` after a conv: Shape→Gather→Unsqueeze→Concat→Reshape, with a dynamic batch.</summary>
    [Fact]
    public void PyTorch_dynamic_reshape_folds_to_a_constant_shape()
    {
        var model = Model(
            [
                N("Conv", ["x", "w", "b"], ["c"], OnnxAttribute.Of("strides", new long[] { 2, 2 })),
                N("Relu", ["c"], ["r"]),
                N("Shape", ["r"], ["s"]),
                N("Gather", ["s", "zero"], ["n"], OnnxAttribute.Of("axis", 0L)),
                N("Unsqueeze", ["n", "axes0"], ["n1"]),
                N("Concat", ["n1", "minus1"], ["shape"], OnnxAttribute.Of("axis", 0L)),
                N("Reshape", ["r", "shape"], ["flat"]),
                N("Gemm", ["flat", "fc", "fcb"], ["y"], OnnxAttribute.Of("transB", 1L)),
            ],
            [VDyn("x", "N", 3, 8, 8)], [VDyn("y", "N", 10)],
            [F("w", [4, 3, 3, 3], 1), F("b", [4], 2), I64("zero", [], 0), I64("axes0", [1], 0), I64("minus1", [1], -1),
             F("fc", [10, 36], 3), F("fcb", [10], 4)]);
        var p = Prepare(model);
        Assert.Equal(["Conv", "Relu", "Reshape", "Gemm"], p.Model.Graph.Nodes.Select(n => n.OpType));
        var reshape = p.Model.Graph.Nodes.Single(n => n.OpType == "Reshape");
        Assert.Equal(new long[] { 1, -1 }, p.Model.Graph.FindInitializer(reshape.Inputs[1])!.Value.Elements<long>().ToArray());
        Assert.Contains("batch dimension N of input x fixed to 1", p.Notes);
        Assert.Contains(p.Notes, n => n.StartsWith("folded 4 constant nodes (Concat/Gather/Shape/Unsqueeze)"));
        Assert.Equal([1L, 10L], p.Model.Graph.Outputs[0].StaticShape!);
        AssertEquivalent(model, p);
    }

    /// <summary>Constant nodes (weights), a transposed weight, BN-style Sqrt/Reciprocal arithmetic, Cast and Range on int64.</summary>
    [Fact]
    public void Constant_weights_and_constant_arithmetic_fold()
    {
        var model = Model(
            [
                new OnnxNode("const_w", "Constant", "", [], ["wt"], [OnnxAttribute.Of("value", F("", [6, 4], 5).Value)]),
                N("Transpose", ["wt"], ["w"], OnnxAttribute.Of("perm", new long[] { 1, 0 })),
                N("Add", ["var", "eps"], ["ve"]),
                N("Sqrt", ["ve"], ["sd"]),
                N("Reciprocal", ["sd"], ["inv"]),
                N("Range", ["r0", "r1", "r2"], ["idx"]),
                N("Cast", ["idx"], ["idxf"], OnnxAttribute.Of("to", 1L)),
                N("Mul", ["inv", "idxf"], ["k"]),
                N("MatMul", ["x", "w"], ["m"]),
                N("Mul", ["m", "k"], ["y"]),
            ],
            [V("x", 2, 4)], [V("y", 2, 6)],
            [F("var", [6], 6, 0.1f, 1f), FV("eps", [], 1e-5f), I64("r0", [], 1), I64("r1", [], 7), I64("r2", [], 1)]);
        var p = Prepare(model);
        Assert.Equal(["MatMul", "Mul"], p.Model.Graph.Nodes.Select(n => n.OpType));
        AssertEquivalent(model, p);
    }

    [Fact]
    public void If_with_a_constant_condition_inlines_the_taken_branch()
    {
        OnnxGraph Branch(string op, string outName) => new(op, [
                new OnnxNode("inner_c", "Constant", "", [], ["two"], [OnnxAttribute.Of("value", FV("", [], 2f).Value)]),
                N("Mul", ["x", "two"], ["x2"]),
                N(op, ["x2"], [outName])],
            [], [], [VAny(outName)], []);
        var model = Model(
            [
                N("If", ["cond"], ["b"], OnnxAttribute.Of("then_branch", Branch("Relu", "t")), OnnxAttribute.Of("else_branch", Branch("Sigmoid", "e"))),
                N("Add", ["b", "x"], ["y"]),
            ],
            [V("x", 1, 5)], [V("y", 1, 5)],
            [Bool("cond", false)]);
        var p = Prepare(model);
        Assert.False(Has(p, "If"));
        Assert.True(Has(p, "Sigmoid"));
        Assert.False(Has(p, "Relu"));
        Assert.Contains(p.Notes, n => n.Contains("If"));
        AssertEquivalent(model, p);
    }

    [Fact]
    public void Loop_over_constants_is_evaluated()
    {
        // v = v0; repeat 3 times: v = v + step  (step read from the outer scope)
        var body = new OnnxGraph("body",
            [N("Add", ["v_in", "step"], ["v_out"]), N("Identity", ["cond_in"], ["cond_out"])],
            [],
            [new OnnxValueInfo("iter", (int)TensorElementType.Int64, []), new OnnxValueInfo("cond_in", (int)TensorElementType.Bool, []), V("v_in", 3)],
            [new OnnxValueInfo("cond_out", (int)TensorElementType.Bool, []), V("v_out", 3)], []);
        var model = Model(
            [N("Loop", ["trip", "cond", "v0"], ["v"], OnnxAttribute.Of("body", body)), N("Mul", ["x", "v"], ["y"])],
            [V("x", 2, 3)], [V("y", 2, 3)],
            [I64("trip", [], 3), Bool("cond", true), FV("v0", [3], 1, 2, 3), FV("step", [3], 0.5f, 0.25f, 1f)]);
        var p = Prepare(model);
        Assert.Equal(["Mul"], p.Model.Graph.Nodes.Select(n => n.OpType));
        var v = p.Model.Graph.Nodes[0].Inputs[1];
        Assert.Equal(new[] { 2.5f, 2.75f, 6f }, p.Model.Graph.FindInitializer(v)!.Value.Elements<float>().ToArray());
        AssertEquivalent(model, p);
    }

    [Fact]
    public void Identity_and_Dropout_are_removed_and_Sub_Div_by_constants_normalized()
    {
        var model = Model(
            [
                N("Identity", ["x"], ["i"]),
                N("Dropout", ["i"], ["d"]),
                N("Sub", ["d", "mean"], ["s"]),
                N("Div", ["s", "std"], ["n"]),
                N("Identity", ["n"], ["y"]),
            ],
            [V("x", 1, 3, 2, 2)], [V("y", 1, 3, 2, 2)],
            [FV("mean", [1, 3, 1, 1], 0.485f, 0.456f, 0.406f), FV("std", [1, 3, 1, 1], 0.229f, 0.224f, 0.225f)]);
        var p = Prepare(model);
        Assert.Equal(["Add", "Mul"], p.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal("y", p.Model.Graph.Nodes[^1].Outputs[0]);
        Assert.Contains("removed 2 Identity nodes", p.Notes);
        Assert.Contains("removed 1 Dropout node", p.Notes);
        AssertEquivalent(model, p, tolerance: 1e-5);
    }

    /// <summary>Shape inference over the quantizer's op set, checked against ONNX Runtime's own shapes.</summary>
    [Fact]
    public void Shapes_of_a_mixed_network_match_onnx_runtime()
    {
        var model = Model(
            [
                N("Conv", ["x", "w1"], ["c1"], OnnxAttribute.Of("strides", new long[] { 2, 2 }), OnnxAttribute.Of("auto_pad", "SAME_UPPER")),
                N("Clip", ["c1", "lo", "hi"], ["r1"]),
                N("Conv", ["r1", "dw"], ["c2"], OnnxAttribute.Of("group", 4L), OnnxAttribute.Of("pads", new long[] { 2, 2, 2, 2 }), OnnxAttribute.Of("dilations", new long[] { 2, 2 })),
                N("MaxPool", ["c2"], ["p1"], OnnxAttribute.Of("kernel_shape", new long[] { 3, 3 }), OnnxAttribute.Of("strides", new long[] { 2, 2 }), OnnxAttribute.Of("ceil_mode", 1L)),
                N("AveragePool", ["p1"], ["p2"], OnnxAttribute.Of("kernel_shape", new long[] { 2, 2 }), OnnxAttribute.Of("pads", new long[] { 1, 1, 1, 1 }), OnnxAttribute.Of("count_include_pad", 1L)),
                N("Pad", ["p2", "pads"], ["pd"]),
                N("HardSwish", ["pd"], ["hs"]),
                N("PRelu", ["hs", "slope"], ["pr"]),
                N("ReduceMean", ["pr"], ["rm"], OnnxAttribute.Of("axes", new long[] { 2 }), OnnxAttribute.Of("keepdims", 1L)),
                N("Transpose", ["rm"], ["tr"], OnnxAttribute.Of("perm", new long[] { 0, 3, 2, 1 })),
                N("Squeeze", ["tr", "sq"], ["s"]),
                N("Unsqueeze", ["s", "sq"], ["u"]),
                N("Concat", ["u", "u"], ["cat"], OnnxAttribute.Of("axis", -1L)),
                N("Flatten", ["cat"], ["f"]),
                N("Softmax", ["f"], ["sm"]),
                N("LeakyRelu", ["sm"], ["y"], OnnxAttribute.Of("alpha", 0.1f)),
            ],
            [V("x", 1, 3, 17, 15)], [VAny("y")],
            [F("w1", [4, 3, 3, 3], 1), FV("lo", [], 0f), FV("hi", [], 6f), F("dw", [4, 1, 3, 3], 2), I64("pads", [8], 0, 0, 1, 0, 0, 0, 0, 2),
             F("slope", [4, 1, 1], 3), I64("sq", [1], 2)]);
        var p = Prepare(model);
        Assert.Equal(16, p.Model.Graph.Nodes.Count);
        AssertEquivalent(model, p);
    }

    /// <summary>ceil_mode: a last window that would start inside the end padding is dropped, as ONNX Runtime does.</summary>
    [Theory]
    [InlineData(4, 3, 2, 2, 2)]
    [InlineData(9, 3, 2, 0, 4)]
    [InlineData(8, 3, 2, 1, 4)]
    [InlineData(8, 3, 2, 0, 4)]
    public void Ceil_mode_pool_shapes_match_onnx_runtime(long size, long kernel, long stride, long padEnd, long expected)
    {
        var model = Model(
            [N("MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", new long[] { kernel, kernel }), OnnxAttribute.Of("strides", new long[] { stride, stride }),
                OnnxAttribute.Of("pads", new long[] { 0, 0, padEnd, padEnd }), OnnxAttribute.Of("ceil_mode", 1L))],
            [V("x", 1, 1, size, size)], [VAny("y")]);
        var p = Prepare(model);
        Assert.Equal([1L, 1, expected, expected], p.Model.Graph.Outputs[0].StaticShape!);
        AssertEquivalent(model, p);
    }

    [Fact]
    public void Gemm_with_transA_on_a_computed_input_is_refused()
    {
        var model = Model([N("Gemm", ["x", "w"], ["y"], OnnxAttribute.Of("transA", 1L))], [V("x", 3, 2)], [VAny("y")], [F("w", [3, 4], 1)]);
        Assert.StartsWith("gemm_y (Gemm): Gemm with transA=1 on a computed input is not supported",
            Assert.Throws<QuantizationException>(() => Prepare(model)).Message);
    }

    /// <summary>An opset-11 export (axes as attributes) of a residual block with BN, a dynamic batch and a PyTorch flatten.</summary>
    [Fact]
    public void Opset_11_residual_block_prepares_end_to_end()
    {
        OnnxTensor[] Bn(string p, int seed) => [F(p + "_s", [4], seed, 0.5f, 1.5f), F(p + "_b", [4], seed + 1), F(p + "_m", [4], seed + 2), F(p + "_v", [4], seed + 3, 0.2f, 1f)];
        var model = Model(
            [
                N("Conv", ["x", "w1"], ["c1"], OnnxAttribute.Of("pads", new long[] { 1, 1, 1, 1 })),
                N("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["b1"]),
                N("Clip", ["b1", "lo", "hi"], ["r1"]),
                N("Conv", ["r1", "w2"], ["c2"], OnnxAttribute.Of("pads", new long[] { 1, 1, 1, 1 })),
                N("BatchNormalization", ["c2", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["b2"]),
                N("Add", ["b2", "r1"], ["res"]),
                N("Relu", ["res"], ["r2"]),
                N("ReduceMean", ["r2"], ["gap"], OnnxAttribute.Of("axes", new long[] { 2, 3 }), OnnxAttribute.Of("keepdims", 0L)),
                N("Unsqueeze", ["gap"], ["u"], OnnxAttribute.Of("axes", new long[] { 2 })),
                N("Squeeze", ["u"], ["sq"], OnnxAttribute.Of("axes", new long[] { 2 })),
                N("Shape", ["sq"], ["shp"]),
                N("Slice", ["shp", "st", "en"], ["n"]),
                N("Concat", ["n", "minus1"], ["newshape"], OnnxAttribute.Of("axis", 0L)),
                N("Reshape", ["sq", "newshape"], ["flat"]),
                N("Dropout", ["flat"], ["dr"], OnnxAttribute.Of("ratio", 0.5f)),
                N("Gemm", ["dr", "fc", "fcb"], ["logits"], OnnxAttribute.Of("transB", 1L)),
                N("Softmax", ["logits"], ["y"], OnnxAttribute.Of("axis", 1L)),
            ],
            [VDyn("x", "batch_size", 3, 6, 6)], [VDyn("y", "batch_size", 5)],
            [F("w1", [4, 3, 3, 3], 1), F("w2", [4, 4, 3, 3], 2), FV("lo", [], 0f), FV("hi", [], 6f), I64("st", [1], 0), I64("en", [1], 1), I64("minus1", [1], -1),
             F("fc", [5, 4], 3), F("fcb", [5], 4), .. Bn("bn1", 10), .. Bn("bn2", 20)],
            opset: 11);
        var p = Prepare(model);
        Assert.Equal(["Conv", "Clip", "Conv", "Add", "Relu", "ReduceMean", "Unsqueeze", "Squeeze", "Reshape", "Gemm", "Softmax"],
            p.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Contains("batch dimension batch_size of input x fixed to 1", p.Notes);
        Assert.Equal(2, p.Notes.Count(n => n.StartsWith("folded BatchNormalization")));
        AssertEquivalent(model, p);
    }
}
