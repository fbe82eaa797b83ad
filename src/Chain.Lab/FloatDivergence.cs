using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Lab;

/// <summary>
/// How far a float model's outputs under one configuration are from the reference's, over every input: the largest
/// absolute difference, the largest float32 ULP distance (<see cref="FloatUlp.Incomparable"/> when a NaN or an
/// infinity met a different value), and, when an output looks like a classifier (last dimension &gt; 1), how many rows
/// changed their top-1 class out of how many were compared. Only float32 outputs are measured; others count in the
/// bit-match rate alone.
/// </summary>
/// <param name="Top1Flips">Rows whose arg-max differs from the reference's; null when no output looks like a classifier.</param>
public sealed record FloatDivergence(double MaxAbsDiff, ulong MaxUlp, int? Top1Flips, int Top1Rows)
{
    public static readonly FloatDivergence None = new(0, 0, null, 0);

    /// <summary>"max |Δ| 1.2e-06, 3 ULP, 0/12 top-1 flips" for tables.</summary>
    public string Describe() =>
        $"max |Δ| {MaxAbsDiff:G3}, {FloatUlp.Describe(MaxUlp)} ULP, " + (Top1Flips is { } f ? $"{f}/{Top1Rows} top-1 flips" : "top-1 n/a (no output with last dimension > 1)");
}

/// <summary>Distance between float32 values in units in the last place.</summary>
public static class FloatUlp
{
    /// <summary>A NaN against a number, an infinity against anything else, or +∞ against −∞: no count of ULPs means anything.</summary>
    public const ulong Incomparable = ulong.MaxValue;

    /// <summary>
    /// The number of representable float32 values from <paramref name="a"/> to <paramref name="b"/>: 0 for equal values
    /// (+0 and −0 included; two NaNs too, whatever their payloads: the bit-match rate already counts those), counted
    /// across zero for opposite signs (the smallest positive and negative subnormals are 2 apart), and
    /// <see cref="Incomparable"/> when either is NaN or infinite and they differ.
    /// </summary>
    public static ulong Distance(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b) ? 0 : Incomparable;
        if (float.IsInfinity(a) || float.IsInfinity(b)) return a == b ? 0 : Incomparable;
        return (ulong)Math.Abs(Ordered(a) - Ordered(b));
    }

    /// <summary>"∞" for <see cref="Incomparable"/>, else the count.</summary>
    public static string Describe(ulong ulp) => ulp == Incomparable ? "∞" : ulp.ToString(System.Globalization.CultureInfo.InvariantCulture);

    // Sign-magnitude bits to a line of integers in value order: +0 and −0 both map to 0.
    private static long Ordered(float value)
    {
        var bits = BitConverter.SingleToInt32Bits(value);
        return bits < 0 ? -(long)(bits & int.MaxValue) : bits;
    }
}

/// <summary>Counts the rows (slices along the last dimension) whose arg-max differs between two outputs.</summary>
public static class Top1
{
    /// <summary>The index of the largest value, the first on ties; NaNs are never the largest (all-NaN rows give 0).</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = -1;
        for (var i = 0; i < row.Length; i++)
            if (!float.IsNaN(row[i]) && (best < 0 || row[i] > row[best])) best = i;
        return Math.Max(best, 0);
    }

    /// <summary>(flips, rows) over rows of <paramref name="last"/> values; (0, 0) unless last &gt; 1 (no class to flip).</summary>
    public static (int Flips, int Rows) Flips(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual, int last)
    {
        if (reference.Length != actual.Length) throw new ArgumentException($"outputs of {reference.Length} and {actual.Length} values cannot be compared");
        if (last < 2) return (0, 0);
        int flips = 0, rows = 0;
        for (var r = 0; r + last <= reference.Length; r += last)
        {
            rows++;
            if (ArgMax(reference.Slice(r, last)) != ArgMax(actual.Slice(r, last))) flips++;
        }
        return (flips, rows);
    }
}

/// <summary>Folds input-by-input output pairs into one <see cref="FloatDivergence"/>.</summary>
public sealed class FloatDivergenceAccumulator
{
    private double _maxAbs;
    private ulong _maxUlp;
    private int _flips, _rows;
    private bool _classifier;

    /// <summary>Compares every float32 output of one input, matched by name; an output of another shape is a caller error.</summary>
    public void Add(IReadOnlyList<NamedTensor> reference, IReadOnlyList<NamedTensor> actual)
    {
        foreach (var r in reference)
        {
            if (r.Value.ElementType != TensorElementType.Float) continue;
            var a = Find(actual, r.Name) ?? throw new ArgumentException($"output '{r.Name}' is missing");
            if (!a.ShapeEquals(r.Value.Shape) || a.ElementType != TensorElementType.Float)
                throw new ArgumentException($"output '{r.Name}' is {a} where the reference is {r.Value}");
            var x = r.Value.Elements<float>();
            var y = a.Elements<float>();
            for (var i = 0; i < x.Length; i++)
            {
                var ulp = FloatUlp.Distance(x[i], y[i]);
                _maxUlp = Math.Max(_maxUlp, ulp);
                // An incomparable pair (NaN/∞ against another value) has no finite difference either.
                _maxAbs = Math.Max(_maxAbs, ulp == FloatUlp.Incomparable ? double.PositiveInfinity : Math.Abs((double)x[i] - y[i]));
            }
            var last = r.Value.Rank > 0 ? r.Value.Shape[^1] : 1;
            if (last < 2) continue;
            _classifier = true;
            var (flips, rows) = Top1.Flips(x, y, last);
            _flips += flips;
            _rows += rows;
        }
    }

    private static Tensor? Find(IReadOnlyList<NamedTensor> outputs, string name)
    {
        foreach (var o in outputs)
            if (o.Name == name) return o.Value;
        return null;
    }

    public FloatDivergence Result => new(_maxAbs, _maxUlp, _classifier ? _flips : null, _rows);
}
