using System.Text.Json;
using Chain.Cli.Commands;

namespace Chain.Cli.Tests;

/// <summary>
/// Issue 14's goal formulas and the report files, on figures written out here (no network runs): each bound is
/// computed by hand beside the code's, so a changed formula fails.
/// </summary>
public sealed class BenchNetworkReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-bench-network-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // 2 cores; RTT 0.1 ms, fsync 1 ms; 10,000 verifies/s on one core (0.1 ms), 16,000 on both; inference 0.4 ms;
    // a 1-transfer block 0.3 ms, a 1-Infer block 9 ms cold (model load), 0.5 ms warm (cached).
    private static readonly BenchFloor Floor = new(2, 1.0, 0.1, 10_000, 16_000, 0.4, 0.3, 9.0, 0.5);

    private static NetworkRun Run(int validators, double saturatedTps, double lightP50, double saturatedP95, double bytesPerTx) => new(validators,
        [
            new LoadPhase(BenchNetworkGoals.LightPhase, 5, 5, 5, 5, 1, 5, lightP50, lightP50 * 2, lightP50 * 2, 0),
            new LoadPhase("rate 100", 100, 100, 200, 200, 2, 100, 300, 600, 700, 0),
            new LoadPhase("rate 400", 400, 350, 200, 200, 0.6, saturatedTps, 500, saturatedP95, saturatedP95 + 10, 0),
        ],
        40, 0, [new StageFigure("total", 120, 160)], bytesPerTx, 150);

    [Fact]
    public void Transfer_goals_use_all_core_verifies_light_p50_the_highest_rate_and_tx_copies()
    {
        var run = Run(4, saturatedTps: 2_100, lightP50: 90, saturatedP95: 1_200, bytesPerTx: 600);
        var goals = BenchNetworkGoals.For(BenchMix.Transfers, run, Floor).ToDictionary(g => g.Goal);

        var transfers = goals["transfers tx/s"];
        Assert.Equal(0.5 * 16_000 / 4, transfers.Bound, 9); // 2,000
        Assert.Equal(2_100, transfers.Measured);
        Assert.Equal("PASS", transfers.Verdict);

        Assert.Equal("n/a", goals["infer tx/s"].Verdict); // not an Infer run

        var light = goals["finality p50 at light load, ms"];
        Assert.Equal(10 * (3 * 0.1 + 2 * 1.0 + 0.3), light.Bound, 9); // 26 ms: the 1-transfer block
        Assert.Equal("MISS", light.Verdict);

        var p95 = goals["finality p95 at saturation, ms"];
        Assert.Equal(1_200, p95.Measured); // from "rate 400", the heaviest phase
        Assert.Equal("MISS", p95.Verdict);

        var bytes = goals["p2p bytes per committed tx"];
        Assert.Equal(1.5 * 3 * 150, bytes.Bound, 9); // 675
        Assert.Equal("PASS", bytes.Verdict);
    }

    [Fact]
    public void Infer_goal_divides_the_cores_per_validator_by_one_verify_plus_one_inference()
    {
        var run = Run(4, saturatedTps: 900, lightP50: 30, saturatedP95: 800, bytesPerTx: 700);
        var goals = BenchNetworkGoals.For(BenchMix.Infer, run, Floor).ToDictionary(g => g.Goal);
        var infer = goals["infer tx/s"];
        Assert.Equal(0.5 * (2.0 / 4) / ((0.1 + 0.4) / 1000), infer.Bound, 6); // 500 tx/s
        Assert.Equal("PASS", infer.Verdict);
        Assert.Equal("n/a", goals["transfers tx/s"].Verdict);
        Assert.Equal(10 * (3 * 0.1 + 2 * 1.0 + 0.5 + 0.4), goals["finality p50 at light load, ms"].Bound, 9); // 32 ms: the warm 1-Infer block + one inference
        Assert.Equal("PASS", goals["finality p50 at light load, ms"].Verdict);
        Assert.Equal("PASS", goals["finality p95 at saturation, ms"].Verdict);
        Assert.Equal("MISS", goals["p2p bytes per committed tx"].Verdict);
    }

    [Fact]
    public void Report_folder_holds_json_markdown_with_the_ratios_and_a_png_chart()
    {
        var runs = new[] { 4, 7 }.Select(v =>
        {
            var run = Run(v, 1_000, 80, 900, 500);
            return run with { Goals = BenchNetworkGoals.For(BenchMix.Mixed, run, Floor) };
        }).ToArray();
        var report = new BenchNetworkReport("mixed", [100, 400], 200, 100, "test (2 cpus)", Floor, runs);
        BenchNetworkReportWriter.WriteAll(report, _dir);

        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, BenchNetworkReportWriter.JsonFile))).RootElement;
        Assert.Equal(2, json.GetProperty("runs").GetArrayLength());
        Assert.Equal(16_000, json.GetProperty("floor").GetProperty("verify_per_second_all_cores").GetDouble());
        var goals = json.GetProperty("runs")[1].GetProperty("goals").EnumerateArray().ToArray();
        Assert.Equal(5, goals.Length);
        Assert.Equal(7, json.GetProperty("runs")[1].GetProperty("validators").GetInt32());

        var md = File.ReadAllText(Path.Combine(_dir, BenchNetworkReportWriter.MarkdownFile));
        Assert.Contains("| 7 | rate 400 | 400.0 | 350.0 | 200 | 200 | 1,000.0 | 500 | 900 |", md);
        Assert.Contains("| 7 | p2p bytes per committed tx | ≤ 1.5 × (validators − 1) × tx size | 500.0 | 1,350.0 | 0.370 | PASS |", md);
        Assert.Contains("| 4 | transfers tx/s |", md);

        var png = File.ReadAllBytes(Path.Combine(_dir, BenchNetworkReportWriter.ChartFile));
        Assert.True(png.Length > 10_000, $"chart.png is only {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public void A_phase_costs_the_difference_of_the_metrics_before_and_after_it()
    {
        var before = new NodeMetricsSnapshot(
            new Dictionary<string, (double Seconds, long Count)> { ["build"] = (1.0, 100), ["total"] = (20.0, 100) },
            1_000_000, new Dictionary<string, long> { ["consensus"] = 400_000, ["transactions"] = 600_000 }, 0.5);
        var after = new NodeMetricsSnapshot(
            new Dictionary<string, (double Seconds, long Count)> { ["build"] = (1.4, 180), ["total"] = (21.6, 180), ["commit"] = (0.2, 80) },
            1_300_000, new Dictionary<string, long> { ["consensus"] = 450_000, ["transactions"] = 850_000, ["status"] = 1_000 }, 0.58);

        var phase = after.Since(before);
        var stages = phase.Stages().ToDictionary(s => s.Stage);
        Assert.Equal(["build", "commit", "total", "loop blocked on verify"], phase.Stages().Select(s => s.Stage)); // a height's order
        Assert.Equal(0.4 * 1000 / 80, stages["build"].MeanMs, 9); // 5 ms over the 80 node-heights of the phase, not 1.4 s / 180
        Assert.Equal(80, stages["build"].Heights);
        Assert.Equal(1.6 * 1000 / 80, stages["total"].MeanMs, 9);
        Assert.Equal(0.2 * 1000 / 80, stages["commit"].MeanMs, 9); // a stage first traced in the phase
        Assert.Equal(0.08 * 1000 / 80, stages["loop blocked on verify"].MeanMs, 9);

        var (all, byChannel) = phase.BytesPerCommitted(committed: 500);
        Assert.Equal(300_000 / 500.0, all, 9);
        Assert.Equal(50_000 / 500.0, byChannel["consensus"], 9);
        Assert.Equal(250_000 / 500.0, byChannel["transactions"], 9);
        Assert.Equal(1_000 / 500.0, byChannel["status"], 9);
        Assert.True(double.IsNaN(phase.BytesPerCommitted(committed: 0).All));
    }

    [Fact]
    public void The_report_attributes_each_phases_heights_to_stages()
    {
        var run = Run(4, 1_000, 80, 900, 500);
        run = run with
        {
            Phases = [.. run.Phases.Select((p, i) => p with
            {
                Stages = [new StageFigure("build", 1 + i, 40 * (i + 1)), new StageFigure("total", 10 + i, 40 * (i + 1))],
                P2pBytesPerCommittedTx = 600 + i,
            })],
        };
        var report = new BenchNetworkReport("transfers", [100, 400], 200, 100, "test (2 cpus)", Floor, [run with { Goals = BenchNetworkGoals.For(BenchMix.Transfers, run, Floor) }]);
        var md = BenchNetworkReportWriter.ToMarkdown(report);
        Assert.Contains("| validators | load | node-heights | p2p bytes per committed tx | total ms | build ms |", md);
        Assert.Contains("| 4 | light | 40 | 600 | 10.00 | 1.00 |", md);
        Assert.Contains("| 4 | rate 400 | 120 | 602 | 12.00 | 3.00 |", md);
        var console = new StringWriter();
        BenchNetworkReportWriter.Print(report, console);
        Assert.Contains("node-heights", console.ToString());
    }

    [Fact]
    public void Console_output_prints_the_scaling_table_and_every_goal_with_its_verdict()
    {
        var run = Run(4, 1_000, 80, 900, 500);
        var report = new BenchNetworkReport("transfers", [], 200, 100, "test (2 cpus)", Floor, [run with { Goals = BenchNetworkGoals.For(BenchMix.Transfers, run, Floor) }]);
        var output = new StringWriter();
        BenchNetworkReportWriter.Print(report, output);
        var text = output.ToString();
        foreach (var expected in new[] { "committed tx/s", "finality p50 ms", "rate 400", "loopback TCP RTT p50", "Ed25519 verify, 2 cores",
                     "transfers tx/s", "infer tx/s", "finality p50 at light load", "finality p95 at saturation", "p2p bytes per committed tx", "goals: 2 PASS, 2 MISS" })
            Assert.Contains(expected, text);
    }
}
