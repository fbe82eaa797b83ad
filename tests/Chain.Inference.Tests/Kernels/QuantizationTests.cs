using Chain.Inference.Kernels;
using static Chain.Inference.Tests.Kernels.KernelTestUtil;

namespace Chain.Inference.Tests.Kernels;

public class QuantizationTests
{
    [Fact]
    public void QLinearMatMul_onnx_documentation_example()
    {
        var a = U8([2, 4], 208, 236, 0, 238, 3, 214, 255, 29);
        var b = U8([4, 3], 152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247);
        foreach (var path in SupportedPaths)
        {
            var y = Run(path, () => CanonicalOps.QLinearMatMul(a, ScalarF(0.0066f), U8([], 113), b, ScalarF(0.00705f),
                U8([], 114), ScalarF(0.0107f), U8([], 118)));
            Assert.Equal(new byte[] { 168, 115, 255, 1, 66, 151 }, y.Data.ToArray());
        }
    }

    [Fact]
    public void QLinearMatMul_rows_long_enough_for_vector_requantization_give_the_scalar_bytes_on_every_path()
    {
        // N = 37: four 8-lane blocks and a tail per row; ties and saturation both occur at these scales.
        var random = new Random(11);
        var a = U8([5, 64], Enumerable.Range(0, 5 * 64).Select(_ => (byte)random.Next(256)).ToArray());
        var b = U8([64, 37], Enumerable.Range(0, 64 * 37).Select(_ => (byte)random.Next(256)).ToArray());
        byte[]? expected = null;
        foreach (var path in SupportedPaths)
        {
            var y = Run(path, () => CanonicalOps.QLinearMatMul(a, ScalarF(0.5f), U8([], 128), b, ScalarF(0.25f),
                U8([], 120), ScalarF(8f), U8([], 130))).Data.ToArray();
            if (expected is null) expected = y;
            else Assert.Equal(expected, y);
        }
        Assert.Contains(expected!, v => v == 0);
        Assert.Contains(expected!, v => v is > 0 and < 255);
    }

    [Fact]
    public void Requantization_rounds_ties_to_even_and_saturates()
    {
        // m = 0.5 exactly, so acc·m hits .5 ties: 1.5→2, 2.5→2, −1.5→−2, 3.5→4; 63.5→64; u8 output saturates below.
        var a = S8([5, 1], 3, 5, -3, 7, 127);
        var b = S8([1, 1], 1);
        var y = CanonicalOps.QLinearMatMul(a, ScalarF(0.5f), S8([], 0), b, ScalarF(1f), S8([], 0), ScalarF(1f), S8([], 0));
        Assert.Equal(new sbyte[] { 2, 2, -2, 4, 64 }, y.Elements<sbyte>().ToArray());
        var big = CanonicalOps.QLinearMatMul(S8([1, 1], 127), ScalarF(1f), S8([], 0), S8([1, 1], 127), ScalarF(1f), S8([], 0), ScalarF(1f), U8([], 10));
        Assert.Equal(255, big.Data[0]);
        var low = CanonicalOps.QLinearMatMul(S8([1, 1], -128), ScalarF(1f), S8([], 0), S8([1, 1], 127), ScalarF(1f), S8([], 0), ScalarF(1f), U8([], 10));
        Assert.Equal(0, low.Data[0]);
    }

    [Fact]
    public void Requantization_follows_float32_where_float64_reference_differs()
    {
        // The ONNX reference computes acc·a_s·b_s/y_s in float64; the chain specifies float32 steps.
        // Find a product where the two disagree and check the kernel gives the float32 answer.
        float sa = 0.1f, sb = 0.3f, sy = 0.7f;
        var m = Requantize.Multiplier(sa, sb, sy);
        Assert.Equal((sa * sb) / sy, m);
        for (var x = -128; x <= 127; x++)
        for (var w = -128; w <= 127; w++)
        {
            var acc = x * w;
            var f32 = Requantize.Apply(acc, m, 0, -128, 127);
            var f64 = (int)Math.Clamp(Math.Round(acc * (double)sa * sb / sy, MidpointRounding.ToEven), -128, 127);
            if (f32 == f64) continue;
            var y = CanonicalOps.QLinearMatMul(S8([1, 1], (sbyte)x), ScalarF(sa), S8([], 0), S8([1, 1], (sbyte)w), ScalarF(sb),
                S8([], 0), ScalarF(sy), S8([], 0));
            Assert.Equal(f32, y.Elements<sbyte>()[0]);
            return;
        }
        Assert.Fail("expected at least one float32/float64 disagreement in the search space");
    }

    [Fact]
    public void Per_row_and_per_column_parameters_use_their_own_multiplier()
    {
        var rng = new Random(5);
        var a = Random8(rng, TensorElementType.UInt8, [3, 7]);
        var b = Random8(rng, TensorElementType.Int8, [7, 5]);
        var aS = F32([3], 0.01f, 0.02f, 0.03f);
        var aZ = U8([3], 100, 128, 7);
        var bS = F32([5], 0.5f, 0.25f, 0.125f, 0.3f, 0.7f);
        var bZ = S8([5], 0, 1, -1, 3, -5);
        var y = CanonicalOps.QLinearMatMul(a, aS, aZ, b, bS, bZ, ScalarF(0.05f), S8([], -3));
        var acc = CanonicalOps.MatMulInteger(a, b, aZ, bZ).Elements<int>();
        for (var i = 0; i < 3; i++)
        for (var j = 0; j < 5; j++)
        {
            var m = Requantize.Multiplier(aS.Elements<float>()[i], bS.Elements<float>()[j], 0.05f);
            Assert.Equal(Requantize.Apply(acc[i * 5 + j], m, -3, -128, 127), y.Elements<sbyte>()[i * 5 + j]);
        }
    }

    [Fact]
    public void QLinearConv_adds_bias_and_requantizes_per_output_channel_identically_on_every_path()
    {
        var rng = new Random(11);
        var x = Random8(rng, TensorElementType.UInt8, [2, 4, 9, 11]);
        var w = Random8(rng, TensorElementType.Int8, [6, 2, 3, 3]);
        var wS = F32([6], 0.01f, 0.02f, 0.005f, 0.04f, 0.003f, 0.011f);
        var wZ = S8([6], 0, 0, 0, 0, 0, 0);
        var bias = I32([6], 100, -2000, 0, 7, int.MaxValue - 5, -33);
        int[] pads = [1, 0, 2, 1], strides = [2, 1], dil = [1, 2];
        var acc = CanonicalOps.ConvInteger(x, w, U8([], 120), wZ, pads, strides, dil, 2);
        var reference = Run(GemmPath.Scalar, () => CanonicalOps.QLinearConv(x, ScalarF(0.02f), U8([], 120), w, wS, wZ,
            ScalarF(0.07f), U8([], 128), bias, pads, strides, dil, 2));
        Assert.Equal(acc.Shape.ToArray(), reference.Shape.ToArray());
        var plane = acc.Shape[2] * acc.Shape[3];
        var av = acc.Elements<int>();
        for (var i = 0; i < av.Length; i++)
        {
            var oc = i / plane % 6;
            var m = Requantize.Multiplier(0.02f, wS.Elements<float>()[oc], 0.07f);
            Assert.Equal(Requantize.Apply(unchecked(av[i] + bias.Elements<int>()[oc]), m, 128, 0, 255), reference.Data[i]);
        }
        foreach (var path in SupportedPaths)
            SameBytes(reference, Run(path, () => CanonicalOps.QLinearConv(x, ScalarF(0.02f), U8([], 120), w, wS, wZ,
                ScalarF(0.07f), U8([], 128), bias, pads, strides, dil, 2)), path.ToString());
    }

    [Fact]
    public void Invalid_scales_are_refused()
    {
        var a = U8([1, 1], 1);
        Assert.Contains("positive", Assert.Throws<InferenceException>(() =>
            CanonicalOps.QLinearMatMul(a, ScalarF(0f), U8([], 0), a, ScalarF(1f), U8([], 0), ScalarF(1f), U8([], 0))).Message);
        Assert.Contains("not finite", Assert.Throws<InferenceException>(() =>
            CanonicalOps.QLinearMatMul(a, ScalarF(1e30f), U8([], 0), a, ScalarF(1e30f), U8([], 0), ScalarF(1f), U8([], 0))).Message);
        Assert.Contains("positive", Assert.Throws<InferenceException>(() => CanonicalOps.QuantizeLinear(F32([1], 1f), ScalarF(float.NaN))).Message);
    }

    [Fact]
    public void QuantizeLinear_onnx_documentation_example_and_ties()
    {
        var y = CanonicalOps.QuantizeLinear(F32([6], 0, 2, 3, 1000, -254, -1000), ScalarF(2f), U8([], 128));
        Assert.Equal(new byte[] { 128, 129, 130, 255, 1, 0 }, y.Data.ToArray());
        var s = CanonicalOps.QuantizeLinear(I32([5], 5, -5, 7, 1, 1000), ScalarF(2f), S8([], 0));
        Assert.Equal(new sbyte[] { 2, -2, 4, 0, 127 }, s.Elements<sbyte>().ToArray());
        Assert.Equal(TensorElementType.UInt8, CanonicalOps.QuantizeLinear(F32([1], 1f), ScalarF(1f)).ElementType);
        Assert.Equal(TensorElementType.Int8, CanonicalOps.QuantizeLinear(F32([1], 1f), ScalarF(1f), null, 1, TensorElementType.Int8).ElementType);
        Assert.Throws<InferenceException>(() => CanonicalOps.QuantizeLinear(F32([1], float.NaN), ScalarF(1f)));
    }

    [Fact]
    public void Quantize_and_dequantize_per_axis()
    {
        var x = F32([1, 3, 2], -4, 4, 10, 11, -100, 100);
        var scale = F32([3], 2f, 4f, 1f);
        var zp = S8([3], 0, 1, -2);
        var q = CanonicalOps.QuantizeLinear(x, scale, zp, 1);
        Assert.Equal(new sbyte[] { -2, 2, 3, 4, -102, 98 }, q.Elements<sbyte>().ToArray());
        var back = CanonicalOps.DequantizeLinear(q, scale, zp, -2);
        Assert.Equal(new float[] { -4, 4, 8, 12, -100, 100 }, back.Elements<float>().ToArray());
        var d = CanonicalOps.DequantizeLinear(U8([4], 0, 3, 128, 255), ScalarF(2f), U8([], 128));
        Assert.Equal(new float[] { -256, -250, 0, 254 }, d.Elements<float>().ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.DequantizeLinear(I32([1], 1), ScalarF(1f), I32([], 3)));
        Assert.Throws<InferenceException>(() => CanonicalOps.QuantizeLinear(x, F32([2], 1f, 1f), null, 1));
    }
}
