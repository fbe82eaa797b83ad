using System.Diagnostics;
using System.Text.Json;
using Chain.Cli.Commands;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>`chain bench network` end to end (a child `chain` that starts its own node processes); its refusals are in BenchNetworkArgumentTests.</summary>
[Collection(ProcessCollection.Name)]
public sealed class BenchNetworkCommandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_small_transfer_run_commits_every_transaction_and_prints_and_writes_its_figures_and_goal_ratios()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"chain-bench-network-{Guid.NewGuid():N}");
        var json = Path.Combine(dir, "report.json");
        var launcher = ProcessTestNetwork.Launcher();
        var start = new ProcessStartInfo(launcher.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in launcher.LeadingArguments.Concat(["bench", "network", "--validators", "4", "--txs", "40", "--warmup", "40", "--mix", "transfers", "--report", dir])) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start chain");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(180));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new Xunit.Sdk.XunitException($"chain bench network ran over 180 s:\n{await stdout}\n{await stderr}");
            }
            var printed = await stdout;
            output.WriteLine(printed);
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
            foreach (var line in new[] { "committed tx/s", "finality p50 ms", "light", "burst", "Ed25519 verify, 1 core", "raw canonical inference",
                         "transfers tx/s", "finality p50 at light load", "finality p95 at saturation", "p2p bytes per committed tx", "goals: " })
                Assert.Contains(line, printed);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var floor = doc.RootElement.GetProperty("floor");
            foreach (var figure in new[] { "fsync_p50_ms", "loopback_rtt_p50_ms", "verify_per_second_one_core", "verify_per_second_all_cores", "inference_p50_ms", "transfer_block_ms", "infer_block_cold_ms", "infer_block_warm_ms" })
                Assert.True(floor.GetProperty(figure).GetDouble() > 0, $"{figure} is not positive");
            var run = doc.RootElement.GetProperty("runs").EnumerateArray().Single();
            var phases = run.GetProperty("phases").EnumerateArray().ToArray();
            Assert.Equal(["light", "burst"], phases.Select(p => p.GetProperty("name").GetString()));
            Assert.Equal(BenchNetworkRunner.LightTransactions, phases[0].GetProperty("committed").GetInt32());
            Assert.Equal(64, doc.RootElement.GetProperty("batch").GetInt32());
            Assert.Equal(40, doc.RootElement.GetProperty("warmup").GetInt32());
            Assert.Equal(40, phases[1].GetProperty("committed").GetInt32());
            foreach (var phase in phases)
            {
                Assert.True(phase.GetProperty("tx_per_second").GetDouble() > 0);
                Assert.True(phase.GetProperty("finality_p95_ms").GetDouble() >= phase.GetProperty("finality_p50_ms").GetDouble());
            }
            // Every millisecond attributed: the traced stages from every node's /metrics, and the bytes per committed tx.
            var stages = run.GetProperty("stages").EnumerateArray().Select(e => e.GetProperty("stage").GetString()).ToList();
            foreach (var stage in new[] { "build", "propose", "verify", "prevote", "precommit", "commit", "apply", "total" })
                Assert.Contains(stage, stages);
            Assert.True(run.GetProperty("p2p_bytes_per_committed_tx").GetDouble() > 0);
            // The transfer goal applies to a transfer run, the Infer goal does not; every applicable ratio is a number.
            var goals = run.GetProperty("goals").EnumerateArray().ToDictionary(g => g.GetProperty("goal").GetString()!);
            Assert.Equal(5, goals.Count);
            Assert.True(goals["transfers tx/s"].GetProperty("applies").GetBoolean());
            Assert.False(goals["infer tx/s"].GetProperty("applies").GetBoolean());
            Assert.True(goals["finality p50 at light load, ms"].GetProperty("ratio").GetDouble() > 0);
            Assert.True(File.Exists(Path.Combine(dir, "chart.png")) && File.Exists(Path.Combine(dir, "report.md")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
