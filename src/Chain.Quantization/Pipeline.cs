using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Kernels;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Quantization.Calibration;
using Chain.Quantization.Quantizer;
using Chain.Quantization.Report;

namespace Chain.Quantization;

/// <summary>Everything `chain model quantize` takes besides the model bytes.</summary>
public sealed record QuantizeRequest
{
    public string Source { get; init; } = "model";
    public PreparationOptions Preparation { get; init; } = new();
    public QuantizerOptions Quantizer { get; init; } = new();
    public CalibrationSource Calibration { get; init; } = CalibrationSource.Parse(null, 0, 1);
    /// <summary>Held-out random inputs when the calibration source gives none of its own.</summary>
    public int EvaluationCount { get; init; } = 64;
    /// <summary>
    /// Explicit calibration input sets (one list of named float tensors per run), used instead of <see cref="Calibration"/>
    /// when given: e.g. in-distribution examples of the task a model was trained on.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>>? CalibrationSets { get; init; }
    /// <summary>Explicit held-out evaluation input sets; with <see cref="CalibrationSets"/>, required.</summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>>? EvaluationSets { get; init; }
    /// <summary>Fail when admission refuses the int8 model (the CLI always does).</summary>
    public bool RequireAdmission { get; init; } = true;
}

/// <summary>The int8 model and its report.</summary>
public sealed record QuantizationResult(byte[] Model, QuantizationReport Report, QuantizationMetadata Metadata);

/// <summary>Prepare → calibrate → quantize → admit → verify and evaluate (docs/quantization.md).</summary>
public static class QuantizationPipeline
{
    public const string Scheme = "int8 activations asymmetric per tensor; int8 weights symmetric (zero point 0, [−127, 127]) per output channel; int32 bias";

    /// <summary>Graph preparation (docs/quantization.md, "Preparation").</summary>
    internal static PreparedGraph PrepareModel(byte[] bytes, PreparationOptions o) => GraphPreparation.Prepare(bytes, o);

    public static QuantizationResult Run(byte[] floatModel, QuantizeRequest request, IProgress<QuantizationProgress>? progress = null)
    {
        var prepared = PrepareModel(floatModel, request.Preparation);
        var specs = InputSets.Specs(prepared.Model, request.Preparation);
        var (calSets, evalSets) = request.CalibrationSets is { } givenCal
            ? ([.. givenCal], [.. request.EvaluationSets ?? throw new ArgumentException("EvaluationSets must be given with CalibrationSets", nameof(request))])
            : InputSets.Create(specs, request.Calibration, request.EvaluationCount);
        using var cal = new Calibrator(prepared.Model);
        for (var i = 0; i < calSets.Count; i++)
        {
            cal.Observe(calSets[i], histogramPass: false);
            progress?.Report(new QuantizationProgress("calibrating", i + 1, calSets.Count));
        }
        if (request.Quantizer.Method != CalibrationMethod.MinMax)
            for (var i = 0; i < calSets.Count; i++)
            {
                cal.Observe(calSets[i], histogramPass: true);
                progress?.Report(new QuantizationProgress("histograms", i + 1, calSets.Count));
            }
        var quantizer = new GraphQuantizer(prepared, cal, request.Quantizer);
        var int8 = quantizer.Quantize();
        BiasCorrectionSummary? corrected = null;
        if (request.Quantizer.BiasCorrection)
            (int8, corrected) = BiasCorrection.Apply(int8, quantizer.ConvLayers, cal, quantizer.Metadata!, calSets, progress);
        var bytes = int8.ToBytes();
        var admission = ModelAdmission.Check(bytes);
        var refusals = admission.Reasons.Select(r => r.ToString()).ToList();
        if (!admission.Admitted && request.RequireAdmission)
            throw new QuantizationException("admission", $"the int8 model was refused: {string.Join("; ", refusals)}");
        var metadata = quantizer.Metadata!;
        var eval = Evaluate(bytes, int8, quantizer, cal, metadata, evalSets, progress);
        var report = new QuantizationReport
        {
            Source = request.Source,
            Scheme = request.Quantizer.PerChannel ? Scheme : Scheme.Replace("per output channel", "per tensor"),
            Method = request.Quantizer.Method switch
            {
                CalibrationMethod.Percentile => $"percentile {request.Quantizer.Percentile}",
                var m => m.ToString().ToLowerInvariant(),
            },
            CalibrationInputs = calSets.Count,
            EvaluationInputs = evalSets.Count,
            Conversions = corrected is null ? quantizer.Conversions : [.. quantizer.Conversions.Select(c =>
                c.Into == "QLinearConv" && corrected.ShiftByNode.TryGetValue(c.Node, out var e)
                    ? c with { Detail = $"{c.Detail}, bias corrected (mean |error| before {e:0.00} LSB)" } : c)],
            Layers = eval.Layers,
            Outputs = eval.Outputs,
            FloatModelBytes = floatModel.Length,
            Int8ModelBytes = bytes.Length,
            Macs = admission.Admitted ? admission.TotalMacs : 0,
            Gas = admission.Admitted ? admission.Gas : 0,
            PeakMemoryBytes = admission.Admitted ? admission.PeakMemoryBytes : 0,
            Admitted = admission.Admitted,
            BitMatch = eval.BitMatch,
            Refusals = refusals,
            Notes = corrected is null ? [.. prepared.Notes, "bias correction: off"] : [.. prepared.Notes, corrected.ToString()],
        };
        return new QuantizationResult(bytes, report, metadata);
    }

    private sealed record Evaluation(List<LayerReport> Layers, List<OutputReport> Outputs, BitMatchReport BitMatch);

    private static Evaluation Evaluate(byte[] bytes, OnnxModel int8, GraphQuantizer q, Calibrator cal, QuantizationMetadata meta,
        List<IReadOnlyList<NamedTensor>> sets, IProgress<QuantizationProgress>? progress)
    {
        string? canonicalNote = null, ortNote = null;
        CanonicalExecutor? canonical = null;
        OrtExecutor? ort = null, debug = null;
        try
        {
            try { canonical = CanonicalExecutor.LoadUnchecked(bytes); }
            catch (Exception e) when (e is InferenceException or ModelRefusedException or ArgumentException or InvalidOperationException or NotSupportedException)
            { canonicalNote = $"canonical executor cannot run it: {e.Message}"; }
            try { ort = new OrtExecutor(bytes, OrtSettings.Pinned); }
            catch (OrtLoadException e) { ortNote = e.Message; }
            // Per-layer comparison: every int8 tensor that stands for a float tensor of the same name, as an extra output.
            var layerNames = q.Tensors.Where(kv => kv.Value.Name == kv.Key && cal.Stats.ContainsKey(kv.Key)).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            try { debug = new OrtExecutor(Calibrator.WithAllOutputs(int8, layerNames.Contains).ToBytes(), new OrtSettings(OrtOptimization.Disabled)); }
            catch (OrtLoadException) { debug = null; }

            var layerAcc = layerNames.ToDictionary(n => n, _ => new double[2], StringComparer.Ordinal);
            var outAcc = meta.Outputs.ToDictionary(o => o.Name, _ => new OutAcc(), StringComparer.Ordinal);
            int cases = 0, matched = 0;
            string? firstMismatch = null;
            for (var s = 0; s < sets.Count; s++)
            {
                var floats = cal.RunAll(sets[s]);
                var inputs = sets[s].Select(i => new NamedTensor(i.Name, QuantizationMetadata.Quantize(meta.Input(i.Name)!, i.Value))).ToList();
                IReadOnlyList<NamedTensor>? canon = null, fast = null;
                if (canonical is not null)
                {
                    try { canon = canonical.Run(inputs); }
                    catch (InferenceException e) { canonicalNote ??= $"canonical executor failed: {e.Message}"; }
                }
                if (ort is not null)
                {
                    try { fast = ort.Run(inputs); }
                    catch (InferenceException e) { ortNote ??= e.Message; }
                }
                if (canon is not null && fast is not null)
                {
                    cases++;
                    var diff = FastPathCheck.FirstDifference(canon, fast);
                    if (diff is null) matched++;
                    else firstMismatch ??= $"input {s}: {diff}";
                }
                var outputs = canon ?? fast;
                if (outputs is not null)
                    foreach (var o in outputs)
                        if (meta.Output(o.Name) is { } info && floats.TryGetValue(o.Name, out var f))
                            outAcc[o.Name].Add(f.Elements<float>(), QuantizationMetadata.Dequantize(info, o.Value), f.Shape.Length > 0 ? f.Shape[^1] : 1);
                if (debug is not null)
                {
                    IReadOnlyList<NamedTensor> all;
                    try { all = debug.Run(inputs); }
                    catch (InferenceException) { all = []; }
                    foreach (var t in all.Concat(inputs))
                    {
                        if (!layerAcc.TryGetValue(t.Name, out var acc) || !floats.TryGetValue(t.Name, out var f)) continue;
                        var qt = q.Tensors[t.Name];
                        var deq = QuantizationMetadata.Dequantize(new QuantizedTensorInfo(t.Name, TensorElementType.Int8, qt.Scale, qt.Zp, 0, 0), t.Value);
                        var fv = f.Elements<float>();
                        for (var i = 0; i < deq.Length; i++) { acc[0] += (double)fv[i] * fv[i]; var d = (double)fv[i] - deq[i]; acc[1] += d * d; }
                    }
                }
                progress?.Report(new QuantizationProgress("evaluating", s + 1, sets.Count));
            }
            var producers = int8.Graph.Nodes.SelectMany(n => n.Outputs.Select(o => (o, n))).GroupBy(p => p.o).ToDictionary(g => g.Key, g => g.First().n, StringComparer.Ordinal);
            var layers = int8.Graph.Nodes.SelectMany(n => n.Outputs).Prepend(int8.Graph.Inputs[0].Name).Where(layerAcc.ContainsKey).Distinct()
                .Select(n => new LayerReport(n, producers.TryGetValue(n, out var p) ? p.OpType : "graph input", Sqnr(layerAcc[n][0], layerAcc[n][1]), q.Tensors[n].Scale, q.Tensors[n].Zp))
                .ToList();
            var outs = meta.Outputs.Select(o => outAcc[o.Name].Report(o.Name, o.Postprocess)).ToList();
            var divergence = FastPathCheck.KnownDivergence(int8) is { } kd ? $"the engine keeps this model on the canonical executor ({kd})" : null;
            var note = string.Join("; ", new[] { canonicalNote, ortNote, divergence, firstMismatch is null ? null : $"first mismatch: {firstMismatch}" }.Where(n => n is not null));
            return new Evaluation(layers, outs, new BitMatchReport(cases, matched, note.Length > 0 ? note : null));
        }
        finally
        {
            canonical?.Dispose();
            ort?.Dispose();
            debug?.Dispose();
        }
    }

    internal static double Sqnr(double signal, double noise) => noise == 0 ? double.PositiveInfinity : signal == 0 ? double.NegativeInfinity : 10 * Math.Log10(signal / noise);

    private sealed class OutAcc
    {
        private double _signal, _noise, _absSum, _maxAbs;
        private long _count;
        private int _rows, _agree;
        private bool _classifier = true;

        public void Add(ReadOnlySpan<float> f, float[] q, int last)
        {
            for (var i = 0; i < q.Length; i++)
            {
                var d = (double)f[i] - q[i];
                _signal += (double)f[i] * f[i];
                _noise += d * d;
                _absSum += Math.Abs(d);
                _maxAbs = Math.Max(_maxAbs, Math.Abs(d));
            }
            _count += q.Length;
            if (last < 2) { _classifier = false; return; }
            for (var r = 0; r + last <= q.Length; r += last)
            {
                _rows++;
                if (ArgMax(f.Slice(r, last)) == ArgMax(q.AsSpan(r, last))) _agree++;
            }
        }

        private static int ArgMax(ReadOnlySpan<float> v)
        {
            var best = 0;
            for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
            return best;
        }

        public OutputReport Report(string name, string? post) => new(name, Sqnr(_signal, _noise), _maxAbs, _count == 0 ? 0 : _absSum / _count,
            _classifier && _rows > 0 ? _agree / (double)_rows : null, _rows, post);
    }
}
