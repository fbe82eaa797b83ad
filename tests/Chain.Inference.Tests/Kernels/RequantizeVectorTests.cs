using Chain.Inference.Kernels;

namespace Chain.Inference.Tests.Kernels;

/// <summary>The vectorised requantization loop must give exactly the bytes of the scalar specification.</summary>
public class RequantizeVectorTests
{
    private static readonly (int Min, int Max)[] Ranges = [(0, 255), (-128, 127)];

    private static int[] Interesting(Random rng, int count)
    {
        int[] fixedValues = [0, 1, -1, 2, -2, 3, -3, 5, -5, int.MaxValue, int.MinValue, int.MaxValue - 1, int.MinValue + 1,
            1 << 24, (1 << 24) + 1, -(1 << 24) - 1, (1 << 24) + 3, 255, 256, -128, -129, 127, 128, 1 << 30, -(1 << 30)];
        var v = new int[count];
        for (var i = 0; i < count; i++)
            v[i] = rng.Next(3) == 0 ? fixedValues[rng.Next(fixedValues.Length)] : rng.Next(4) == 0 ? rng.Next() - rng.Next() : rng.Next(-2000, 2000);
        return v;
    }

    [Fact]
    public void Vector_and_scalar_requantization_agree_on_ties_and_extremes()
    {
        var rng = new Random(31337);
        float[] multipliers = [0.5f, 0.25f, 1f, 1.5f, 0.125f, 1e-10f, 3e38f, 1e30f, 0.0039215689f, 0.1f, 2.5f, 1f / 3, float.Epsilon, float.MaxValue];
        for (var trial = 0; trial < 400; trial++)
        {
            var count = rng.Next(0, 70);
            var acc = Interesting(rng, count);
            var (qmin, qmax) = Ranges[rng.Next(2)];
            var yzp = rng.Next(qmin, qmax + 1);
            var m = rng.Next(2) == 0 ? multipliers[rng.Next(multipliers.Length)] : (float)(rng.NextDouble() * Math.Pow(10, rng.Next(-6, 3)));
            var bias = rng.Next(3) == 0 ? int.MaxValue - rng.Next(10) : rng.Next(-1000, 1000);
            var expected = acc.Select(a => (byte)Requantize.Apply(unchecked(a + bias), m, yzp, qmin, qmax)).ToArray();
            var simd = new byte[count];
            Requantize.Run(acc, bias, m, yzp, qmin, qmax, simd, simd: true);
            Assert.True(expected.SequenceEqual(simd), $"trial {trial} m={m} bias={bias} zp={yzp} [{qmin},{qmax}]");
            var scalar = new byte[count];
            Requantize.Run(acc, bias, m, yzp, qmin, qmax, scalar, simd: false);
            Assert.Equal(expected, scalar);

            var biases = Interesting(rng, count);
            var mults = Enumerable.Range(0, count).Select(_ => multipliers[rng.Next(multipliers.Length)]).ToArray();
            var expected2 = Enumerable.Range(0, count)
                .Select(i => (byte)Requantize.Apply(unchecked(acc[i] + biases[i]), mults[i], yzp, qmin, qmax)).ToArray();
            var simd2 = new byte[count];
            Requantize.Run(acc, biases, mults, yzp, qmin, qmax, simd2, simd: true);
            Assert.True(expected2.SequenceEqual(simd2), $"trial {trial} per-element");
        }
    }

    [Fact]
    public void Exact_ties_round_half_to_even_in_both()
    {
        // acc · 0.5 for odd acc is an exact .5 tie: 1→0, 3→2, 5→2, −1→0, −3→−2.
        var acc = Enumerable.Range(-40, 81).ToArray();
        var simd = new byte[acc.Length];
        Requantize.Run(acc, 0, 0.5f, 0, -128, 127, simd, simd: true);
        for (var i = 0; i < acc.Length; i++)
        {
            var expected = (int)Math.Round(acc[i] * 0.5, MidpointRounding.ToEven);
            Assert.Equal(expected, (sbyte)simd[i]);
            Assert.Equal(expected, Requantize.Apply(acc[i], 0.5f, 0, -128, 127));
        }
    }
}
