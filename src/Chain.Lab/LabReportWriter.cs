using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ScottPlot;

namespace Chain.Lab;

/// <summary>Writes a <see cref="LabReport"/> as JSON, a Markdown table and a PNG chart.</summary>
public static class LabReportWriter
{
    public const string JsonFile = "report.json", MarkdownFile = "report.md", ChartFile = "chart.png";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // A NaN or infinity met by a finite value makes the max |Δ| infinite: written as "Infinity", not refused.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string ToJson(LabReport report) => JsonSerializer.Serialize(report, Json);

    public static LabReport FromJson(string json) =>
        JsonSerializer.Deserialize<LabReport>(json, Json) ?? throw new InvalidDataException("empty lab report");

    /// <summary>Writes report.json, report.md and chart.png into <paramref name="directory"/> (created if needed).</summary>
    public static void WriteAll(LabReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, JsonFile), ToJson(report));
        File.WriteAllText(Path.Combine(directory, MarkdownFile), ToMarkdown(report));
        WriteChart(report, Path.Combine(directory, ChartFile));
    }

    public static string ToMarkdown(LabReport report)
    {
        var md = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        md.AppendLine("# Determinism lab report").AppendLine();
        md.AppendLine(c, $"- machine: {report.Machine}; best GEMM path: {report.BestGemmPath}");
        md.AppendLine(c, $"- int8 peak (single thread, {report.Peak.Instruction}): {report.Peak.Gops:F1} GOPS");
        md.AppendLine(report.InputDirectory is { } dir
            ? string.Create(c, $"- inputs: {report.InputsPerModel} per model, read from {dir}")
            : string.Create(c, $"- inputs: {report.InputsPerPattern} per pattern family, {report.InputsPerModel} per model, seed {report.Seed}{FloatInputsNote(report)}"));
        md.AppendLine(c, $"- verdict: {(report.ConsensusAllMatch ? "every consensus configuration matched the canonical reference bit for bit" : "SOME CONSENSUS CONFIGURATION DIVERGED")}");
        md.AppendLine().AppendLine("| model | MACs | reference | model id |").AppendLine("|---|---:|---|---|");
        foreach (var m in report.Models)
            md.AppendLine(c, $"| {m.Name}{(m.NotAdmitted is not null ? " (not admitted)" : m.IsFloat ? " (float contrast)" : "")} | {m.Macs:N0} | {m.Reference} | {m.ModelId[..16]}… |");
        foreach (var m in report.Models.Where(m => m.Caveat is not null))
            md.AppendLine().AppendLine(c, $"**{Escape(m.Name)}: {Escape(m.Caveat!)}.**");
        AppendAcrossIsas(md, report);
        AppendFloatDivergence(md, report);
        var trades = TradeLines(report);
        if (trades.Count > 0)
        {
            md.AppendLine().AppendLine("## Float vs int8 (--quantize)").AppendLine();
            md.AppendLine("Each float model beside its int8 twin from `chain model quantize`'s pipeline: how many configurations reproduced the reference bytes, and what the int8 arithmetic costs in accuracy against the float model.").AppendLine();
            foreach (var line in trades) md.AppendLine("- " + Escape(line));
        }
        md.AppendLine().AppendLine("| model | ISA | configuration | bit-match | rate | first divergent node | latency ms | GOPS | % of peak | note |")
            .AppendLine("|---|---|---|---:|---:|---|---:|---:|---:|---|");
        foreach (var r in report.Rows)
        {
            var node = r.DivergentNode is null ? "—" : $"{r.DivergentNode}{(r.DivergentOp is null ? "" : $" ({r.DivergentOp})")} at {r.FirstDivergentInput}";
            var note = r.Error is not null ? "error: " + r.Error : r.Detail ?? "";
            md.AppendLine(c, $"| {r.Model} | {r.Isa} | {r.Configuration} | {r.Matches}/{r.Runs} | {r.MatchRate * 100:F1}% | {Escape(node)} | {r.MeanLatencyMs:F4} | {r.Gops:F2} | {r.PeakFraction * 100:F1}% | {Escape(note)} |");
        }
        return md.ToString();
    }

    /// <summary>
    /// When rows of more than one ISA are present: per consensus model, each ISA's canonical configurations side by
    /// side (✓ bit-identical to the reference on every input, ✗ with the first divergent node), and the verdict.
    /// </summary>
    private static void AppendAcrossIsas(StringBuilder md, LabReport report)
    {
        var isas = report.Rows.Select(r => r.Isa).Distinct().ToArray();
        if (isas.Length < 2) return;
        var c = CultureInfo.InvariantCulture;
        var consensus = report.Rows.Where(r => r.Consensus && r.Kind != ConfigKind.Ort).ToArray();
        md.AppendLine().AppendLine(c, $"## Across ISAs ({string.Join(" vs ", isas)})").AppendLine();
        md.AppendLine(c, $"Reference: the canonical executor on {report.BestGemmPath} in this process ({isas[0]}); every other configuration is compared with it input by input.");
        md.AppendLine(c, $"Verdict: {(consensus.All(r => r.FullMatch) ? "every canonical configuration on every ISA gave identical bytes" : "DIVERGENCE across configurations or ISAs")}.");
        md.AppendLine().Append("| model |");
        foreach (var isa in isas) md.Append(c, $" {isa} |");
        md.AppendLine().Append("|---|").AppendLine(string.Concat(isas.Select(_ => "---|")));
        foreach (var model in consensus.Select(r => r.Model).Distinct())
        {
            md.Append(c, $"| {model} |");
            foreach (var isa in isas)
            {
                var cells = consensus.Where(r => r.Model == model && r.Isa == isa).Select(r =>
                    $"{r.Configuration} {(r.FullMatch ? "✓" : r.Error is not null ? "error" : $"✗ {r.DivergentNode} at {r.FirstDivergentInput}")} ({r.MeanLatencyMs:F2} ms)");
                md.Append(c, $" {Escape(string.Join("; ", cells))} |");
            }
            md.AppendLine();
        }
    }

    /// <summary>
    /// Per float model and configuration: how often the bytes matched the reference, and when not, by how much — the
    /// largest absolute and ULP differences over every output element and input, the top-1 flips, the first divergent node.
    /// </summary>
    private static void AppendFloatDivergence(StringBuilder md, LabReport report)
    {
        var rows = report.Rows.Where(r => r.Float is not null || (!r.Consensus && r.Error is not null)).ToArray();
        if (rows.Length == 0) return;
        var c = CultureInfo.InvariantCulture;
        md.AppendLine().AppendLine("## Float models: divergence from the reference").AppendLine();
        md.AppendLine("Against each model's reference configuration, over every float32 output element of every input. "
            + "ULP: float32 units in the last place (∞: a NaN or infinity met another value). Top-1 flips: rows (slices of the last dimension, when it is > 1) whose arg-max changed.");
        md.AppendLine().AppendLine("| model | ISA | configuration | bit-match | max \\|Δ\\| | max ULP | top-1 flips | first divergent node |")
            .AppendLine("|---|---|---|---:|---:|---:|---:|---|");
        foreach (var r in rows)
        {
            var f = r.Float;
            md.AppendLine(c, $"| {r.Model} | {r.Isa} | {r.Configuration} | {(r.Error is null ? $"{r.MatchRate * 100:F1}%" : "error")} | "
                + $"{(f is null ? "—" : f.MaxAbsDiff.ToString("G3", c))} | {(f is null ? "—" : FloatUlp.Describe(f.MaxUlp))} | "
                + $"{(f?.Top1Flips is { } flips ? $"{flips}/{f.Top1Rows}" : "n/a")} | {Escape(NodeCell(r))} |");
        }
    }

    /// <summary>
    /// One line per int8 twin: the float model's bit-exact configurations and worst divergence, the twin's bit-exact
    /// configurations, and the accuracy cost (for the console and report.md).
    /// </summary>
    public static IReadOnlyList<string> TradeLines(LabReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var lines = new List<string>();
        foreach (var twin in report.Models.Where(m => m.Quantized is not null))
        {
            var q = twin.Quantized!;
            var floatRows = report.Rows.Where(r => r.Model == q.FloatModel && r.Error is null).ToArray();
            var int8Rows = report.Rows.Where(r => r.Model == twin.Name && r.Error is null).ToArray();
            var worst = floatRows.Select(r => r.Float).OfType<FloatDivergence>().ToArray();
            var flips = worst.Where(f => f.Top1Flips is not null).ToArray();
            var floatPart = string.Create(c, $"{q.FloatModel} (float): {floatRows.Count(r => r.FullMatch)}/{floatRows.Length} configurations bit-exact")
                + (worst.Length == 0 ? "" : string.Create(c, $", worst max |Δ| {worst.Max(f => f.MaxAbsDiff):G3}, {FloatUlp.Describe(worst.Max(f => f.MaxUlp))} ULP")
                    + (flips.Length == 0 ? "" : string.Create(c, $", up to {flips.Max(f => f.Top1Flips)}/{flips[0].Top1Rows} top-1 flips")));
            var int8Part = string.Create(c, $"{twin.Name} (int8): {int8Rows.Count(r => r.FullMatch)}/{int8Rows.Length} configurations bit-exact");
            var cost = string.Create(c, $"accuracy cost ({q.Method} calibration on {q.CalibrationInputs}, evaluated on {q.EvaluationInputs} of the lab's float inputs): {q.Accuracy}");
            lines.Add($"{floatPart}; {int8Part}; {cost}");
        }
        return lines;
    }

    /// <summary>The first divergent node, "—" when nothing diverged, or why the row has none.</summary>
    public static string NodeCell(LabRow r) => r.Error is not null ? "n/a (error: " + r.Error + ")"
        : r.DivergentNode is null ? "—"
        : $"{r.DivergentNode}{(r.DivergentOp is null ? "" : $" ({r.DivergentOp})")} at {r.FirstDivergentInput}";

    /// <summary>The float input distribution, stated whenever a float model was fed generated inputs.</summary>
    private static string FloatInputsNote(LabReport report) => report.Models.Any(m => m.IsFloat)
        ? $"; {FloatInputs}"
        : "";

    /// <summary>What <see cref="Chain.Inference.Runtime.InputGenerator"/> feeds a float input, pattern by pattern.</summary>
    public const string FloatInputs =
        "float inputs: random = uniform on the 0.01 grid of [-10, 10]; all-max +10, all-min -10, alternating ±10, random-extremes ±10 at random, zeros";

    private static string Escape(string text) => text.Replace("|", "\\|").Replace("\n", " ");

    /// <summary>
    /// The chart: on the left, mean latency per configuration and model (log scale; red bars are configurations that
    /// diverged); on the right, one heatmap per ISA of the match rate, model × configuration, each cell labelled with
    /// its percentage so the numbers read without the colour scale.
    /// </summary>
    public static void WriteChart(LabReport report, string path)
    {
        var latency = LatencyPlot(report, out var latencyWidth);
        var heatmaps = report.Rows.Select(r => r.Isa).Distinct().Select(isa => HeatmapPlot(report, isa)).ToArray();
        var heatWidth = heatmaps.Length == 0 ? 0 : heatmaps.Max(h => h.Width);
        var width = latencyWidth + heatWidth;
        var height = Math.Max(700, heatmaps.Sum(h => h.Height));
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, height))
            ?? throw new InvalidOperationException($"cannot allocate a {width}×{height} chart");
        surface.Canvas.Clear(SkiaSharp.SKColors.White);
        // Each plot renders to its own image first: a plot rendered into part of a canvas clears the whole canvas.
        void Draw(Plot plot, int w, int h, int x, int y)
        {
            using var bitmap = SkiaSharp.SKBitmap.Decode(plot.GetImage(w, h).GetImageBytes(ImageFormat.Png, 100));
            surface.Canvas.DrawBitmap(bitmap, x, y);
        }
        Draw(latency, latencyWidth, height, 0, 0);
        var top = 0;
        foreach (var (plot, w, h) in heatmaps)
        {
            Draw(plot, w, h, latencyWidth, top);
            top += h;
        }
        using var image = surface.Snapshot();
        using var png = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, png.ToArray());
    }

    private static Plot LatencyPlot(LabReport report, out int width)
    {
        var plot = new Plot();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        var position = 0.0;
        string? lastModel = null;
        foreach (var r in report.Rows)
        {
            if (lastModel is not null && lastModel != r.Model) position += 1; // a gap between models
            lastModel = r.Model;
            var colour = r.Error is not null ? Colors.Gray : r.FullMatch ? (r.Consensus ? Colors.SeaGreen : Colors.SteelBlue) : Colors.Crimson;
            // Log10 of microseconds keeps sub-millisecond and second-long runs readable on one axis.
            bars.Add(new Bar { Position = position, Value = Math.Log10(Math.Max(r.MeanLatencyMs * 1000, 1)), FillColor = colour });
            ticks.Add(new Tick(position, $"{r.Model} · {r.Configuration}")); // foreign-ISA names start with the ISA
            position += 1;
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 10;
        plot.Axes.Bottom.MinimumSize = 280;
        plot.YLabel("log10(mean latency, µs)");
        plot.Title("Latency per configuration (green/blue = 100% bit-match, red = diverged, grey = error)");
        plot.Axes.Margins(bottom: 0);
        width = Math.Max(900, 18 * bars.Count + 200);
        return plot;
    }

    /// <summary>Match rate of every (model, configuration) on <paramref name="isa"/>: green at 100%, red to gold below, grey for errors.</summary>
    private static (Plot Plot, int Width, int Height) HeatmapPlot(LabReport report, string isa)
    {
        var rows = report.Rows.Where(r => r.Isa == isa).ToArray();
        var models = rows.Select(r => r.Model).Distinct().ToArray();
        var configurations = rows.Select(r => r.Configuration).Distinct().ToArray();
        var plot = new Plot();
        for (var m = 0; m < models.Length; m++)
        {
            var y = models.Length - 1 - m; // first model on top
            for (var k = 0; k < configurations.Length; k++)
            {
                var row = rows.FirstOrDefault(r => r.Model == models[m] && r.Configuration == configurations[k]);
                if (row is null) continue; // a configuration that does not apply (canonical on a float model)
                var cell = plot.Add.Rectangle(k - 0.5, k + 0.5, y - 0.5, y + 0.5);
                cell.FillColor = row.Error is not null ? Colors.LightGray : MatchColour(row.MatchRate);
                cell.LineColor = Colors.White;
                cell.LineWidth = 1;
                var text = plot.Add.Text(row.Error is not null ? "err" : $"{Math.Floor(row.MatchRate * 100):F0}", k, y);
                text.LabelFontSize = 11;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontColor = row.Error is null && row.MatchRate < 1 ? Colors.Black : Colors.White;
                text.LabelBold = true;
            }
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            configurations.Select((c, k) => new Tick(k, c)).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Bottom.MinimumSize = 200;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            models.Select((name, m) => new Tick(models.Length - 1 - m, name)).ToArray());
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        plot.Axes.SetLimits(-0.5, configurations.Length - 0.5, -0.5, models.Length - 0.5);
        plot.Grid.IsVisible = false;
        plot.Title($"{isa}: % of inputs bit-identical to the reference");
        var width = Math.Max(420, 32 * configurations.Length + 260);
        var height = Math.Max(300, 34 * models.Length + 300);
        return (plot, width, height);
    }

    /// <summary>SeaGreen for a full match; below it, from crimson (0%) to gold (just under 100%), so any divergence stands out.</summary>
    internal static Color MatchColour(double rate)
    {
        if (rate >= 1) return Colors.SeaGreen;
        var t = Math.Clamp(rate, 0, 1);
        static byte Mix(byte a, byte b, double t) => (byte)Math.Round(a + (b - a) * t);
        var (from, to) = (Colors.Crimson, Colors.Gold);
        return new Color(Mix(from.Red, to.Red, t), Mix(from.Green, to.Green, t), Mix(from.Blue, to.Blue, t));
    }
}
