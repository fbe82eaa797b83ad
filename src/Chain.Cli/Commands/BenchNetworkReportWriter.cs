using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>`chain bench network`'s output: the console tables, report.json, report.md and chart.png.</summary>
internal static class BenchNetworkReportWriter
{
    public const string JsonFile = "report.json";
    public const string MarkdownFile = "report.md";
    public const string ChartFile = "chart.png";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN: not measured
    };

    public static string ToJson(BenchNetworkReport report) => JsonSerializer.Serialize(report, Json);

    public static void WriteAll(BenchNetworkReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, JsonFile), ToJson(report));
        File.WriteAllText(Path.Combine(directory, MarkdownFile), ToMarkdown(report));
        WriteChart(report, Path.Combine(directory, ChartFile));
    }

    public static void Print(BenchNetworkReport r, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.Profile.Width = Math.Max(console.Profile.Width, 160); // redirected output reports 80 columns
        var f = r.Floor;
        var floor = new Table().AddColumns("floor (idle machine, before the nodes start)", "value");
        foreach (var (name, value) in FloorRows(r)) floor.AddRow(Markup.Escape(name), Markup.Escape(value));
        console.Write(floor);

        var scaling = new Table().AddColumns("validators", "load", "offered tx/s", "submitted tx/s", "txs", "committed", "committed tx/s", "finality p50 ms", "p95 ms", "max ms", "retries");
        foreach (var run in r.Runs)
            foreach (var p in run.Phases)
                scaling.AddRow(run.Validators.ToString(), p.Name, F(p.OfferedTxPerSecond, 1), F(p.SubmittedTxPerSecond, 1), p.Transactions.ToString(), p.Committed.ToString(),
                    F(p.TxPerSecond, 1), F(p.FinalityP50Ms, 0), F(p.FinalityP95Ms, 0), F(p.FinalityMaxMs, 0), p.StaleNonceRetries.ToString());
        console.Write(scaling);

        var detail = new Table().AddColumn("per network").AddColumns(r.Runs.Select(run => $"{run.Validators} validators").ToArray());
        detail.AddRow(["heights / highest round", .. r.Runs.Select(run => $"{run.Heights} / {run.MaxRound}")]);
        detail.AddRow(["p2p bytes sent per committed tx (all nodes)", .. r.Runs.Select(run => F(run.P2pBytesPerCommittedTx, 0))]);
        foreach (var channel in Channels(r))
            detail.AddRow([$"  of which channel {channel}", .. r.Runs.Select(run => run.P2pBytesPerCommittedTxByChannel.TryGetValue(channel, out var b) ? F(b, 0) : "-")]);
        detail.AddRow(["mean transaction size, B", .. r.Runs.Select(run => F(run.MeanTransactionBytes, 0))]);
        foreach (var stage in r.Runs.SelectMany(run => run.Stages.Select(s => s.Stage)).Distinct())
            detail.AddRow([$"stage {stage}, mean ms per height", .. r.Runs.Select(run => run.Stages.FirstOrDefault(s => s.Stage == stage) is { } s ? F(s.MeanMs, 2) : "-")]);
        console.Write(detail);

        // Where each phase's finality went: its own heights' stages (light load above all: one transaction per height).
        var perPhase = new Table().AddColumns(["validators", "load", "node-heights", "p2p B/tx", .. StageNames(r).Select(s => $"{s} ms")]);
        foreach (var run in r.Runs)
            foreach (var p in run.Phases)
                perPhase.AddRow([run.Validators.ToString(), p.Name, PhaseHeights(p), F(p.P2pBytesPerCommittedTx, 0), .. PhaseStageCells(r, p)]);
        console.Write(perPhase);

        var goals = new Table().AddColumns("validators", "goal (issue 14)", "bound", "measured", "bound value", "measured ÷ bound", "verdict");
        foreach (var run in r.Runs)
            foreach (var g in run.Goals)
            {
                var colour = !g.Applies ? "grey" : g.Pass ? "green" : "yellow";
                goals.AddRow(run.Validators.ToString(), Markup.Escape(g.Goal), Markup.Escape(g.Formula), F(g.Measured, 1), F(g.Bound, 1),
                    g.Applies ? F(g.Ratio, 3) : "-", $"[{colour}]{g.Verdict}[/]");
            }
        console.Write(goals);
        output.WriteLine($"goals: {r.Runs.Sum(run => run.Goals.Count(g => g.Pass))} PASS, {r.Runs.Sum(run => run.Goals.Count(g => g.Applies && !g.Pass))} MISS " +
            $"(n/a: throughput goals apply to their own mix; mix {r.Mix}); {f.Cores} cores shared by the nodes and this client");
    }

    public static string ToMarkdown(BenchNetworkReport r)
    {
        var md = new StringBuilder();
        md.AppendLine($"# chain bench network: mix {r.Mix}, validators {string.Join(",", r.Runs.Select(run => run.Validators))}");
        md.AppendLine();
        md.AppendLine($"{r.Machine}; {r.Warmup} warm-up transactions (not measured); {r.TransactionsPerPhase} transactions per load phase; min_block_interval_ms {r.MinBlockIntervalMs}; " +
            $"at most {r.Batch} transactions per request; " + (r.Rates.Count == 0 ? "burst load" : $"open-loop rates {string.Join(", ", r.Rates.Select(x => x.ToString(CultureInfo.InvariantCulture)))} tx/s") + ".");
        md.AppendLine();
        md.AppendLine("| floor | value |");
        md.AppendLine("|---|---|");
        foreach (var (name, value) in FloorRows(r)) md.AppendLine($"| {name} | {value} |");
        md.AppendLine();
        md.AppendLine("| validators | load | offered tx/s | submitted tx/s | txs | committed | committed tx/s | finality p50 ms | p95 ms | max ms |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var run in r.Runs)
            foreach (var p in run.Phases)
                md.AppendLine($"| {run.Validators} | {p.Name} | {F(p.OfferedTxPerSecond, 1)} | {F(p.SubmittedTxPerSecond, 1)} | {p.Transactions} | {p.Committed} | {F(p.TxPerSecond, 1)} | {F(p.FinalityP50Ms, 0)} | {F(p.FinalityP95Ms, 0)} | {F(p.FinalityMaxMs, 0)} |");
        md.AppendLine();
        md.AppendLine("| validators | goal (issue 14) | bound | measured | bound value | measured ÷ bound | verdict |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var run in r.Runs)
            foreach (var g in run.Goals)
                md.AppendLine($"| {run.Validators} | {g.Goal} | {g.Formula} | {F(g.Measured, 1)} | {F(g.Bound, 1)} | {(g.Applies ? F(g.Ratio, 3) : "-")} | {g.Verdict} |");
        md.AppendLine();
        md.AppendLine("| validators | heights | highest round | p2p bytes per committed tx | mean tx size, B | " +
            string.Join(" | ", StageNames(r).Select(s => $"{s} ms")) + " |");
        md.AppendLine("|---|---|---|---|---|" + string.Concat(StageNames(r).Select(_ => "---|")));
        foreach (var run in r.Runs)
            md.AppendLine($"| {run.Validators} | {run.Heights} | {run.MaxRound} | {F(run.P2pBytesPerCommittedTx, 0)} | {F(run.MeanTransactionBytes, 0)} | " +
                string.Join(" | ", StageNames(r).Select(s => run.Stages.FirstOrDefault(x => x.Stage == s) is { } st ? F(st.MeanMs, 2) : "-")) + " |");
        md.AppendLine();
        md.AppendLine("Per load phase (each phase's own heights, from every node's metrics before and after it):");
        md.AppendLine();
        md.AppendLine("| validators | load | node-heights | p2p bytes per committed tx | " + string.Join(" | ", StageNames(r).Select(s => $"{s} ms")) + " |");
        md.AppendLine("|---|---|---|---|" + string.Concat(StageNames(r).Select(_ => "---|")));
        foreach (var run in r.Runs)
            foreach (var p in run.Phases)
                md.AppendLine($"| {run.Validators} | {p.Name} | {PhaseHeights(p)} | {F(p.P2pBytesPerCommittedTx, 0)} | " + string.Join(" | ", PhaseStageCells(r, p)) + " |");
        md.AppendLine();
        if (Channels(r).Count > 0)
        {
            md.AppendLine("| validators | " + string.Join(" | ", Channels(r).Select(c => $"{c} B/tx")) + " |");
            md.AppendLine("|---|" + string.Concat(Channels(r).Select(_ => "---|")));
            foreach (var run in r.Runs)
                md.AppendLine($"| {run.Validators} | " + string.Join(" | ", Channels(r).Select(c => run.P2pBytesPerCommittedTxByChannel.TryGetValue(c, out var b) ? F(b, 0) : "-")) + " |");
            md.AppendLine();
        }
        md.AppendLine($"![committed tx/s and finality against offered load, one line per validator count]({ChartFile})");
        return md.ToString();
    }

    // The P2P channels any run sent bytes on.
    private static List<string> Channels(BenchNetworkReport r) =>
        [.. r.Runs.SelectMany(run => run.P2pBytesPerCommittedTxByChannel.Where(c => c.Value > 0).Select(c => c.Key)).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Left: committed tx/s against offered load; right: finality p50 (solid) and p95 (dashed); one colour per validator count.</summary>
    public static void WriteChart(BenchNetworkReport report, string path)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Plot throughput = multiplot.GetPlot(0), finality = multiplot.GetPlot(1);
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < report.Runs.Count; i++)
        {
            var run = report.Runs[i];
            var colour = palette.GetColor(i);
            var phases = run.Phases.Where(p => double.IsFinite(p.OfferedTxPerSecond)).OrderBy(p => p.OfferedTxPerSecond).ToArray();
            double[] offered = [.. phases.Select(p => p.OfferedTxPerSecond)];
            var tps = throughput.Add.Scatter(offered, phases.Select(p => p.TxPerSecond).ToArray(), colour);
            tps.LegendText = $"{run.Validators} validators";
            var p50 = finality.Add.Scatter(offered, phases.Select(p => Finite(p.FinalityP50Ms)).ToArray(), colour);
            p50.LegendText = $"{run.Validators} validators p50";
            var p95 = finality.Add.Scatter(offered, phases.Select(p => Finite(p.FinalityP95Ms)).ToArray(), colour);
            p95.LegendText = $"{run.Validators} validators p95";
            p95.LinePattern = LinePattern.Dashed;
        }
        // The line every point would sit on if the network kept up with what it was offered.
        double most = report.Runs.SelectMany(r => r.Phases).Select(p => p.OfferedTxPerSecond).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        var keptUp = throughput.Add.Line(0, 0, most, most);
        keptUp.LineColor = Colors.Gray;
        keptUp.LinePattern = LinePattern.Dotted;
        keptUp.LegendText = "committed = offered";
        throughput.Title($"committed tx/s (mix {report.Mix})");
        throughput.XLabel("offered load, tx/s (light, then burst or open-loop rates)");
        throughput.YLabel("committed tx/s");
        throughput.ShowLegend(Alignment.UpperLeft);
        finality.Title("finality, submit → committed");
        finality.XLabel("offered load, tx/s");
        finality.YLabel("ms");
        finality.ShowLegend(Alignment.UpperLeft);
        multiplot.SavePng(path, 1400, 600);
    }

    private static IEnumerable<(string Name, string Value)> FloorRows(BenchNetworkReport r)
    {
        var f = r.Floor;
        yield return ("cores (shared by every node and the client)", f.Cores.ToString());
        yield return ("fsync 4 KiB p50", $"{f.FsyncP50Ms:F3} ms");
        yield return ("loopback TCP RTT p50", $"{f.LoopbackRttP50Ms:F3} ms");
        yield return ("Ed25519 verify, 1 core", $"{f.VerifyPerSecondOneCore:N0} /s ({f.VerifyMs * 1000:F1} µs each)");
        yield return ($"Ed25519 verify, {f.Cores} cores", $"{f.VerifyPerSecondAllCores:N0} /s");
        yield return ("raw canonical inference, genesis MLP, p50", $"{f.InferenceP50Ms:F3} ms");
        yield return ("1-transfer block re-execution (bench execution)", $"{f.TransferBlockMs:F3} ms");
        yield return ("1-Infer block re-execution, cold executor (model load included)", $"{f.InferBlockColdMs:F3} ms");
        yield return ("1-Infer block re-execution, warm (admitted and pre-executed first)", $"{f.InferBlockWarmMs:F3} ms");
    }

    private static IReadOnlyList<string> StageNames(BenchNetworkReport r) =>
        [.. r.Runs.SelectMany(run => run.Stages.Concat(run.Phases.SelectMany(p => p.Stages)).Select(s => s.Stage)).Distinct()];

    private static string[] PhaseStageCells(BenchNetworkReport r, LoadPhase p) =>
        [.. StageNames(r).Select(s => p.Stages.FirstOrDefault(x => x.Stage == s) is { } st ? F(st.MeanMs, 2) : "-")];

    // Node-heights traced in the phase (heights × nodes): the "total" stage's count.
    private static string PhaseHeights(LoadPhase p) => p.Stages.FirstOrDefault(s => s.Stage == "total")?.Heights.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    private static string F(double value, int decimals) => double.IsFinite(value) ? value.ToString("N" + decimals, CultureInfo.InvariantCulture) : "-";
}
