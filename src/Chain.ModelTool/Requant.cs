namespace Chain.ModelTool;

/// <summary>
/// The consensus requantization and the post-training quantization rules. Every step is float32 with
/// one rounding per operation (no double, no FMA), so the chain's integer kernels can match it bit for bit.
/// </summary>
public static class Requant
{
    /// <summary>Weights are s8 but restricted to [−64, 63] so that u8×s8 pair sums cannot saturate int16 (non-VNNI x86).</summary>
    public const int WeightMin = -64;
    public const int WeightMax = 63;

    /// <summary>m = float32(float32(a_scale · w_scale) / y_scale).</summary>
    public static float Multiplier(float inputScale, float weightScale, float outputScale)
    {
        var product = inputScale * weightScale;
        return product / outputScale;
    }

    /// <summary>y = saturate_u8(roundHalfToEven(float32(acc) · m) + y_zp).</summary>
    public static byte Requantize(int acc, float multiplier, byte zeroPoint)
    {
        var scaled = (float)acc * multiplier;
        var rounded = MathF.Round(scaled, MidpointRounding.ToEven);
        // Saturate before converting so huge values cannot overflow the int conversion.
        if (rounded >= 256f) return 255;
        if (rounded <= -256f) return 0;
        var q = (int)rounded + zeroPoint;
        return (byte)Math.Clamp(q, 0, 255);
    }

    /// <summary>Symmetric weight scale max|w|/63 (so the largest weight maps to ±63).</summary>
    public static float WeightScale(ReadOnlySpan<float> weights)
    {
        var max = 0f;
        foreach (var w in weights) max = MathF.Max(max, MathF.Abs(w));
        return max > 0f ? max / WeightMax : 1f;
    }

    public static sbyte QuantizeWeight(float w, float scale) =>
        (sbyte)Math.Clamp((int)MathF.Round(w / scale, MidpointRounding.ToEven), WeightMin, WeightMax);

    /// <summary>int32 bias with scale float32(x_scale·w_scale) and zero point 0.</summary>
    public static int QuantizeBias(float bias, float inputScale, float weightScale)
    {
        var scale = inputScale * weightScale;
        var q = MathF.Round(bias / scale, MidpointRounding.ToEven);
        if (!(q >= int.MinValue && q <= int.MaxValue)) throw new OverflowException($"bias {bias} does not fit int32 at scale {scale}");
        return (int)q;
    }

    /// <summary>u8 parameters for a ReLU output: zero point 0, scale from a high percentile of the calibration values.</summary>
    public static (float Scale, byte ZeroPoint) ReluParameters(float[] values, double percentile)
    {
        var top = Percentile(values, percentile);
        return (top > 0f ? top / 255f : 1f, 0);
    }

    /// <summary>Asymmetric u8 parameters covering [min(0,lo), max(0,hi)] of the calibration values.</summary>
    public static (float Scale, byte ZeroPoint) AsymmetricParameters(float[] values)
    {
        var lo = 0f;
        var hi = 0f;
        foreach (var v in values)
        {
            lo = MathF.Min(lo, v);
            hi = MathF.Max(hi, v);
        }
        var scale = hi > lo ? (hi - lo) / 255f : 1f;
        var zp = (byte)Math.Clamp((int)MathF.Round(-lo / scale, MidpointRounding.ToEven), 0, 255);
        return (scale, zp);
    }

    /// <summary>The value at the given percentile (0..100) by sorting a copy; nearest-rank, deterministic.</summary>
    public static float Percentile(float[] values, double percentile)
    {
        if (values.Length == 0) return 0f;
        var sorted = (float[])values.Clone();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
