using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Quantization.Calibration;

/// <summary>How an activation's float range is chosen from what calibration saw.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,
    /// <summary>The <c>Percentile</c> and <c>100 − Percentile</c> quantiles of a 2048-bin histogram over [min, max].</summary>
    Percentile,
    /// <summary>TensorRT-style: the |x| threshold whose 128-level quantization minimizes the KL divergence to the 2048-bin histogram.</summary>
    Entropy,
}

/// <summary>Progress of a long step: <c>Done</c> of <c>Total</c> items of <c>Stage</c>.</summary>
public readonly record struct QuantizationProgress(string Stage, int Done, int Total);

/// <summary>Where calibration (and evaluation) inputs come from: a folder of tensor files, or seeded random inputs.</summary>
public sealed record CalibrationSource(string? Directory, int RandomCount, float Low, float High, int Seed)
{
    /// <summary>Parses `DIR` or `random:N`.</summary>
    public static CalibrationSource Parse(string? text, float low, float high, int seed = 1)
    {
        if (text is null) return new CalibrationSource(null, 64, low, high, seed);
        if (text.StartsWith("random:", StringComparison.Ordinal))
        {
            if (!int.TryParse(text.AsSpan(7), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < 1 || n > 100_000)
                throw new FormatException($"--calibration {text}: N must be an integer from 1 to 100000");
            return new CalibrationSource(null, n, low, high, seed);
        }
        return new CalibrationSource(text, 0, low, high, seed);
    }
}

/// <summary>Per-tensor statistics: range, and (second pass) a 2048-bin histogram over that range and of |x|.</summary>
public sealed class TensorStats
{
    public const int Bins = 2048;
    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public long Count { get; private set; }
    public long[]? Histogram { get; private set; }
    public long[]? AbsHistogram { get; private set; }

    public void AddRange(ReadOnlySpan<float> values)
    {
        float min = Min, max = Max;
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) continue;
            if (v < min) min = v;
            if (v > max) max = v;
        }
        Min = min;
        Max = max;
        Count += values.Length;
    }

    public void AddHistogram(ReadOnlySpan<float> values)
    {
        if (!(Max >= Min)) return;
        Histogram ??= new long[Bins];
        AbsHistogram ??= new long[Bins];
        double width = (double)Max - Min, absMax = Math.Max(Math.Abs((double)Min), Math.Abs((double)Max));
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) continue;
            var b = width > 0 ? (int)((v - (double)Min) / width * Bins) : 0;
            Histogram[Math.Clamp(b, 0, Bins - 1)]++;
            var a = absMax > 0 ? (int)(Math.Abs((double)v) / absMax * Bins) : 0;
            AbsHistogram[Math.Clamp(a, 0, Bins - 1)]++;
        }
    }

    /// <summary>The calibrated range by <paramref name="method"/>, always containing 0 (so zero is exact).</summary>
    public (float Lo, float Hi) Range(CalibrationMethod method, double percentile)
    {
        if (!(Max >= Min)) return (0, 0);
        double lo = Min, hi = Max;
        if (method == CalibrationMethod.Percentile && Histogram is { } h)
        {
            var total = h.Sum();
            var tail = total * (100 - percentile) / 100;
            double width = ((double)Max - Min) / Bins;
            long acc = 0;
            int i = 0;
            for (; i < Bins - 1; i++) { acc += h[i]; if (acc > tail) break; }
            lo = Math.Max(Min, Min + i * width);
            acc = 0;
            int j = Bins - 1;
            for (; j > 0; j--) { acc += h[j]; if (acc > tail) break; }
            hi = Math.Min(Max, Min + (j + 1) * width);
        }
        else if (method == CalibrationMethod.Entropy && AbsHistogram is { } ah)
        {
            var absMax = Math.Max(Math.Abs((double)Min), Math.Abs((double)Max));
            var t = EntropyThreshold(ah) * absMax;
            lo = Math.Max(Min, -t);
            hi = Math.Min(Max, t);
        }
        return ((float)Math.Min(lo, 0), (float)Math.Max(hi, 0));
    }

    /// <summary>
    /// TensorRT's KL calibration on a histogram of |x| (bins over [0, 1]): for each candidate threshold of i bins
    /// (128…2048, step 16), the reference distribution is the first i bins with the outliers folded into the last,
    /// the candidate is those bins merged into 128 levels and expanded back over their non-empty bins; the
    /// threshold (as a fraction of the histogram's range) is the one of least KL(reference ‖ candidate).
    /// </summary>
    internal static double EntropyThreshold(long[] hist)
    {
        const int levels = 128;
        int n = hist.Length;
        double best = double.PositiveInfinity;
        int bestI = n;
        var p = new double[n];
        var q = new double[n];
        for (int i = levels; i <= n; i += 16)
        {
            double outliers = 0;
            for (int k = i; k < n; k++) outliers += hist[k];
            for (int k = 0; k < i; k++) p[k] = hist[k];
            p[i - 1] += outliers;
            Array.Clear(q, 0, i);
            double merged = i / (double)levels;
            for (int j = 0; j < levels; j++)
            {
                int start = (int)(j * merged), end = j == levels - 1 ? i : (int)((j + 1) * merged);
                double total = 0;
                int nonzero = 0;
                for (int k = start; k < end; k++) { total += hist[k]; if (hist[k] != 0) nonzero++; }
                if (nonzero == 0) continue;
                for (int k = start; k < end; k++) if (hist[k] != 0) q[k] = total / nonzero;
            }
            double ps = 0, qs = 0;
            for (int k = 0; k < i; k++) { ps += p[k]; qs += q[k]; }
            if (ps == 0 || qs == 0) continue;
            double kl = 0;
            for (int k = 0; k < i; k++)
            {
                if (p[k] == 0) continue;
                var pk = p[k] / ps;
                var qk = q[k] > 0 ? q[k] / qs : 1e-12;
                kl += pk * Math.Log(pk / qk);
            }
            if (kl < best) { best = kl; bestI = i; }
        }
        return bestI / (double)n;
    }
}

/// <summary>
/// Runs the float model under ONNX Runtime with every intermediate tensor added as a graph output and collects
/// <see cref="TensorStats"/> for every float tensor, plus each tensor's shape and element type and the values of
/// tensors that do not depend on the graph inputs' data (shape arithmetic), which the quantizer treats as constants.
/// </summary>
public sealed class Calibrator : IDisposable
{
    private readonly OrtExecutor _ort;
    private readonly OnnxModel _model;

    public Calibrator(OnnxModel floatModel)
    {
        _model = floatModel;
        _ort = new OrtExecutor(WithAllOutputs(floatModel).ToBytes(), new OrtSettings(OrtOptimization.Disabled));
    }

    /// <summary>
    /// The model with every node output that is not already a graph output appended as one, typed by
    /// <see cref="ElementTypes"/> (ONNX Runtime needs output types); outputs whose type is unknown are left out.
    /// </summary>
    public static OnnxModel WithAllOutputs(OnnxModel model, Func<string, bool>? include = null)
    {
        var g = model.Graph;
        var types = ElementTypes(model);
        var existing = g.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var extra = g.Nodes.SelectMany(n => n.Outputs).Where(o => o.Length > 0 && !existing.Contains(o) && (include?.Invoke(o) ?? true))
            .Distinct().Where(o => types.GetValueOrDefault(o) != 0).Select(o => new OnnxValueInfo(o, types[o], null));
        return model.WithGraph(g with { Outputs = [.. g.Outputs, .. extra] });
    }

    /// <summary>Element types (ONNX numbers) of every tensor, propagated through the graph by simple per-op rules.</summary>
    public static Dictionary<string, int> ElementTypes(OnnxModel model)
    {
        var g = model.Graph;
        var t = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var i in g.Initializers) t[i.Name] = (int)i.Value.ElementType;
        foreach (var v in g.Inputs.Concat(g.ValueInfo).Concat(g.Outputs)) if (v.ElemType != 0) t.TryAdd(v.Name, v.ElemType);
        const int i64 = (int)TensorElementType.Int64, boolean = (int)TensorElementType.Bool;
        foreach (var n in g.Nodes)
        {
            var first = n.Inputs.Where(i => i.Length > 0).Select(i => t.GetValueOrDefault(i)).FirstOrDefault();
            for (var k = 0; k < n.Outputs.Count; k++)
            {
                if (n.Outputs[k].Length == 0 || t.ContainsKey(n.Outputs[k])) continue;
                var type = n.OpType switch
                {
                    "Cast" => (int)n.GetInt("to", 0),
                    "Shape" or "Size" or "ArgMax" or "ArgMin" or "NonZero" => i64,
                    "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf" => boolean,
                    "ConstantOfShape" => n.GetTensor("value") is { } v ? (int)v.ElementType : (int)TensorElementType.Float,
                    "Where" => t.GetValueOrDefault(n.Inputs[1]),
                    "Dropout" when k == 1 => boolean,
                    "MaxPool" or "TopK" when k == 1 => i64,
                    "QuantizeLinear" or "DequantizeLinear" or "DynamicQuantizeLinear" => 0,
                    _ => first,
                };
                t[n.Outputs[k]] = type;
            }
        }
        return t;
    }

    public Dictionary<string, TensorStats> Stats { get; } = new(StringComparer.Ordinal);

    /// <summary>Shape and element type of every tensor seen (graph inputs included).</summary>
    public Dictionary<string, Tensor> Samples { get; } = new(StringComparer.Ordinal);

    public int Runs { get; private set; }

    /// <summary>Every tensor of one run, by name (graph inputs included).</summary>
    public Dictionary<string, Tensor> RunAll(IReadOnlyList<NamedTensor> inputs)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var i in inputs) result[i.Name] = i.Value;
        foreach (var o in _ort.Run(inputs)) result[o.Name] = o.Value;
        return result;
    }

    /// <summary>Pass one (ranges) or pass two (histograms) over one input set.</summary>
    public void Observe(IReadOnlyList<NamedTensor> inputs, bool histogramPass)
    {
        foreach (var (name, value) in RunAll(inputs))
        {
            Samples.TryAdd(name, value);
            if (value.ElementType != TensorElementType.Float) continue;
            if (!Stats.TryGetValue(name, out var s)) Stats[name] = s = new TensorStats();
            if (histogramPass) s.AddHistogram(value.Elements<float>());
            else s.AddRange(value.Elements<float>());
        }
        if (!histogramPass) Runs++;
    }

    public OnnxModel Model => _model;

    public void Dispose() => _ort.Dispose();
}
