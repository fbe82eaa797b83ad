using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using static Chain.Inference.Tests.Onnx.Models;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Admission;

/// <summary>
/// The rules that make admission a proof that the canonical executor runs the model (issue 11): each
/// case here was admitted once and failed at run time. What is admitted must now run on extreme inputs;
/// what is refused names the rule.
/// </summary>
public class AdmittedModelsRunRulesTests
{
    private static AdmissionReport Check(OnnxModel model) => ModelAdmission.Check(model.ToBytes());

    private static AdmissionReason Refused(OnnxModel model, string code)
    {
        var report = Check(model);
        Assert.False(report.Admitted, "admitted, expected refusal with code " + code);
        return Assert.Single(report.Reasons, r => r.Code == code);
    }

    /// <summary>Admitted, and the canonical executor runs it on all-min, all-max and alternating inputs.</summary>
    private static AdmissionReport AdmittedAndRuns(OnnxModel model)
    {
        var bytes = model.ToBytes();
        var report = ModelAdmission.Check(bytes);
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
        using var executor = CanonicalExecutor.Load(bytes);
        foreach (var pattern in new[] { InputPattern.AllMin, InputPattern.AllMax, InputPattern.Alternating, InputPattern.Random })
            executor.Run(InputGenerator.Create(executor.Inputs, pattern, 1));
        return report;
    }

    /// <summary>QLinearMatMul u8 [m,k] × u8 constant [k,n] with the given scales and zero points.</summary>
    private static OnnxModel QMatMul(float[] aScale, float[] bScale, float[] yScale, int m = 2, int k = 3, int n = 2,
        byte[]? aZp = null, byte[]? bZp = null, byte[]? yZp = null, long opset = 17)
    {
        static int[] Shape(int length) => length == 1 ? [] : [length];
        aZp ??= [0];
        bZp ??= [0];
        yZp ??= [0];
        return Model([Node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
            [Value("a", T.UInt8, m, k)], [Value("y", T.UInt8, m, n)],
            [
                Float("as", Shape(aScale.Length), aScale), UInt8("az", Shape(aZp.Length), aZp),
                UInt8("b", [k, n], Enumerable.Range(0, k * n).Select(i => (byte)(i * 37)).ToArray()),
                Float("bs", Shape(bScale.Length), bScale), UInt8("bz", Shape(bZp.Length), bZp),
                Float("ys", Shape(yScale.Length), yScale), UInt8("yz", Shape(yZp.Length), yZp),
            ], opset);
    }

    // ---- 1. scales and requantization multipliers ----

    [Fact]
    public void Subnormal_scales_are_refused()
    {
        var reason = Refused(QMatMul([0.5f], [0.5f], [1e-45f]), "scale");
        Assert.Contains("subnormal", reason.Message);
        Assert.Contains("'ys'", reason.Message);
        var dequantize = Model([Node("DequantizeLinear", ["x", "s"], ["y"])], [Value("x", T.Int8, 4)], [Value("y", T.Float, 4)],
            [Float("s", [], 1e-40f)]);
        Assert.Contains("subnormal", Refused(dequantize, "scale").Message);
    }

    [Theory]
    [InlineData(3e38f, 3e38f, 1f)]      // a·b overflows to +Inf
    [InlineData(1e20f, 1e18f, 1e-10f)]  // a·b = 1e38 is finite, but ÷ y overflows
    [InlineData(1e-20f, 1e-20f, 1f)]    // a·b = 1e-40 is subnormal
    [InlineData(1e-20f, 1e-10f, 1e20f)] // a·b = 1e-30 is normal, but the multiplier 1e-50 underflows to 0
    public void Multipliers_that_are_not_normal_are_refused(float a, float b, float y)
    {
        var reason = Refused(QMatMul([a], [b], [y]), "scale");
        Assert.Contains("requantization multiplier", reason.Message);
        Assert.Contains("normal float32", reason.Message);
    }

    [Fact]
    public void Exact_tie_multipliers_and_ordinary_scales_run()
    {
        // m = 0.5: every odd accumulator is a tie, rounded to even.
        AdmittedAndRuns(QMatMul([0.5f], [1f], [1f]));
        AdmittedAndRuns(QMatMul([0.02f, 0.03f], [0.5f, 0.25f], [0.1f, 0.2f], aZp: [3, 200], yZp: [128, 0]));
    }

    [Fact]
    public void Per_channel_multipliers_are_checked_channel_by_channel()
    {
        OnnxModel Conv(float[] wScale) => Model(
            [Node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])],
            [Value("x", T.UInt8, 1, 1, 3, 3)], [Value("y", T.UInt8, 1, 2, 3, 3)],
            [
                Float("xs", [], 1e20f), UInt8("xz", [], 0), UInt8("w", [2, 1, 1, 1], 1, 2), Float("ws", [2], wScale),
                UInt8("wz", [2], 0, 0), Float("ys", [], 1f), UInt8("yz", [], 0),
            ]);
        AdmittedAndRuns(Conv([1e-25f, 1e-22f]));
        // The second channel's multiplier 1e20·1e19 overflows; the first alone is fine.
        Assert.Contains("1E+19", Refused(Conv([1e-25f, 1e19f]), "scale").Message);
    }

    // ---- 2. zero point and scale shapes ----

    [Fact]
    public void Per_row_zero_point_must_match_the_rows()
    {
        // M = 1: a per-row zero point of 3 values has nothing to apply to.
        var reason = Refused(QMatMul([0.1f], [0.1f], [0.1f], m: 1, aZp: [1, 2, 3]), "shape");
        Assert.Contains("'az' has shape [3]", reason.Message);
        Assert.Contains("1 values (one per row of a)", reason.Message);
        Refused(QMatMul([0.1f], [0.1f], [0.1f], n: 2, bZp: [1, 2, 3]), "shape");
        Refused(QMatMul([0.1f, 0.2f, 0.3f], [0.1f], [0.1f], m: 2), "shape");
        AdmittedAndRuns(QMatMul([0.1f, 0.2f, 0.3f], [0.1f], [0.1f, 0.2f, 0.4f], m: 3, aZp: [1, 2, 3], yZp: [7, 8, 9]));

        OnnxModel MatMulInteger(int zpLength) => Model([Node("MatMulInteger", ["a", "b", "az"], ["y"])],
            [Value("a", T.UInt8, 1, 4), Value("b", T.UInt8, 4, 2)], [Value("y", T.Int32, 1, 2)],
            [UInt8("az", [zpLength], new byte[zpLength])]);
        Refused(MatMulInteger(3), "shape");
        AdmittedAndRuns(MatMulInteger(1));
    }

    [Fact]
    public void QLinearMatMul_zero_points_are_required()
    {
        var model = Model([Node("QLinearMatMul", ["a", "s", "", "b", "s", "z", "s", "z"], ["y"])],
            [Value("a", T.UInt8, 1, 2)], [Value("y", T.UInt8, 1, 1)],
            [Float("s", [], 0.5f), UInt8("z", [], 0), UInt8("b", [2, 1], 1, 2)]);
        Assert.Contains("input 2 is required", Refused(model, "graph").Message);
    }

    [Theory]
    [InlineData("xz", 2, 1)]
    [InlineData("wz", 1, 3)]
    [InlineData("ws", 1, 3)]
    public void Conv_parameters_must_be_per_tensor_or_per_output_channel(string wrong, int xzCount, int perChannel)
    {
        int[] Shape(string name, int count) => name == wrong ? [count] : [];
        var model = Model(
            [Node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])],
            [Value("x", T.UInt8, 1, 1, 3, 3)], [Value("y", T.UInt8, 1, 2, 3, 3)],
            [
                Float("xs", [], 0.5f), UInt8("xz", Shape("xz", xzCount), new byte[xzCount]),
                UInt8("w", [2, 1, 1, 1], 1, 2), Float("ws", Shape("ws", perChannel), Enumerable.Repeat(0.5f, wrong == "ws" ? perChannel : 1).ToArray()),
                UInt8("wz", Shape("wz", perChannel), new byte[wrong == "wz" ? perChannel : 1]), Float("ys", [], 0.5f), UInt8("yz", [], 0),
            ]);
        Assert.Contains($"'{wrong}' has shape", Refused(model, "shape").Message);
    }

    [Fact]
    public void Conv_accepts_only_one_to_three_spatial_axes()
    {
        var model = Model([Node("ConvInteger", ["x", "w"], ["y"])],
            [Value("x", T.UInt8, 1, 1, 2, 2, 2, 2)], [Value("y", T.Int32, 1, 1, 2, 2, 2, 2)], [UInt8("w", [1, 1, 1, 1, 1, 1], 1)]);
        Assert.Contains("1 to 3 spatial axes", Refused(model, "shape").Message);
    }

    // ---- 3. pooling and padding ----

    private static OnnxModel Pool(long[] pads, long[]? dilations = null, string? autoPad = null, long ceil = 0, int input = 4)
    {
        var attrs = new List<OnnxAttribute> { OnnxAttribute.Of("kernel_shape", [2L]), OnnxAttribute.Of("pads", pads) };
        if (dilations is not null) attrs.Add(OnnxAttribute.Of("dilations", dilations));
        if (autoPad is not null) attrs.Add(OnnxAttribute.Of("auto_pad", autoPad));
        if (ceil != 0) attrs.Add(OnnxAttribute.Of("ceil_mode", ceil));
        return Model([Node("MaxPool", ["x"], ["y"], [.. attrs])], [Value("x", T.Int8, 1, 1, input)], [new OnnxValueInfo("y", 0, null)]);
    }

    [Fact]
    public void MaxPool_pads_must_be_smaller_than_the_kernel()
    {
        AdmittedAndRuns(Pool([1, 1]));
        Assert.Contains("smaller than kernel_shape", Refused(Pool([2, 0]), "attribute").Message);
        Refused(Pool([0, 2]), "attribute");
    }

    [Fact]
    public void MaxPool_windows_must_reach_the_input()
    {
        // Kernel 2 with dilation 4 and pad 1 on an input of 3: the only window taps -1 and 3, both padding.
        Assert.Contains("covers only padding", Refused(Pool([1, 1], [4], input: 3), "attribute").Message);
        AdmittedAndRuns(Pool([1, 1], [3], input: 3));
        // SAME_UPPER pads an input of 1 by 1 and 2 for a dilated kernel of 4: its taps -1 and 2 both miss.
        Refused(Pool([0, 0], [3], autoPad: "SAME_UPPER", input: 1), "attribute");
    }

    [Fact]
    public void Auto_pad_excludes_pads_and_ceil_mode()
    {
        Assert.Contains("only one of them", Refused(Pool([1, 0], autoPad: "VALID"), "attribute").Message);
        Assert.Contains("ceil_mode", Refused(Pool([0, 0], autoPad: "VALID", ceil: 1), "attribute").Message);
        AdmittedAndRuns(Pool([0, 0], autoPad: "SAME_LOWER"));
    }

    // ---- 4. QuantizeLinear types by opset ----

    private static OnnxModel Quantize(long opset, T zeroPoint = T.Int8, long? outputDtype = null)
    {
        OnnxAttribute[] attrs = outputDtype is { } dt ? [OnnxAttribute.Of("output_dtype", dt)] : [];
        var zp = new OnnxTensor("zp", Tensor.Zeros(zeroPoint, []));
        return Model([Node("QuantizeLinear", ["x", "s", "zp"], ["y"], attrs)], [Value("x", T.Int32, 2, 3)],
            [new OnnxValueInfo("y", 0, null)], [Float("s", [], 0.25f), zp], opset);
    }

    [Theory]
    [InlineData(10, true)]
    [InlineData(18, true)]
    [InlineData(19, false)]
    [InlineData(21, false)]
    [InlineData(22, false)]
    [InlineData(23, true)]
    [InlineData(25, true)]
    public void Int32_quantize_with_a_float_scale_follows_the_onnx_type_constraints(long opset, bool admitted)
    {
        // QuantizeLinear-19 and -21 type x and y_scale with one T1; -10/-13 fix y_scale to float, -23 splits T1 and T2.
        if (admitted) AdmittedAndRuns(Quantize(opset));
        else Assert.Contains("one type", Refused(Quantize(opset), "type").Message);
    }

    [Fact]
    public void Sixteen_bit_quantization_and_output_dtype_need_opset_21()
    {
        Assert.Contains("needs opset 21", Refused(Quantize(18, T.Int16), "opset").Message);
        AdmittedAndRuns(Quantize(23, T.Int16));
        Refused(Quantize(18, T.Int8, (long)T.Int8), "opset");
        Assert.Contains("differs from y_zero_point", Refused(Quantize(23, T.Int8, (long)T.UInt8), "type").Message);
        AdmittedAndRuns(Quantize(23, T.UInt16, 0));
    }

    // ---- 5. Identity ----

    [Theory]
    [InlineData(T.UInt8)]
    [InlineData(T.Int16)]
    [InlineData(T.Int64)]
    [InlineData(T.UInt64)]
    public void Identity_is_admitted_for_integers(T type)
    {
        var report = AdmittedAndRuns(Model([Node("Identity", ["x"], ["y"])], [Value("x", type, 2, 3)], [Value("y", type, 2, 3)]));
        Assert.Equal($"{TensorElementTypes.Name(type)}[2,3]", report.Values["y"].ToString());
        Refused(Model([Node("Identity", ["x"], ["y"])], [Value("x", T.Float, 2)], [Value("y", T.Float, 2)]), "float");
    }

    // ---- Gather indices must be provably in range ----

    [Fact]
    public void Non_constant_gather_indices_must_be_provably_in_range()
    {
        OnnxModel Lookup(int table, params OnnxNode[] nodes) => Model(
            [.. nodes, Node("Gather", ["lut", "i"], ["y"])], [Value("x", T.UInt8, 2, 3)], [new OnnxValueInfo("y", 0, null)],
            [UInt8("lut", [table], new byte[table])]);
        var cast = Node("Cast", ["x"], ["i"], OnnxAttribute.Of("to", (long)T.Int32));
        AdmittedAndRuns(Lookup(256, cast));
        Assert.Contains("[0, 255], outside [-255, 254]", Refused(Lookup(255, cast), "shape").Message);
        // ArgMax indices lie in [0, 2], so a 3-entry table is enough; a clipped value works the same way.
        AdmittedAndRuns(Lookup(3, Node("ArgMax", ["x"], ["i"], OnnxAttribute.Of("axis", 1L))));

        var raw = Model([Node("Gather", ["lut", "i"], ["y"])], [Value("i", T.Int64, 4)], [Value("y", T.UInt8, 4)],
            [UInt8("lut", [256], new byte[256])]);
        Assert.Contains("provably in range", Refused(raw, "shape").Message);
    }

    [Fact]
    public void Per_tensor_quantize_axis_must_fit_32_bits()
    {
        var model = Model([Node("DequantizeLinear", ["x", "s"], ["y"], OnnxAttribute.Of("axis", 1L << 40))],
            [Value("x", T.Int8, 4)], [Value("y", T.Float, 4)], [Float("s", [], 0.5f)]);
        Assert.Contains("does not fit in 32 bits", Refused(model, "attribute").Message);
    }
}
