using System.Runtime.CompilerServices;

namespace Chain.Inference.Kernels;

/// <summary>
/// The consensus requantization step (docs/inference-semantics.md, "Requantization"). Scalar float32
/// IEEE operations only, each rounded to nearest-even: no FMA, no float64, no reassociation.
/// </summary>
public static class Requantize
{
    /// <summary>m = float32(float32(aScale · bScale) / yScale), in exactly that order.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // keep the two roundings visible to any reader of the JIT output
    public static float Multiplier(float aScale, float bScale, float yScale)
    {
        var product = aScale * bScale;
        return product / yScale;
    }

    /// <summary>y = saturate(roundHalfToEven(float32(acc) · m) + yZeroPoint) into [qmin, qmax].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Apply(int acc, float multiplier, int yZeroPoint, int qmin, int qmax)
    {
        var v = MathF.Round((float)acc * multiplier, MidpointRounding.ToEven);
        // Clamp in float before converting: the bounds are small integers, exactly representable, so
        // clamping before or after rounding is the same; infinities saturate.
        float lo = qmin - yZeroPoint, hi = qmax - yZeroPoint;
        if (v < lo) v = lo;
        if (v > hi) v = hi;
        return (int)v + yZeroPoint;
    }
}
