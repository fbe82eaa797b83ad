namespace Chain.ModelTool.Tests;

public class RequantTests
{
    [Theory]
    [InlineData(5, 0.5f, 0, 2)]     // 2.5 -> 2 (even)
    [InlineData(7, 0.5f, 0, 4)]     // 3.5 -> 4 (even)
    [InlineData(3, 0.5f, 10, 12)]   // 1.5 -> 2
    [InlineData(-5, 0.5f, 10, 8)]   // -2.5 -> -2
    [InlineData(-7, 0.5f, 10, 6)]   // -3.5 -> -4
    [InlineData(11, 0.25f, 0, 3)]   // 2.75 -> 3
    [InlineData(-100, 1f, 0, 0)]    // saturates at 0 (the folded ReLU)
    [InlineData(1000, 1f, 0, 255)]  // saturates at 255
    [InlineData(int.MaxValue, 1f, 0, 255)]
    [InlineData(int.MinValue, 1f, 255, 0)]
    public void Requantize_rounds_half_to_even_and_saturates(int acc, float m, int zp, int expected) =>
        Assert.Equal((byte)expected, Requant.Requantize(acc, m, (byte)zp));

    [Fact]
    public void Multiplier_is_float32_product_then_quotient()
    {
        float a = 0.1f, w = 0.3f, y = 0.7f;
        var product = a * w;
        Assert.Equal(product / y, Requant.Multiplier(a, w, y));
        // The accumulator is converted to float32 first (round to nearest even): 2^24+1 becomes 2^24, so
        // (2^24+1)·2^-25 is the tie 0.5 and rounds to 0; exact or double arithmetic would give 1.
        Assert.Equal((byte)0, Requant.Requantize((1 << 24) + 1, 1f / (1 << 25), 0));
        Assert.Equal((byte)1, Requant.Requantize((1 << 24) + 4, 1f / (1 << 25), 0));
    }

    [Fact]
    public void Weights_are_symmetric_and_within_minus64_63()
    {
        var rng = new Rng(7);
        var w = Enumerable.Range(0, 1000).Select(_ => rng.Uniform(3f)).ToArray();
        w[17] = -5f; // the largest magnitude is negative: it must map to -63, never -64
        var scale = Requant.WeightScale(w);
        Assert.Equal(5f / 63f, scale);
        var q = w.Select(v => Requant.QuantizeWeight(v, scale)).ToArray();
        Assert.All(q, v => Assert.InRange(v, (sbyte)-64, (sbyte)63));
        Assert.Equal(-63, q[17]);
        Assert.Equal((sbyte)63, Requant.QuantizeWeight(10f, scale)); // clamped
        Assert.Equal((sbyte)-64, Requant.QuantizeWeight(-10f, scale));
    }

    [Fact]
    public void Bias_uses_input_scale_times_weight_scale()
    {
        float inScale = 1f / 255f, wScale = 0.01f;
        var q = Requant.QuantizeBias(0.5f, inScale, wScale);
        Assert.Equal((int)MathF.Round(0.5f / (inScale * wScale)), q);
        Assert.InRange(MathF.Abs(q * (inScale * wScale) - 0.5f), 0f, inScale * wScale / 2);
        Assert.Throws<OverflowException>(() => Requant.QuantizeBias(1e30f, inScale, wScale));
    }

    [Fact]
    public void Built_layers_keep_the_rules_per_channel_and_per_tensor()
    {
        var rng = new Rng(3);
        var w = Enumerable.Range(0, 2 * 3 * 3 * 3).Select(_ => rng.Uniform(1f)).ToArray();
        var b = new[] { 0.25f, -0.5f };
        foreach (var perChannel in new[] { true, false })
        {
            var l = GenesisModelRecipe.BuildConv("c", "x", "y", [1, 2, 4, 4], 0.02f, 0, w, b, [2, 3, 3, 3], 0.1f, 0, [1, 1, 1, 1], true, perChannel);
            Assert.Equal(perChannel ? 2 : 1, l.WeightScales.Length);
            Assert.All(l.Weights, v => Assert.InRange(v, (sbyte)-64, (sbyte)63));
            Assert.Equal(63, l.Weights.Max(v => Math.Abs((int)v)));
            for (var o = 0; o < 2; o++)
            {
                var ws = l.WeightScales[perChannel ? o : 0];
                Assert.Equal(Requant.QuantizeBias(b[o], 0.02f, ws), l.Bias[o]);
                Assert.Equal(Requant.Multiplier(0.02f, ws, 0.1f), l.Multiplier(o));
            }
        }
        Assert.Throws<ArgumentException>(() =>
            GenesisModelRecipe.BuildConv("c", "x", "y", [1, 2, 4, 4], 0.02f, 0, w, b, [2, 3, 3, 3], 0.1f, 5, [1, 1, 1, 1], true, true));
    }

    [Fact]
    public void Calibration_parameters()
    {
        var (scale, zp) = Requant.AsymmetricParameters([-2f, 0.5f, 3.1f]);
        Assert.Equal(5.1f / 255f, scale);
        Assert.Equal((byte)MathF.Round(2f / scale), zp);
        var values = Enumerable.Range(1, 1000).Select(i => (float)i).ToArray();
        Assert.Equal(990f, Requant.Percentile(values, 99));
        Assert.Equal((1000f / 255f, (byte)0), Requant.ReluParameters(values, 100));
    }
}
