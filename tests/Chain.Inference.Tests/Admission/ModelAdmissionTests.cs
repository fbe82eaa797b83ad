using Chain.Core.Hashing;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using static Chain.Inference.Tests.Onnx.Models;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Admission;

public class ModelAdmissionTests
{
    private static AdmissionReport Check(OnnxModel model) => ModelAdmission.Check(model.ToBytes());

    private static AdmissionReason Refused(OnnxModel model, string code)
    {
        var report = Check(model);
        Assert.False(report.Admitted);
        return Assert.Single(report.Reasons, r => r.Code == code);
    }

    [Fact]
    public void Small_quantized_mlp_is_admitted_with_shapes_macs_and_gas()
    {
        var model = Model(
            [
                Node("MatMulInteger", ["x", "w1", "xzp"], ["acc1"]),
                Node("Cast", ["acc1"], ["acc1_64"], OnnxAttribute.Of("to", (long)T.Int64)),
                Node("Clip", ["acc1", "zero", ""], ["h"]),
                Node("QuantizeLinear", ["h", "s", "zp8"], ["q"]),
                Node("Relu", ["q"], ["r"]),
                Node("Reshape", ["r", "shape"], ["r2"]),
                Node("Transpose", ["r2"], ["t"], OnnxAttribute.Of("perm", [1L, 0L])),
                Node("Flatten", ["t"], ["f"], OnnxAttribute.Of("axis", 0L)),
                Node("ArgMax", ["f"], ["y"], OnnxAttribute.Of("axis", 1L), OnnxAttribute.Of("keepdims", 0L)),
                Node("DequantizeLinear", ["q", "s", "zp8"], ["probs"]),
            ],
            [Value("x", T.UInt8, 1, 16)],
            [Value("y", T.Int64, 1), Value("probs", T.Float, 1, 8), Value("acc1_64", T.Int64, 1, 8)],
            [
                Int8("w1", [16, 8], Enumerable.Range(0, 128).Select(i => (sbyte)(i % 120 - 60)).ToArray()),
                UInt8("xzp", [], 128), Int32("zero", [], 0), Float("s", [], 0.05f), Int8("zp8", [], 0),
                Int64("shape", [2], 2, 4),
            ]);
        var bytes = model.ToBytes();
        var report = ModelAdmission.Check(bytes);
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
        Assert.Equal(DomainHash.Compute(HashDomain.Model, bytes), report.ModelId);
        Assert.Equal(128, report.TotalMacs);
        Assert.Equal(10, report.Nodes.Count);
        Assert.Equal(new TensorInfo(T.Int32, [1, 8]).ToString(), report.Values["acc1"].ToString());
        Assert.Equal("int8[4,2]", report.Values["t"].ToString());
        Assert.Equal("int8[1,8]", report.Values["f"].ToString());
        Assert.Equal("int64[1]", report.Values["y"].ToString());
        Assert.Equal("float32[1,8]", report.Values["probs"].ToString());
        var elements = report.Nodes.Sum(n => n.Outputs.Sum(o => o!.ElementCount));
        Assert.Equal(elements, report.TotalElements);
        // Gas: the schedule over every node's work plus the planned arena.
        Assert.Equal(report.Nodes.Sum(n => n.Work), report.TotalWork);
        Assert.Equal(GasSchedule.GasBase + (report.TotalWork + GasSchedule.WorkPerGas - 1) / GasSchedule.WorkPerGas +
                     (report.PeakMemoryBytes + GasSchedule.ArenaBytesPerGas - 1) / GasSchedule.ArenaBytesPerGas, report.Gas);
        Assert.True(report.PeakMemoryBytes >= report.MemoryPlan.LiveBytesPeak);
        // Execution order lists every node once, producers first.
        Assert.Equal(Enumerable.Range(0, 10), report.Nodes.Select(n => n.Index).Order());
    }

    [Fact]
    public void Conv_pool_concat_gather_shapes()
    {
        var model = Model(
            [
                Node("ConvInteger", ["x", "w"], ["c"], OnnxAttribute.Of("pads", [1L, 1L, 1L, 1L]), OnnxAttribute.Of("strides", [2L, 2L])),
                Node("QLinearConv", ["x", "s", "xzp", "w", "s", "wzp", "s", "yzp", "bias"], ["qc"], OnnxAttribute.Of("auto_pad", "SAME_UPPER")),
                Node("MaxPool", ["qc"], ["p"], OnnxAttribute.Of("kernel_shape", [3L, 3L]), OnnxAttribute.Of("strides", [2L, 2L]), OnnxAttribute.Of("ceil_mode", 1L)),
                Node("Concat", ["p", "p"], ["cat"], OnnxAttribute.Of("axis", -3L)),
                // A uint8 lookup table: ONNX indices are int32/int64, so the activation is cast first.
                Node("Cast", ["x"], ["xi"], OnnxAttribute.Of("to", (long)T.Int32)),
                Node("Gather", ["lut", "xi"], ["g"]),
                Node("Max", ["c", "c"], ["m"]),
                Node("Mul", ["m", "c"], ["mm"]),
            ],
            [Value("x", T.UInt8, 1, 3, 8, 8)],
            [Value("cat", T.UInt8, 1, 8, 4, 4), Value("g", T.UInt8, 1, 3, 8, 8), Value("mm", T.Int32, 1, 4, 4, 4)],
            [
                UInt8("w", [4, 3, 3, 3], Enumerable.Repeat((byte)200, 108).ToArray()),
                Float("s", [], 0.1f), UInt8("xzp", [], 0), UInt8("wzp", [], 0), UInt8("yzp", [], 0),
                Int32("bias", [4], 1, 2, 3, -4),
                UInt8("lut", [256], Enumerable.Range(0, 256).Select(i => (byte)(255 - i)).ToArray()),
            ]);
        var report = Check(model);
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
        Assert.Equal("int32[1,4,4,4]", report.Values["c"].ToString());
        Assert.Equal("uint8[1,4,8,8]", report.Values["qc"].ToString());
        Assert.Equal("uint8[1,4,4,4]", report.Values["p"].ToString());
        Assert.Equal("uint8[1,3,8,8]", report.Values["g"].ToString());
        Assert.Equal(1L * 4 * 4 * 4 * 27 + 1L * 4 * 8 * 8 * 27 + 1L * 4 * 4 * 4 * 9, report.TotalMacs);
    }

    [Fact]
    public void Float_input_and_float_arithmetic_are_refused()
    {
        var floatInput = Model([Node("Relu", ["x"], ["y"])], [Value("x", T.Float, 1, 4)], [Value("y", T.Float, 1, 4)]);
        Assert.Contains("float32", Refused(floatInput, "float").Message);

        // A dequantized float fed into another op is float arithmetic in the middle of the graph.
        var middle = Model(
            [Node("DequantizeLinear", ["x", "s"], ["f"]), Node("QuantizeLinear", ["f", "s"], ["y"])],
            [Value("x", T.UInt8, 1, 4)], [Value("y", T.UInt8, 1, 4)], [Float("s", [], 0.5f)]);
        var report = Check(middle);
        Assert.False(report.Admitted);
        var reason = Assert.Single(report.Reasons);
        Assert.Equal(("float", "dequantizelinear_f"), (reason.Code, reason.Node));
        Assert.Contains("not a graph output", reason.Message);
    }

    [Fact]
    public void Scale_must_be_a_positive_constant()
    {
        var model = Model([Node("DequantizeLinear", ["x", "s"], ["y"])], [Value("x", T.Int8, 4)], [Value("y", T.Float, 4)], [Float("s", [], -1f)]);
        Assert.Contains("finite and positive", Refused(model, "scale").Message);
    }

    [Theory]
    [InlineData("MatMul")]
    [InlineData("Softmax")]
    [InlineData("Loop")]
    public void Unsupported_ops_are_named(string op)
    {
        var model = Model([Node(op, ["x", "x"], ["y"])], [Value("x", T.Int8, 2, 2)], [Value("y", T.Int8, 2, 2)]);
        var reason = Refused(model, "unsupported-op");
        Assert.Contains(op, reason.Message);
        Assert.Equal(op.ToLowerInvariant() + "_y", reason.Node);
    }

    [Fact]
    public void Custom_domains_are_refused()
    {
        var model = Model([new OnnxNode("n", "Relu", "com.microsoft", ["x"], ["y"], [])], [Value("x", T.Int8, 2)], [Value("y", T.Int8, 2)]);
        // Without the com.microsoft import the node's domain is not imported at all.
        Assert.Contains("com.microsoft", Refused(model, "opset").Message);
        // With it, only the four QLinear ops are admitted from that domain.
        var imported = new OnnxModel(9, [new OpsetImport("", 17), new OpsetImport("com.microsoft", 1)], model.Graph);
        Assert.Contains("Relu of domain com.microsoft", Refused(imported, "unsupported-op").Message);
        var other = Model([new OnnxNode("n", "Relu", "ai.onnx.ml", ["x"], ["y"], [])], [Value("x", T.Int8, 2)], [Value("y", T.Int8, 2)]);
        Assert.Contains("ai.onnx.ml", Refused(other, "unsupported-op").Message);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(26)]
    public void Opsets_outside_the_range_are_refused(long opset)
    {
        var model = Model([Node("Relu", ["x"], ["y"])], [Value("x", T.Int8, 2)], [Value("y", T.Int8, 2)], opset: opset);
        Assert.Contains($"opset {opset}", Refused(model, "opset").Message);
    }

    [Fact]
    public void Integer_relu_needs_opset_14()
    {
        var model = Model([Node("Relu", ["x"], ["y"])], [Value("x", T.Int8, 2)], [Value("y", T.Int8, 2)], opset: 13);
        Assert.Contains("needs opset 14", Refused(model, "opset").Message);
    }

    [Fact]
    public void Accumulator_overflow_is_refused_with_the_bound()
    {
        // u8 activations (|a| ≤ 255) × K = 100000 weights of 127: 100000·255·127 = 3238500000 > 2^31−1.
        var reason = Refused(MatMulInteger(100_000, 1, 127), "overflow");
        Assert.Contains("K=100000", reason.Message);
        Assert.Contains("max|a−a_zp|=255", reason.Message);
        Assert.Contains("max|b−b_zp|=127", reason.Message);
        Assert.Contains("= 3238500000 > 2^31−1", reason.Message);
        Assert.Equal("matmulinteger_y", reason.Node);
    }

    [Fact]
    public void Accumulator_bound_uses_actual_weight_values()
    {
        // |w| = 1 keeps K = 100000 safe: 100000·128·1 < 2^31.
        Assert.True(Check(MatMulInteger(100_000, 1, 1, T.Int8)).Admitted);
        // 2^31−1 / (128·127) = 132104.9: K = 132105 overflows, 132104 does not (1 column keeps the weights small).
        Assert.True(Check(MatMulInteger(132_104, 1, 127, T.Int8)).Admitted);
        Refused(MatMulInteger(132_105, 1, 127, T.Int8), "overflow");
    }

    [Fact]
    public void Bias_counts_toward_the_accumulator_bound()
    {
        OnnxModel Conv(int bias) => Model(
            [Node("QLinearConv", ["x", "s", "zp", "w", "s", "zp", "s", "zp", "b"], ["y"])],
            [Value("x", T.UInt8, 1, 1, 1, 1)], [Value("y", T.UInt8, 1, 1, 1, 1)],
            [UInt8("w", [1, 1, 1, 1], 255), Float("s", [], 1f), UInt8("zp", [], 0), Int32("b", [1], bias)]);
        Assert.True(Check(Conv(int.MaxValue - 255 * 255)).Admitted);
        Assert.Contains("max|bias|", Refused(Conv(int.MaxValue - 255 * 255 + 1), "overflow").Message);
    }

    [Theory]
    [InlineData(63, true)]
    [InlineData(-64, true)]
    [InlineData(64, false)]
    [InlineData(-65, false)]
    [InlineData(127, false)]
    public void U8_by_s8_weights_must_fit_the_int16_pair_bound(int weight, bool admitted)
    {
        var report = Check(MatMulInteger(4, 2, (sbyte)weight));
        Assert.Equal(admitted, report.Admitted);
        if (!admitted)
        {
            var reason = Assert.Single(report.Reasons);
            Assert.Equal("saturation", reason.Code);
            Assert.Contains("vpmaddubsw", reason.Message);
        }
    }

    [Fact]
    public void Saturation_rule_counts_the_weight_zero_point()
    {
        var model = Model([Node("MatMulInteger", ["x", "w", "", "wzp"], ["y"])],
            [Value("x", T.UInt8, 1, 2)], [Value("y", T.Int32, 1, 1)],
            [Int8("w", [2, 1], 60, 60), Int8("wzp", [], -10)]);
        Assert.Contains("[70, 70]", Refused(model, "saturation").Message);
    }

    [Fact]
    public void U8_by_non_constant_s8_is_refused()
    {
        var model = Model([Node("MatMulInteger", ["x", "w"], ["y"])],
            [Value("x", T.UInt8, 1, 2), Value("w", T.Int8, 2, 1)], [Value("y", T.Int32, 1, 1)]);
        Assert.Contains("non-constant", Refused(model, "saturation").Message);
    }

    [Fact]
    public void Dynamic_and_huge_input_dims_are_refused()
    {
        var dynamic = Model([Node("Relu", ["x"], ["y"])],
            [new OnnxValueInfo("x", (int)T.Int8, [OnnxDim.Symbolic("batch"), OnnxDim.Fixed(4)])], [Value("y", T.Int8, 1, 4)]);
        Assert.Contains("batch", Refused(dynamic, "dynamic-shape").Message);

        var huge = Model([Node("Relu", ["x"], ["y"])], [Value("x", T.Int8, 1L << 40)], [Value("y", T.Int8, 1)]);
        Refused(huge, "limit");

        // Each dim fits but a Gather output would be 2^22 · 2^10 elements.
        // (The indices are an ArgMax over 4 values, so they are provably in range for the 4-row table.)
        var blowup = Model(
            [
                Node("ArgMax", ["x"], ["idx"], OnnxAttribute.Of("axis", 2L), OnnxAttribute.Of("keepdims", 0L)),
                Node("Gather", ["table", "idx"], ["y"]),
            ],
            [Value("x", T.Int8, 1 << 10, 1 << 7, 4)], [Value("y", T.Int8, 1)], [Int8("table", [4, 1 << 14], new sbyte[4 << 14])]);
        Assert.Contains("elements", Refused(blowup, "limit").Message);
    }

    [Fact]
    public void Mac_limit_is_enforced()
    {
        // 1024 x 1024 x 1024 MatMulInteger repeated: 2^30 MACs each, two of them exceed 2·10^9.
        var model = Model(
            [Node("MatMulInteger", ["x", "x"], ["a"]), Node("MatMulInteger", ["x", "x"], ["b"])],
            [Value("x", T.UInt8, 1024, 1024)], [Value("a", T.Int32, 1024, 1024), Value("b", T.Int32, 1024, 1024)]);
        Assert.Contains("multiply-accumulates", Refused(model, "cost").Message);
    }

    [Fact]
    public void Reshape_needs_a_constant_shape_and_resolves_minus_one_and_zero()
    {
        var ok = Model([Node("Reshape", ["x", "shape"], ["y"])], [Value("x", T.Int8, 2, 3, 4)], [Value("y", T.Int8, 2, 12)],
            [Int64("shape", [2], 0, -1)]);
        Assert.Equal("int8[2,12]", Check(ok).Values["y"].ToString());

        var dynamic = Model([Node("Reshape", ["x", "s"], ["y"])], [Value("x", T.Int8, 2, 3), Value("s", T.Int64, 2)], [Value("y", T.Int8, 6)]);
        Refused(dynamic, "dynamic-shape");

        var bad = Model([Node("Reshape", ["x", "shape"], ["y"])], [Value("x", T.Int8, 2, 3)], [Value("y", T.Int8, 5)], [Int64("shape", [1], 5)]);
        Assert.Contains("cannot reshape", Refused(bad, "shape").Message);
    }

    [Fact]
    public void Declared_output_shape_must_match_inference()
    {
        var model = Model([Node("Relu", ["x"], ["y"])], [Value("x", T.Int8, 2, 3)], [Value("y", T.Int8, 3, 2)]);
        Assert.Contains("declared [3,2]", Refused(model, "shape").Message);
    }

    [Fact]
    public void Float_cast_is_refused()
    {
        var model = Model([Node("Cast", ["x"], ["y"], OnnxAttribute.Of("to", 1L))], [Value("x", T.Int8, 2)], [Value("y", T.Float, 2)]);
        Assert.Contains("not an integer type", Refused(model, "float").Message);
    }

    [Fact]
    public void Gather_indices_out_of_range_are_refused()
    {
        var model = Model([Node("Gather", ["x", "i"], ["y"])], [Value("x", T.UInt8, 4)], [Value("y", T.UInt8, 1)], [Int64("i", [1], 4)]);
        Assert.Contains("index 4", Refused(model, "shape").Message);
    }

    [Fact]
    public void Unparseable_bytes_are_refused_with_a_format_reason()
    {
        var report = ModelAdmission.Check([0x0a, 0x05, 0x01]);
        Assert.False(report.Admitted);
        Assert.Equal("format", Assert.Single(report.Reasons).Code);
        Assert.Null(report.Model);
    }

    [Fact]
    public void Per_axis_scales_must_match_the_axis_length()
    {
        OnnxModel Quant(int scales) => Model([Node("QuantizeLinear", ["x", "s", "zp"], ["y"], OnnxAttribute.Of("axis", 1L))],
            [Value("x", T.Int32, 2, 3)], [Value("y", T.Int8, 2, 3)],
            [Float("s", [scales], Enumerable.Repeat(0.5f, scales).ToArray()), Int8("zp", [scales], new sbyte[scales])]);
        Assert.True(Check(Quant(3)).Admitted);
        Assert.Contains("2 scales for axis 1 of length 3", Refused(Quant(2), "shape").Message);
    }

    [Fact]
    public void Int32_dequantize_has_no_zero_point()
    {
        OnnxModel Deq(int zp) => Model([Node("DequantizeLinear", ["x", "s", "zp"], ["y"])],
            [Value("x", T.Int32, 4)], [Value("y", T.Float, 4)], [Float("s", [], 0.5f), Int32("zp", [], zp)]);
        Assert.True(Check(Deq(0)).Admitted);
        Assert.Contains("no zero point", Refused(Deq(3), "attribute").Message);
    }

    [Fact]
    public void MaxPool_indices_output_is_refused()
    {
        var model = Model([Node("MaxPool", ["x"], ["y", "idx"], OnnxAttribute.Of("kernel_shape", [2L, 2L]))],
            [Value("x", T.UInt8, 1, 1, 4, 4)], [Value("y", T.UInt8, 1, 1, 3, 3)]);
        Assert.Contains("output 1 ('idx')", Refused(model, "unsupported-op").Message);
    }

    [Theory]
    [InlineData("pbds")] // a misspelled pads: ignored, the model would run unpadded where ONNX Runtime refuses it
    [InlineData("lernel_shape")]
    [InlineData("group")] // real ONNX, but not MaxPool's
    public void Attribute_the_op_does_not_define_is_refused(string name)
    {
        var model = Model([Node("MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", [2L, 2L]), OnnxAttribute.Of(name, [1L, 1L, 1L, 1L]))],
            [Value("x", T.UInt8, 1, 1, 4, 4)], [Value("y", T.UInt8, 1, 1, 3, 3)]);
        var reason = Refused(model, "attribute");
        Assert.Contains($"unknown attribute '{name}'", reason.Message);
        Assert.Contains("kernel_shape", reason.Message); // names what is allowed
    }

    [Fact]
    public void Attribute_of_another_type_than_onnx_defines_is_refused()
    {
        // Found by the model fuzz target: this ArgMax was admitted, then failed in the executor on every input.
        OnnxModel ArgMax(OnnxAttribute last) => Model([Node("ArgMax", ["x"], ["y"], OnnxAttribute.Of("axis", 1L), OnnxAttribute.Of("keepdims", 1L), last)],
            [Value("x", T.UInt8, 1, 4)], [Value("y", T.Int64, 1, 1)]);
        Assert.True(Check(ArgMax(OnnxAttribute.Of("select_last_index", 1L))).Admitted);
        var reason = Refused(ArgMax(OnnxAttribute.Of("select_last_index", [1L])), "attribute");
        Assert.Contains("'select_last_index' is Ints, ONNX defines it as Int", reason.Message);

        // And on any op: MaxPool's kernel_shape as one int, its storage_order as a string.
        var pool = Model([Node("MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", 2L))], [Value("x", T.UInt8, 1, 1, 4, 4)], [Value("y", T.UInt8, 1, 1, 3, 3)]);
        Assert.Contains("'kernel_shape' is Int, ONNX defines it as Ints", Refused(pool, "attribute").Message);
        var order = Model([Node("MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", [2L, 2L]), OnnxAttribute.Of("storage_order", "0"))],
            [Value("x", T.UInt8, 1, 1, 4, 4)], [Value("y", T.UInt8, 1, 1, 3, 3)]);
        Assert.Contains("'storage_order' is String, ONNX defines it as Int", Refused(order, "attribute").Message);
    }

    [Fact]
    public void Attribute_given_twice_is_refused()
    {
        var model = Model([Node("MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", [2L, 2L]), OnnxAttribute.Of("kernel_shape", [3L, 3L]))],
            [Value("x", T.UInt8, 1, 1, 4, 4)], [Value("y", T.UInt8, 1, 1, 3, 3)]);
        Assert.Contains("'kernel_shape' more than once", Refused(model, "attribute").Message);
        var ok = Model([Node("MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", [2L, 2L]))],
            [Value("x", T.UInt8, 1, 1, 4, 4)], [Value("y", T.UInt8, 1, 1, 3, 3)]);
        Assert.True(Check(ok).Admitted); // the same node without the extra attribute
    }
}
