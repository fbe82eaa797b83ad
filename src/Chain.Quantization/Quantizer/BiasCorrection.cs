using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Quantization.Calibration;

namespace Chain.Quantization.Quantizer;

/// <summary>What bias correction did, for the report.</summary>
public sealed record BiasCorrectionSummary(int Layers, int Corrected, int Passes, int Inputs, double MeanShiftLsb, IReadOnlyDictionary<string, double> ShiftByNode)
{
    public override string ToString() =>
        $"bias correction: {Corrected} of {Layers} QLinearConv bias vectors shifted by the mean per-channel output error on {Inputs} calibration input(s), "
        + $"layer by layer ({Passes} pass(es)); mean |shift| {MeanShiftLsb:0.00} output LSB";
}

/// <summary>
/// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", §4.2 empirical variant; AIMET, TFLite): the
/// int8 graph runs (ONNX Runtime, the same integer kernels the canonical executor matches bit for bit) on the calibration
/// inputs with every QLinearConv output exposed and its bias an input; each output channel's mean error against the
/// float model's tensor before any fused activation — over the elements neither side saturates — is subtracted from
/// that channel's int32 bias (in <c>x_scale·w_scale[oc]</c> units, within admission's bound). Layers are corrected in
/// dependency order, one pass per depth, so a layer is measured with every layer before it already corrected.
/// </summary>
public static class BiasCorrection
{
    /// <summary>Channels with fewer unsaturated samples than this keep their bias.</summary>
    private const int MinSamples = 8;

    public static (OnnxModel Model, BiasCorrectionSummary Summary) Apply(OnnxModel int8, IReadOnlyList<ConvLayer> convs, Calibrator cal,
        QuantizationMetadata meta, IReadOnlyList<IReadOnlyList<NamedTensor>> sets, IProgress<QuantizationProgress>? progress = null)
    {
        var g = int8.Graph;
        var produced = g.Nodes.Where(n => n.OpType == "QLinearConv").Select(n => n.Outputs[0]).ToHashSet(StringComparer.Ordinal);
        var layers = convs.Where(l => produced.Contains(l.Output) && cal.Stats.ContainsKey(l.FloatTensor)).ToList();
        if (layers.Count == 0 || sets.Count == 0) return (int8, new BiasCorrectionSummary(0, 0, 0, sets.Count, 0, new Dictionary<string, double>()));

        // Depth of each layer: the number of QLinearConvs on the longest path before it.
        var byOutput = layers.ToDictionary(l => l.Output, StringComparer.Ordinal);
        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        var level = new Dictionary<ConvLayer, int>();
        foreach (var n in g.Nodes)
        {
            var d = n.Inputs.Where(i => i.Length > 0).Select(i => depth.GetValueOrDefault(i)).DefaultIfEmpty(0).Max();
            foreach (var o in n.Outputs.Where(o => o.Length > 0))
            {
                if (byOutput.TryGetValue(o, out var l)) { level[l] = d; depth[o] = d + 1; }
                else depth[o] = d;
            }
        }
        var passes = layers.GroupBy(l => level[l]).OrderBy(gr => gr.Key).Select(gr => gr.ToList()).ToList();

        // The float tensors compared, per input, computed once.
        var floats = new List<Dictionary<string, float[]>>(sets.Count);
        var inputs = new List<IReadOnlyList<NamedTensor>>(sets.Count);
        foreach (var s in sets)
        {
            var all = cal.RunAll(s);
            floats.Add(layers.ToDictionary(l => l.Output, l => all[l.FloatTensor].Elements<float>().ToArray(), StringComparer.Ordinal));
            inputs.Add([.. s.Select(i => new NamedTensor(i.Name, QuantizationMetadata.Quantize(meta.Input(i.Name)!, i.Value)))]);
        }

        var bias = layers.ToDictionary(l => l, l => (int[])l.Bias.Clone());
        var shifts = new Dictionary<string, double>(StringComparer.Ordinal);
        double shiftSum = 0;
        long shiftCount = 0;
        var corrected = 0;
        {
            var done = 0;
            foreach (var pass in passes)
            {
                // The int8 graph cut down to what this pass's layers read, their outputs exposed, the corrected biases baked in.
                var needed = pass.Select(l => l.Output).ToHashSet(StringComparer.Ordinal);
                var nodes = new List<OnnxNode>();
                foreach (var n in g.Nodes.Reverse())
                {
                    if (!n.Outputs.Any(needed.Contains)) continue;
                    nodes.Add(n);
                    foreach (var i in n.Inputs) needed.Add(i);
                }
                nodes.Reverse();
                var cut = g with
                {
                    Nodes = nodes,
                    Initializers = [.. g.Initializers.Where(t => needed.Contains(t.Name)).Select(t => layers.FirstOrDefault(l => l.BiasInit == t.Name) is { } bl
                        ? new OnnxTensor(t.Name, Tensor.Create<int>(TensorElementType.Int32, [bl.Channels], bias[bl])) : t)],
                    Outputs = [.. pass.Select(l => new OnnxValueInfo(l.Output, (int)TensorElementType.Int8, null))],
                };
                using var ort = new OrtExecutor(int8.WithGraph(cut).ToBytes(), new OrtSettings(OrtOptimization.Disabled));
                var sum = pass.ToDictionary(l => l, l => new double[l.Channels]);
                var sq = pass.ToDictionary(l => l, l => new double[l.Channels]);
                var count = pass.ToDictionary(l => l, l => new long[l.Channels]);
                for (var s = 0; s < sets.Count; s++)
                {
                    var outs = ort.Run(inputs[s]).ToDictionary(o => o.Name, o => o.Value, StringComparer.Ordinal);
                    foreach (var l in pass)
                    {
                        var q = outs[l.Output].Elements<sbyte>();
                        var f = floats[s][l.Output];
                        float scale = l.Y.Scale, zp = l.Y.Zp;
                        // Elements within one step of either end of the int8 range are left out: there the error is
                        // the saturation (a fused Relu/Clip or a clipped range), not a bias.
                        float lo = (-127 - zp) * scale, hi = (126 - zp) * scale;
                        var acc = sum[l];
                        var acc2 = sq[l];
                        var cnt = count[l];
                        for (var i = 0; i < q.Length; i++)
                        {
                            var v = f[i];
                            if (q[i] <= -127 || q[i] >= 126 || v <= lo || v >= hi) continue;
                            var c = i / l.Inner % l.Channels;
                            var e = (q[i] - zp) * scale - v;
                            acc[c] += e;
                            acc2[c] += (double)e * e;
                            cnt[c]++;
                        }
                    }
                }
                foreach (var l in pass)
                {
                    var b = bias[l];
                    var changed = false;
                    for (var c = 0; c < l.Channels; c++)
                    {
                        if (count[l][c] < MinSamples) continue;
                        var n = count[l][c];
                        var mean = sum[l][c] / n;
                        // Only a mean error that stands out from its own sampling noise (two standard errors).
                        var variance = Math.Max(0, sq[l][c] / n - mean * mean);
                        if (Math.Abs(mean) < 2 * Math.Sqrt(variance / n)) continue;
                        var delta = Math.Round(mean / ((double)l.XScale * l.WScales[c]), MidpointRounding.ToEven);
                        if (delta == 0 || !double.IsFinite(delta)) continue;
                        var nb = (long)Math.Clamp(b[c] - delta, -l.Budget, l.Budget);
                        if (nb == b[c]) continue;
                        b[c] = (int)nb;
                        changed = true;
                        shiftSum += Math.Abs(mean) / l.Y.Scale;
                        shiftCount++;
                    }
                    if (changed) corrected++;
                    shifts[l.Node] = Enumerable.Range(0, l.Channels).Where(c => count[l][c] >= MinSamples).Select(c => Math.Abs(sum[l][c] / count[l][c]) / l.Y.Scale).DefaultIfEmpty(0).Average();
                }
                progress?.Report(new QuantizationProgress("bias correction", done += pass.Count, layers.Count));
            }
        }
        var inits = g.Initializers.Select(t => bias.Keys.FirstOrDefault(l => l.BiasInit == t.Name) is { } l
            ? new OnnxTensor(t.Name, Tensor.Create<int>(TensorElementType.Int32, [l.Channels], bias[l])) : t).ToList();
        return (int8.WithGraph(g with { Initializers = inits }),
            new BiasCorrectionSummary(layers.Count, corrected, passes.Count, sets.Count, shiftCount == 0 ? 0 : shiftSum / shiftCount, shifts));
    }
}
