using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Lab.Tests;

/// <summary>The float metrics of the lab: ULP distance with its special cases, top-1 flips, and their accumulation.</summary>
public class FloatDivergenceTests
{
    [Fact]
    public void Ulp_distance_counts_representable_values_between_two_floats()
    {
        Assert.Equal(0UL, FloatUlp.Distance(1f, 1f));
        Assert.Equal(1UL, FloatUlp.Distance(1f, MathF.BitIncrement(1f)));
        Assert.Equal(1UL, FloatUlp.Distance(MathF.BitIncrement(1f), 1f));
        Assert.Equal(2UL, FloatUlp.Distance(-1f, MathF.BitDecrement(MathF.BitDecrement(-1f))));
        // 1.0 to 2.0 is one binade: 2^23 values.
        Assert.Equal(1UL << 23, FloatUlp.Distance(1f, 2f));
        Assert.Equal(1UL, FloatUlp.Distance(float.MaxValue, MathF.BitDecrement(float.MaxValue)));
    }

    [Fact]
    public void Ulp_distance_treats_signed_zeros_as_equal_and_counts_across_zero()
    {
        Assert.Equal(0UL, FloatUlp.Distance(0f, -0f));
        Assert.Equal(1UL, FloatUlp.Distance(-0f, float.Epsilon));
        Assert.Equal(2UL, FloatUlp.Distance(-float.Epsilon, float.Epsilon));
        // Opposite signs: the distances to zero add up.
        Assert.Equal(2 * FloatUlp.Distance(0f, 1f), FloatUlp.Distance(-1f, 1f));
    }

    [Fact]
    public void Ulp_distance_is_incomparable_for_nan_or_infinity_against_another_value()
    {
        Assert.Equal(0UL, FloatUlp.Distance(float.NaN, float.NaN));
        Assert.Equal(0UL, FloatUlp.Distance(BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001)), float.NaN)); // payloads differ
        Assert.Equal(FloatUlp.Incomparable, FloatUlp.Distance(float.NaN, 1f));
        Assert.Equal(FloatUlp.Incomparable, FloatUlp.Distance(0f, float.NaN));
        Assert.Equal(0UL, FloatUlp.Distance(float.PositiveInfinity, float.PositiveInfinity));
        Assert.Equal(FloatUlp.Incomparable, FloatUlp.Distance(float.PositiveInfinity, float.NegativeInfinity));
        // Not 1, although +∞ follows float.MaxValue in bit order: overflow is not a rounding difference.
        Assert.Equal(FloatUlp.Incomparable, FloatUlp.Distance(float.MaxValue, float.PositiveInfinity));
        Assert.Equal("∞", FloatUlp.Describe(FloatUlp.Incomparable));
        Assert.Equal("7", FloatUlp.Describe(7));
    }

    [Fact]
    public void Top1_flips_count_rows_whose_argmax_changed()
    {
        float[] reference = [0.1f, 0.9f, 0.0f, /* row 2 */ 0.5f, 0.2f, 0.3f];
        float[] same = [0.2f, 0.8f, 0.0f, 0.6f, 0.1f, 0.3f];
        float[] flipped = [0.9f, 0.1f, 0.0f, 0.5f, 0.2f, 0.3f];
        Assert.Equal((0, 2), Top1.Flips(reference, same, 3));
        Assert.Equal((1, 2), Top1.Flips(reference, flipped, 3));
        // Last dimension 1: a regressor, nothing to flip.
        Assert.Equal((0, 0), Top1.Flips(reference, flipped, 1));
        // Ties go to the first index; NaN is never the arg-max.
        Assert.Equal(0, Top1.ArgMax([1f, 1f]));
        Assert.Equal(1, Top1.ArgMax([float.NaN, 0f, -1f]));
        Assert.Equal(0, Top1.ArgMax([float.NaN, float.NaN]));
        Assert.Throws<ArgumentException>(() => Top1.Flips(reference, same.AsSpan(0, 3), 3));
    }

    [Fact]
    public void The_accumulator_takes_the_worst_case_over_inputs_and_skips_non_float_outputs()
    {
        static IReadOnlyList<NamedTensor> Out(params float[] logits) =>
        [
            new("logits", Tensor.Create<float>(TensorElementType.Float, [1, logits.Length], logits)),
            new("label", Tensor.Create<long>(TensorElementType.Int64, [1], [7L])),
        ];
        var acc = new FloatDivergenceAccumulator();
        acc.Add(Out(1f, 2f, 3f), Out(1f, 2f, MathF.BitIncrement(3f)));
        acc.Add(Out(1f, 5f, 3f), Out(1f, 2.5f, 3f));
        var result = acc.Result;
        Assert.Equal(2.5, result.MaxAbsDiff);
        Assert.Equal(FloatUlp.Distance(5f, 2.5f), result.MaxUlp);
        Assert.Equal(1, result.Top1Flips);
        Assert.Equal(2, result.Top1Rows);
        Assert.Contains("1/2 top-1 flips", result.Describe());

        var nan = new FloatDivergenceAccumulator();
        nan.Add(Out(1f, 2f), Out(float.NaN, 2f));
        Assert.Equal(double.PositiveInfinity, nan.Result.MaxAbsDiff);
        Assert.Equal(FloatUlp.Incomparable, nan.Result.MaxUlp);

        var regressor = new FloatDivergenceAccumulator();
        regressor.Add(Out(1f), Out(1f));
        Assert.Null(regressor.Result.Top1Flips);
        Assert.Contains("top-1 n/a", regressor.Result.Describe());
        Assert.Throws<ArgumentException>(() => regressor.Add(Out(1f), Out(1f, 2f)));
    }
}
