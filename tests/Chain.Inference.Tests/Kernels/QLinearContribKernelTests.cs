using Chain.Inference.Admission;
using Chain.Inference.Kernels;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Kernels;

/// <summary>Exact semantics, SIMD-versus-scalar equality and admission of the com.microsoft QLinear ops.</summary>
public sealed class QLinearContribKernelTests
{
    private static Tensor U8(int[] shape, params byte[] v) => Tensor.Create(T.UInt8, shape, v);
    private static Tensor S8(int[] shape, params sbyte[] v) => Tensor.Create<sbyte>(T.Int8, shape, v);
    private static Tensor F(float v) => Tensor.Create<float>(T.Float, [], [v]);
    private static Tensor Zu(byte v) => U8([], v);
    private static Tensor Zs(sbyte v) => S8([], v);

    // ---- exact cases ----

    [Fact]
    public void QLinearMul_adds_the_zero_point_in_float_before_rounding()
    {
        // (3−1)·(5−4) = 2, ratio 0.5·1/0.4 = 1.25 → 2.5; + zC 1 = 3.5 → 4 (ties to even after the addition);
        // rounding first (rne(2.5) = 2, + 1 = 3) would differ.
        var y = CanonicalOps.QLinearMul(U8([1], 3), F(0.5f), Zu(1), U8([1], 5), F(1f), Zu(4), F(0.4f), Zu(1));
        Assert.Equal(3.5f, Requantize.Multiplier(0.5f, 1f, 0.4f) * 2 + 1);
        Assert.Equal([4], y.Data.ToArray());
        // zC 0: 2.5 → 2 (tie to even).
        y = CanonicalOps.QLinearMul(U8([1], 3), F(0.5f), Zu(1), U8([1], 5), F(1f), Zu(4), F(0.4f), Zu(0));
        Assert.Equal([2], y.Data.ToArray());
    }

    [Fact]
    public void QLinearMul_saturates_and_handles_int8()
    {
        var y = CanonicalOps.QLinearMul(S8([3], -128, 127, 10), F(1f), Zs(0), S8([3], -128, 127, -10), F(1f), Zs(0), F(1f), Zs(0));
        Assert.Equal(new sbyte[] { 127, 127, -100 }, y.Elements<sbyte>().ToArray());
        y = CanonicalOps.QLinearMul(U8([2], 0, 255), F(1f), Zu(128), U8([2], 255, 255), F(1f), Zu(0), F(1f), Zu(0));
        Assert.Equal([0, 255], y.Data.ToArray());
    }

    [Fact]
    public void QLinearAdd_ties_round_to_even_and_saturate()
    {
        // rA = rB = 0.5, zeros 0: v = (a + b)/2 exactly; 1+2 → 1.5 → 2, 1+4 → 2.5 → 2, 3+4 → 3.5 → 4.
        var y = CanonicalOps.QLinearAdd(U8([4], 1, 1, 3, 255), F(0.5f), Zu(0), U8([4], 2, 4, 4, 255), F(0.5f), Zu(0), F(1f), Zu(0));
        Assert.Equal([2, 2, 4, 255], y.Data.ToArray());
        // Saturation: 200 + 200 at ratio 1 → 255; int8 −128 + −128 → −128.
        y = CanonicalOps.QLinearAdd(U8([1], 200), F(1f), Zu(0), U8([1], 200), F(1f), Zu(0), F(1f), Zu(0));
        Assert.Equal([255], y.Data.ToArray());
        var s = CanonicalOps.QLinearAdd(S8([1], -128), F(1f), Zs(0), S8([1], -128), F(1f), Zs(0), F(1f), Zs(0));
        Assert.Equal(new sbyte[] { -128 }, s.Elements<sbyte>().ToArray());
        // Omitted zero points are 0.
        y = CanonicalOps.QLinearAdd(U8([1], 10), F(1f), null, U8([1], 20), F(1f), null, F(2f), null);
        Assert.Equal([15], y.Data.ToArray());
    }

    [Fact]
    public void QLinearAdd_parameters_and_element_follow_the_documented_steps()
    {
        float sA = 0.37f, sB = 0.0123f, sC = 0.2f;
        int zA = 131, zB = 7, zC = 200;
        var p = QLinearBinaryParams.Create(false, false, sA, zA, sB, zB, sC, zC);
        var rA = sA / sC;
        var rB = sB / sC;
        var pa = rA * zA;
        var pb = rB * zB;
        var sum = pa + pb;
        Assert.Equal(rA, p.RatioA);
        Assert.Equal(rB, p.RatioB);
        Assert.Equal(zC - sum, p.Fixed);
        for (var a = 0; a < 256; a += 5)
        for (var b = 0; b < 256; b += 3)
        {
            var v = MathF.FusedMultiplyAdd(a, rA, MathF.FusedMultiplyAdd(b, rB, p.Fixed));
            var expected = (byte)Math.Clamp((int)MathF.Round(v, MidpointRounding.ToEven), 0, 255);
            Assert.Equal(expected, CanonicalOps.QLinearBinaryScalar(p, (byte)a, (byte)b));
        }
    }

    [Fact]
    public void QLinearAdd_broadcasts_like_numpy()
    {
        // [2,1] + [1,3] → [2,3], ratio 1.
        var y = CanonicalOps.QLinearAdd(U8([2, 1], 10, 20), F(1f), Zu(0), U8([1, 3], 1, 2, 3), F(1f), Zu(0), F(1f), Zu(0));
        Assert.Equal(new[] { 2, 3 }, y.Shape.ToArray());
        Assert.Equal([11, 12, 13, 21, 22, 23], y.Data.ToArray());
        var s = CanonicalOps.QLinearMul(U8([1], 2), F(1f), Zu(0), U8([2, 2], 1, 2, 3, 4), F(1f), Zu(0), F(1f), Zu(0));
        Assert.Equal([2, 4, 6, 8], s.Data.ToArray());
    }

    [Fact]
    public void QLinearGlobalAveragePool_is_an_integer_sum_requantized()
    {
        // Σ(x − 1) over 4 = (0 + 1 + 2 + 4) = 7, m = 1/(1·4) = 0.25 → 1.75 → 2, + zy 3 = 5.
        var y = CanonicalOps.QLinearGlobalAveragePool(U8([1, 1, 2, 2], 1, 2, 3, 5), F(1f), Zu(1), F(1f), Zu(3));
        Assert.Equal(new[] { 1, 1, 1, 1 }, y.Shape.ToArray());
        Assert.Equal([5], y.Data.ToArray());
        // Tie: Σ = 2 over 4 → 0.5 → 0 (even).
        y = CanonicalOps.QLinearGlobalAveragePool(U8([1, 1, 2, 2], 0, 0, 1, 1), F(1f), Zu(0), F(1f), Zu(0));
        Assert.Equal([0], y.Data.ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.QLinearGlobalAveragePool(U8([1, 1, 1, 1], 0), F(1f), Zu(0), F(1e-6f), Zu(0)));
    }

    [Fact]
    public void QLinearAveragePool_padding_and_count_include_pad()
    {
        // 1×1×1×3 [2, 4, 9], kernel 2, pads 1/1, stride 1: windows {pad,2}, {2,4}, {4,9}, {9,pad}.
        var x = U8([1, 1, 1, 3], 2, 4, 9);
        var excl = CanonicalOps.QLinearAveragePool(x, F(1f), Zu(0), F(1f), Zu(0), [1, 2], [0, 1, 0, 1], [1, 1], false, false);
        Assert.Equal([2, 3, 6, 9], excl.Data.ToArray()); // 2/1, 6/2 = 3, 13/2 = 6.5 → 6, 9/1
        var incl = CanonicalOps.QLinearAveragePool(x, F(1f), Zu(0), F(1f), Zu(0), [1, 2], [0, 1, 0, 1], [1, 1], false, true);
        Assert.Equal([1, 3, 6, 4], incl.Data.ToArray()); // 2/2 = 1, 3, 6.5 → 6, 9/2 = 4.5 → 4
        // ceil_mode: [2,4,9] kernel 2 stride 2 → windows {2,4}, {9}; the divisor with count_include_pad stays 2.
        var ceil = CanonicalOps.QLinearAveragePool(x, F(1f), Zu(0), F(1f), Zu(0), [1, 2], [0, 0, 0, 0], [1, 2], true, true);
        Assert.Equal([3, 4], ceil.Data.ToArray());
        var ceilExcl = CanonicalOps.QLinearAveragePool(x, F(1f), Zu(0), F(1f), Zu(0), [1, 2], [0, 0, 0, 0], [1, 2], true, false);
        Assert.Equal([3, 9], ceilExcl.Data.ToArray());
        // The zero point is subtracted before averaging and the output one added in float: (2−2 + 4−2)/2 = 1, /0.5 = 2, + 10.
        var z = CanonicalOps.QLinearAveragePool(U8([1, 1, 1, 2], 2, 4), F(1f), Zu(2), F(0.5f), Zu(10), [1, 2], [], [], false, false);
        Assert.Equal([12], z.Data.ToArray());
    }

    [Fact]
    public void QLinearAveragePool_sums_in_float32_in_row_major_order()
    {
        // x_scale 0.1: the float32 sum 0.1·(1+1+1) rounds differently from 0.1·3 as one product.
        var x = U8([1, 1, 1, 3], 1, 1, 1);
        var y = CanonicalOps.QLinearAveragePool(x, F(0.1f), Zu(0), F(0.1f), Zu(0), [1, 3], [0, 1, 0, 1], [1, 1], false, true);
        var d = 0.1f * 1;
        var expect0 = MathF.Round((d + d) / 3f / 0.1f, MidpointRounding.ToEven);
        var expect1 = MathF.Round((d + d + d) / 3f / 0.1f, MidpointRounding.ToEven);
        Assert.Equal([(byte)expect0, (byte)expect1, (byte)expect0], y.Data.ToArray());
    }

    [Fact]
    public void QLinearAveragePool_over_the_whole_image_without_pads_is_the_global_pool()
    {
        var rng = new Random(5);
        var data = new byte[2 * 3 * 4 * 5];
        rng.NextBytes(data);
        var x = U8([2, 3, 4, 5], data);
        var a = CanonicalOps.QLinearAveragePool(x, F(0.3f), Zu(17), F(0.2f), Zu(9), [4, 5], [], [], false, false);
        var g = CanonicalOps.QLinearGlobalAveragePool(x, F(0.3f), Zu(17), F(0.2f), Zu(9));
        Assert.Equal(g.Data.ToArray(), a.Data.ToArray());
    }

    // ---- software FMA ----

    [Fact]
    public void Software_fma_equals_the_hardware_fma()
    {
        var rng = new Random(11);
        var checkedCount = 0;
        for (var i = 0; i < 2_000_000; i++)
        {
            float x = rng.Next(3) == 0 ? rng.Next(-300, 300) : (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 30)));
            var y = (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 30)));
            var z = rng.Next(4) == 0 ? -x * y : (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 30)));
            if (rng.Next(8) == 0)
            {
                // Force exact binary64 midpoints: z a half-ulp away from a representable product sum.
                var r = x * y;
                z = (MathF.BitIncrement(r) - r) / 2;
            }
            var expected = MathF.FusedMultiplyAdd(x, y, z);
            var actual = ExactFma.Fma(x, y, z);
            if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual) && !(expected == 0 && actual == 0))
                Assert.Fail($"fma({x:R}, {y:R}, {z:R}) = {expected:R}, software {actual:R}");
            checkedCount++;
        }
        Assert.Equal(2_000_000, checkedCount);
    }

    // ---- SIMD equals scalar ----

    [Theory]
    [InlineData("QLinearAdd")]
    [InlineData("QLinearMul")]
    public void Vector_path_is_byte_identical_to_the_scalar_path(string op)
    {
        var rng = new Random(op.Length);
        for (var iter = 0; iter < 400; iter++)
        {
            var type = rng.Next(2) == 0 ? T.UInt8 : T.Int8;
            var (aShape, bShape, _) = QLinearContribOrtTests.BroadcastShapes(rng);
            if (rng.Next(4) == 0) (aShape, bShape) = ([1 + rng.Next(200)], [1]);
            var a = Tensor.Create(type, aShape, QLinearContribOrtTests.RandomBytes(rng, aShape.Aggregate(1L, (p, d) => p * d)));
            var b = Tensor.Create(type, bShape, QLinearContribOrtTests.RandomBytes(rng, bShape.Aggregate(1L, (p, d) => p * d)));
            Tensor Zp() => Tensor.Create(type, [], [(byte)rng.Next(256)]);
            Tensor Sc() => F(rng.Next(5) == 0 ? 0.5f : QLinearContribOrtTests.RandomScale(rng));
            Tensor sa = Sc(), za = Zp(), sb = Sc(), zb = Zp(), sc = Sc(), zc = Zp();
            Tensor Run()
            {
                return op == "QLinearAdd"
                    ? CanonicalOps.QLinearAdd(a, sa, za, b, sb, zb, sc, zc)
                    : CanonicalOps.QLinearMul(a, sa, za, b, sb, zb, sc, zc);
            }
            Tensor scalar;
            using (KernelOptions.Use(GemmPath.Scalar)) scalar = Run();
            var vector = Run();
            Assert.Equal(scalar.Data.ToArray(), vector.Data.ToArray());
        }
    }

    // ---- admission ----

    private static AdmissionReport Check(OnnxModel model) => ModelAdmission.Check(model.ToBytes());

    private static void Refused(OnnxModel model, string code, string text)
    {
        var report = Check(model);
        Assert.False(report.Admitted);
        Assert.Contains(report.Reasons, r => r.Code == code && r.Message.Contains(text, StringComparison.Ordinal));
    }

    [Fact]
    public void The_four_ops_are_admitted_with_gas_and_run_within_the_plan()
    {
        OnnxModel[] models =
        [
            QLinearContribModels.Binary("QLinearAdd", T.UInt8, [1, 8, 4, 4], [1, 8, 1, 1], 0.05f, 128, 0.07f, 120, 0.1f, 130),
            QLinearContribModels.Binary("QLinearMul", T.Int8, [1, 8, 4, 4], [], 0.05f, 3, 0.07f, -2, 0.1f, 0),
            QLinearContribModels.Binary("QLinearAdd", T.UInt8, [5], [5], 0.05f, 0, 0.07f, 0, 0.1f, 0, omitZeroPoints: true),
            QLinearContribModels.GlobalPool(T.UInt8, [1, 8, 7, 7], 0.05f, 128, 0.05f, 128),
            QLinearContribModels.AveragePool(T.Int8, [1, 8, 7, 7], 0.05f, 0, 0.05f, 0,
                OnnxAttribute.Of("kernel_shape", [3L, 3]), OnnxAttribute.Of("pads", [1L, 1, 1, 1]), OnnxAttribute.Of("count_include_pad", 1L)),
        ];
        foreach (var model in models)
        {
            var report = Check(model);
            Assert.True(report.Admitted, string.Join("; ", report.Reasons));
            Assert.True(report.Gas > GasSchedule.GasBase);
            using var exec = CanonicalExecutor.Load(model.ToBytes());
            var inputs = InputGenerator.Create(exec.Inputs, InputPattern.Random, 3);
            var (outputs, memory) = exec.RunMeasured(inputs);
            Assert.True(memory.HighestByte <= report.PeakMemoryBytes);
            Assert.Equal(report.Values["y"].Shape, outputs[0].Value.Shape.ToArray());
        }
    }

    [Fact]
    public void Admission_refuses_what_the_kernels_cannot_run_exactly()
    {
        var ok = QLinearContribModels.Binary("QLinearAdd", T.UInt8, [4], [4], 0.05f, 1, 0.07f, 2, 0.1f, 3);
        // The opset import: missing, wrong version.
        var g = ok.Graph;
        Refused(new OnnxModel(9, [new OpsetImport("", 17)], g, "t", "1"), "opset", "does not import");
        Refused(new OnnxModel(9, [new OpsetImport("", 17), new OpsetImport("com.microsoft", 2)], g, "t", "1"), "opset", "com.microsoft opset 2");
        // Another com.microsoft op.
        var other = new OnnxNode("n", "QLinearSigmoid", "com.microsoft", ["a", "sa", "za", "sc", "zc"], ["y"], []);
        Refused(QLinearContribModels.Model(other, g.Inputs, g.Initializers), "unsupported-op", "QLinearSigmoid of domain com.microsoft");
        // Mixed types, scale ratios out of range, per-channel scales, non-constant zero points.
        Refused(QLinearContribModels.Binary("QLinearAdd", T.UInt8, [4], [4], 1e30f, 1, 1f, 2, 1e-10f, 3), "scale", "A_scale/C_scale");
        Refused(QLinearContribModels.Binary("QLinearMul", T.UInt8, [4], [4], 1e10f, 1, 1f, 2, 1e-10f, 3), "scale", "multiplier");
        Refused(QLinearContribModels.Binary("QLinearMul", T.UInt8, [4], [4], 1e-30f, 1, 1e-30f, 2, 1f, 3), "scale", "multiplier");
        var perChannel = new OnnxModel(9, ok.OpsetImports,
            g with { Initializers = [.. g.Initializers.Where(i => i.Name != "sa"), new OnnxTensor("sa", Tensor.Create<float>(T.Float, [2], [1f, 2f]))] });
        Refused(perChannel, "shape", "exactly one value");
        var dynamicZp = new OnnxModel(9, ok.OpsetImports, g with
        {
            Initializers = [.. g.Initializers.Where(i => i.Name != "za")],
            Inputs = [.. g.Inputs, new OnnxValueInfo("za", (int)T.UInt8, [])],
        });
        Refused(dynamicZp, "type", "constant initializer");
        var mixed = new OnnxModel(9, ok.OpsetImports, g with { Inputs = [g.Inputs[0], new OnnxValueInfo("b", (int)T.Int8, [OnnxDim.Fixed(4)])] });
        Refused(mixed, "type", "differ in type");
        // Pools: channels_last, dilations, negative SAME padding, global multiplier range, pads ≥ kernel.
        Refused(QLinearContribModels.GlobalPool(T.UInt8, [1, 2, 3, 3], 1f, 0, 1f, 0, OnnxAttribute.Of("channels_last", 1L)), "attribute", "channels_last");
        Refused(QLinearContribModels.GlobalPool(T.UInt8, [1, 2, 3, 3], 1f, 0, 1e-6f, 0), "scale", "outside [2^-32, 256)");
        Refused(QLinearContribModels.AveragePool(T.UInt8, [1, 2, 6, 6], 1f, 0, 1f, 0, OnnxAttribute.Of("kernel_shape", [2L, 2]),
            OnnxAttribute.Of("dilations", [2L, 2])), "attribute", "dilations");
        Refused(QLinearContribModels.AveragePool(T.UInt8, [1, 2, 6, 6], 1f, 0, 1f, 0, OnnxAttribute.Of("kernel_shape", [1L, 1]),
            OnnxAttribute.Of("strides", [3L, 3]), OnnxAttribute.Of("auto_pad", "SAME_UPPER")), "attribute", "negative padding");
        Refused(QLinearContribModels.AveragePool(T.UInt8, [1, 2, 6, 6], 1f, 0, 1f, 0, OnnxAttribute.Of("kernel_shape", [2L, 2]),
            OnnxAttribute.Of("pads", [2L, 0, 0, 0])), "attribute", "smaller than kernel_shape");
        // A whole-image window without pads is ONNX Runtime's global pool, with its multiplier range.
        Assert.True(Check(QLinearContribModels.AveragePool(T.UInt8, [1, 2, 6, 6], 1f, 0, 1f, 0, OnnxAttribute.Of("kernel_shape", [6L, 6]))).Admitted);
        Refused(QLinearContribModels.AveragePool(T.UInt8, [1, 2, 6, 6], 1f, 0, 1e-6f, 0, OnnxAttribute.Of("kernel_shape", [6L, 6])),
            "scale", "outside [2^-32, 256)");
        Refused(QLinearContribModels.AveragePool(T.UInt8, [1, 2, 6, 6], 1f, 0, 1e-9f, 0, OnnxAttribute.Of("kernel_shape", [3L, 3])),
            "scale", "x_scale/y_scale");
    }
}
