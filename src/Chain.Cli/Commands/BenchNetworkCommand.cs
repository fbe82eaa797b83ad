using System.CommandLine;
using System.Globalization;
using Chain.Inference.Runtime;
using Chain.Rpc;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain bench network`: loopback networks of `chain start` processes, one per validator count, each under a light
/// load, then a burst or open-loop rates: committed tx/s, finality and bytes per transaction, beside their floor
/// measured in the same run (<see cref="BenchNetworkFloor"/>) and issue 14's goals (<see cref="BenchNetworkGoals"/>).
/// </summary>
internal static class BenchNetworkCommand
{
    public static Command Create()
    {
        var validators = new Option<string>("--validators") { Description = "Validator counts, comma-separated: one network each (e.g. 4,7,10)", DefaultValueFactory = _ => "4" };
        var mix = new Option<string>("--mix") { Description = "transfers, infer (genesis MLP) or mixed (3 Infer : 1 transfer)", DefaultValueFactory = _ => "mixed" };
        var rate = new Option<string?>("--rate") { Description = "Open-loop offered load in tx/s, comma-separated (one phase each); without it one burst" };
        var txs = new Option<int>("--txs") { Description = "Transactions per load phase", DefaultValueFactory = _ => 500 };
        var interval = new Option<ulong>("--min-block-interval-ms") { Description = "consensus.min_block_interval_ms of every node", DefaultValueFactory = _ => 100 };
        var batch = new Option<int>("--batch")
        {
            Description = "At most this many of a signer's transactions per POST /txs/batch (burst: that many at a time; open loop: those due; 1 = one POST /txs each)",
            DefaultValueFactory = _ => 64,
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Transactions burst through each network before the measured phases, not measured (fresh processes compile their hot paths first)",
            DefaultValueFactory = _ => 10_000,
        };
        var json = new Option<string?>("--json") { Description = "Write the figures as JSON to this file" };
        var report = new Option<string?>("--report") { Description = "Write report.json, report.md and chart.png into this folder" };
        var command = new Command("network", "Committed tx/s and finality of loopback networks of `chain start` processes vs their floor and issue 14's goals")
        {
            validators, mix, rate, txs, interval, batch, warmup, json, report,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var counts = ParseValidators(result.GetValue(validators)!);
            var kind = ParseMix(result.GetValue(mix)!);
            var rates = ParseRates(result.GetValue(rate));
            int n = result.GetValue(txs);
            ulong minInterval = result.GetValue(interval);
            if (n is < 1 or > 20_000) throw new CliException("--txs must be 1..20000");
            if (minInterval is < 1 or >= 3000) throw new CliException("--min-block-interval-ms must be 1..2999 (below timeout_propose_ms, 3000)");
            int batchSize = result.GetValue(batch);
            if (batchSize is < 1 or > 256) throw new CliException("--batch must be 1..256 (a node's max_batch_transactions)");
            int warm = result.GetValue(warmup);
            if (warm is < 0 or > 20_000) throw new CliException("--warmup must be 0..20000");
            BenchNetworkReport figures;
            try
            {
                figures = RunAsync(counts, kind, rates, n, minInterval, batchSize, warm, output).GetAwaiter().GetResult();
            }
            catch (RpcClientException e)
            {
                throw new CliException($"a node refused or did not answer: {e.Message}");
            }
            BenchNetworkReportWriter.Print(figures, output);
            if (result.GetValue(json) is { } file) OutputFiles.WriteText(file, BenchNetworkReportWriter.ToJson(figures));
            if (result.GetValue(report) is { } dir)
            {
                BenchNetworkReportWriter.WriteAll(figures, dir);
                output.WriteLine($"report written to {Path.GetFullPath(dir)} ({BenchNetworkReportWriter.MarkdownFile}, {BenchNetworkReportWriter.JsonFile}, {BenchNetworkReportWriter.ChartFile})");
            }
            return figures.AllCommitted ? 0 : 1;
        }));
        return command;
    }

    /// <summary>"4,7,10" → [4, 7, 10]: each 1..16, no repeats.</summary>
    public static IReadOnlyList<int> ParseValidators(string text)
    {
        var counts = ParseList<int>(text, "--validators", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is >= 1 and <= 16 ? v : null,
            "counts 1..16, e.g. 4,7,10");
        if (counts.Distinct().Count() != counts.Count) throw new CliException($"--validators lists a count twice: {text}");
        return counts;
    }

    /// <summary>"50,200" → [50, 200] tx/s, ascending; null → [] (one burst).</summary>
    public static IReadOnlyList<double> ParseRates(string? text)
    {
        if (text is null) return [];
        var rates = ParseList<double>(text, "--rate",
            s => double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var r) && r is >= 0.1 and <= 100_000 ? r : null,
            "offered loads in tx/s, 0.1..100000, e.g. 50,200");
        if (rates.Distinct().Count() != rates.Count) throw new CliException($"--rate lists a rate twice: {text}");
        return [.. rates.Order()];
    }

    public static BenchMix ParseMix(string text) => text switch
    {
        "transfers" => BenchMix.Transfers,
        "infer" => BenchMix.Infer,
        "mixed" => BenchMix.Mixed,
        _ => throw new CliException($"--mix must be transfers, infer or mixed, not \"{text}\""),
    };

    private static List<T> ParseList<T>(string text, string option, Func<string, T?> parse, string expected) where T : struct
    {
        var items = text.Split(',');
        var values = new List<T>(items.Length);
        foreach (var item in items)
            values.Add(parse(item.Trim()) ?? throw new CliException($"{option} must be a comma-separated list of {expected}; \"{item.Trim()}\" is not one"));
        return values;
    }

    private static async Task<BenchNetworkReport> RunAsync(IReadOnlyList<int> counts, BenchMix mix, IReadOnlyList<double> rates, int perPhase, ulong minInterval, int batchSize, int warm,
        TextWriter output)
    {
        var modelsDir = HomeCommands.RepositoryModelsDirectory();
        var models = GenesisModels.Load(modelsDir);
        var digits = GenesisModels.LoadTestDigits(modelsDir);
        var genesis = HomeCommands.RepositoryGenesis();
        var directory = Path.Combine(Path.GetTempPath(), $"chain-bench-network-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            // The floor first, on an idle machine, on the disk the nodes will write to.
            output.WriteLine("measuring the floor: fsync, loopback round trip, Ed25519 verify (1 and all cores), MLP inference, 1-tx block execution ...");
            var floor = await BenchNetworkFloor.MeasureAsync(directory, genesis.ChainId, models.Single(m => m.File == "mlp.onnx"), digits);
            var runner = new BenchNetworkRunner(mix, rates, perPhase, minInterval, batchSize, warm, output);
            var runs = new List<NetworkRun>();
            foreach (int v in counts)
            {
                var run = await runner.RunAsync(Path.Combine(directory, $"net-{v}"), v, genesis, models, digits);
                runs.Add(run with { Goals = BenchNetworkGoals.For(mix, run, floor) });
            }
            return new BenchNetworkReport(mix.ToString().ToLowerInvariant(), rates, perPhase, minInterval,
                $"{Environment.MachineName} ({Environment.ProcessorCount} cpus)", floor, runs) { Batch = batchSize, Warmup = warm };
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException e)
            {
                output.WriteLine($"could not delete {directory}: {e.Message}");
            }
        }
    }
}
