using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>`chain bench network` end to end (a child `chain` that starts its own node processes), and its refusals.</summary>
[Collection(ProcessCollection.Name)]
public sealed class BenchNetworkCommandTests(ITestOutputHelper output)
{
    [Fact]
    public void Bad_arguments_are_refused_with_a_message_and_nothing_starts()
    {
        foreach (var args in new[] { new[] { "--txs", "0" }, ["--validators", "0"], ["--min-block-interval-ms", "3000"] })
        {
            var outcome = CliHarness.Run(["bench", "network", .. args]);
            Assert.Equal(1, outcome.ExitCode);
            Assert.Contains(args[0], outcome.Error);
        }
    }

    [Fact]
    public async Task A_small_run_commits_every_transaction_and_writes_its_figures_and_ratios()
    {
        var json = Path.Combine(Path.GetTempPath(), $"chain-bench-network-{Guid.NewGuid():N}.json");
        var launcher = ProcessTestNetwork.Launcher();
        var start = new ProcessStartInfo(launcher.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in launcher.LeadingArguments.Concat(["bench", "network", "--validators", "4", "--txs", "40", "--json", json])) start.ArgumentList.Add(a);
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
            output.WriteLine(await stdout);
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var r = doc.RootElement;
            Assert.Equal(40, r.GetProperty("committed").GetInt32());
            foreach (var figure in new[] { "tx_per_second", "finality_p50_ms", "fsync_p50_ms", "loopback_rtt_p50_ms", "verify_per_second", "finality_over_floor", "tx_per_second_over_verify_limit" })
                Assert.True(r.GetProperty(figure).GetDouble() > 0, $"{figure} is not positive");
            Assert.True(r.GetProperty("finality_p95_ms").GetDouble() >= r.GetProperty("finality_p50_ms").GetDouble());
            // Every millisecond attributed: the traced stages from every node's /metrics, and the bytes per committed tx.
            var stages = r.GetProperty("stages").EnumerateArray().Select(e => e.GetProperty("stage").GetString()).ToList();
            foreach (var stage in new[] { "build", "propose", "verify", "prevote", "precommit", "commit", "apply", "total" })
                Assert.Contains(stage, stages);
            Assert.True(r.GetProperty("p2p_bytes_per_committed_tx").GetDouble() > 0);
        }
        finally
        {
            File.Delete(json);
        }
    }
}
