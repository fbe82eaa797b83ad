using System.Globalization;
using System.Text;
using Chain.Quantization.Quantizer;

namespace Chain.Quantization.Report;

/// <summary>Float-vs-int8 signal-to-quantization-noise ratio of one tensor over the evaluation inputs.</summary>
public sealed record LayerReport(string Tensor, string Producer, double SqnrDb, float Scale, int ZeroPoint);

/// <summary>How one graph output of the int8 model compares with the float model on held-out inputs.</summary>
public sealed record OutputReport(string Name, double SqnrDb, double MaxAbsError, double MeanAbsError, double? Top1Agreement, int Rows, string? Postprocess);

/// <summary>Canonical executor vs ONNX Runtime on the int8 model: cases run, cases whose outputs matched byte for byte.</summary>
public sealed record BitMatchReport(int Cases, int Matched, string? Note)
{
    public bool Ran => Cases > 0;
    public double Fraction => Cases == 0 ? 0 : Matched / (double)Cases;
    public override string ToString() => Cases == 0 ? $"not run ({Note})" : $"{Matched}/{Cases} ({100 * Fraction:0.##}%){(Note is null ? "" : $"; {Note}")}";
}

/// <summary>What `chain model quantize` did and how good the result is (docs/quantization.md, "Report").</summary>
public sealed record QuantizationReport
{
    public required string Source { get; init; }
    public required string Scheme { get; init; }
    public required string Method { get; init; }
    public required int CalibrationInputs { get; init; }
    public required int EvaluationInputs { get; init; }
    public required IReadOnlyList<Conversion> Conversions { get; init; }
    public required IReadOnlyList<LayerReport> Layers { get; init; }
    public required IReadOnlyList<OutputReport> Outputs { get; init; }
    /// <summary>The lowest top-1 agreement over classifier outputs (last dimension ≥ 2), or null when there are none.</summary>
    public double? Top1Agreement => Outputs.Where(o => o.Top1Agreement is not null).Select(o => o.Top1Agreement).Min();
    /// <summary>The lowest output SQNR in dB.</summary>
    public double OutputSqnrDb => Outputs.Count == 0 ? double.NaN : Outputs.Min(o => o.SqnrDb);
    public double MaxAbsError => Outputs.Count == 0 ? 0 : Outputs.Max(o => o.MaxAbsError);
    public double MeanAbsError => Outputs.Count == 0 ? 0 : Outputs.Average(o => o.MeanAbsError);
    public required long FloatModelBytes { get; init; }
    public required long Int8ModelBytes { get; init; }
    public required long Macs { get; init; }
    public required long Gas { get; init; }
    public required long PeakMemoryBytes { get; init; }
    public required bool Admitted { get; init; }
    public required BitMatchReport BitMatch { get; init; }
    /// <summary>Admission's reasons when the int8 model was refused (then the tool fails), and anything the quantizer could not do.</summary>
    public required IReadOnlyList<string> Refusals { get; init; }
    /// <summary>What preparation changed, and what bias correction did (one line each).</summary>
    public required IReadOnlyList<string> Notes { get; init; }

    private static string D(double v, string f = "0.00") => double.IsPositiveInfinity(v) ? "∞" : v.ToString(f, CultureInfo.InvariantCulture);
    private static string P(double? v) => v is { } x ? (100 * x).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";

    /// <summary>The one-screen summary printed on stdout.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"model:       {Source}");
        sb.AppendLine($"scheme:      {Scheme}; calibration {Method}, {CalibrationInputs} input(s); evaluation on {EvaluationInputs} held-out input(s)");
        sb.AppendLine($"converted:   {Conversions.Count} node(s): {string.Join(", ", Conversions.GroupBy(c => c.Into).Select(g => $"{g.Count()}× {g.Key}"))}");
        sb.AppendLine($"top-1:       {P(Top1Agreement)} agreement with the float model");
        sb.AppendLine($"output SQNR: {D(OutputSqnrDb)} dB (max abs error {D(MaxAbsError, "0.#####")}, mean {D(MeanAbsError, "0.#####")})");
        var worst = Layers.OrderBy(l => l.SqnrDb).FirstOrDefault();
        if (worst is not null) sb.AppendLine($"layers:      {Layers.Count} compared; lowest SQNR {D(worst.SqnrDb)} dB at {worst.Tensor} ({worst.Producer})");
        sb.AppendLine($"size:        {FloatModelBytes} bytes float → {Int8ModelBytes} bytes int8");
        sb.AppendLine($"admission:   {(Admitted ? "admitted" : "REFUSED")}; {Macs} MACs, {Gas} gas, {PeakMemoryBytes} bytes proven peak memory");
        sb.AppendLine($"bit-match:   canonical vs ONNX Runtime {BitMatch}");
        foreach (var o in Outputs.Where(o => o.Postprocess is not null))
            sb.AppendLine($"note:        output '{o.Name}' is the quantized logits; apply {o.Postprocess} on the client");
        foreach (var r in Refusals) sb.AppendLine($"refused:     {r}");
        return sb.ToString();
    }

    /// <summary>The Markdown report (`--report FILE`).</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Quantization report: {Source}").AppendLine();
        sb.AppendLine("| | |").AppendLine("| --- | --- |");
        sb.AppendLine($"| scheme | {Scheme} |");
        sb.AppendLine($"| calibration | {Method}, {CalibrationInputs} input(s) |");
        sb.AppendLine($"| evaluation | {EvaluationInputs} held-out input(s) |");
        sb.AppendLine($"| top-1 agreement | {P(Top1Agreement)} |");
        sb.AppendLine($"| output SQNR | {D(OutputSqnrDb)} dB |");
        sb.AppendLine($"| max / mean abs error | {D(MaxAbsError, "0.######")} / {D(MeanAbsError, "0.######")} |");
        sb.AppendLine($"| model size | {FloatModelBytes} B float → {Int8ModelBytes} B int8 ({D(FloatModelBytes / (double)Math.Max(1, Int8ModelBytes), "0.0")}×) |");
        sb.AppendLine($"| admission | {(Admitted ? "admitted" : "refused")} |");
        sb.AppendLine($"| MACs | {Macs} |");
        sb.AppendLine($"| gas | {Gas} |");
        sb.AppendLine($"| proven peak memory | {PeakMemoryBytes} B |");
        sb.AppendLine($"| canonical vs ONNX Runtime | {BitMatch} |").AppendLine();
        sb.AppendLine("## Outputs").AppendLine();
        sb.AppendLine("| output | SQNR (dB) | max abs error | mean abs error | top-1 agreement | rows | client postprocess |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var o in Outputs)
            sb.AppendLine($"| {o.Name} | {D(o.SqnrDb)} | {D(o.MaxAbsError, "0.######")} | {D(o.MeanAbsError, "0.######")} | {P(o.Top1Agreement)} | {o.Rows} | {o.Postprocess ?? "-"} |");
        sb.AppendLine().AppendLine("## Conversions").AppendLine();
        foreach (var c in Conversions) sb.AppendLine($"- {c}");
        sb.AppendLine().AppendLine("## Per-layer SQNR (float activation vs dequantized int8)").AppendLine();
        sb.AppendLine("| tensor | produced by | scale | zero point | SQNR (dB) |").AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var l in Layers)
            sb.AppendLine($"| {l.Tensor} | {l.Producer} | {l.Scale.ToString("R", CultureInfo.InvariantCulture)} | {l.ZeroPoint} | {D(l.SqnrDb)} |");
        if (Notes.Count > 0)
        {
            sb.AppendLine().AppendLine("## Preparation").AppendLine();
            foreach (var n in Notes) sb.AppendLine($"- {n}");
        }
        sb.AppendLine().AppendLine("## Refusals").AppendLine();
        if (Refusals.Count == 0) sb.AppendLine("None.");
        foreach (var r in Refusals) sb.AppendLine($"- {r}");
        return sb.ToString();
    }
}
