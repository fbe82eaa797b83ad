using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Chain.Consensus.Simulation;

namespace Chain.Cli.Commands;

/// <summary>`chain simulate`: runs the deterministic consensus simulator over many seeds and reports invariant violations.</summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var validators = new Option<int>("--validators") { Description = "Number of validators", DefaultValueFactory = _ => 4 };
        var seeds = new Option<int>("--seeds") { Description = "How many seeds to run (1, 2, ... unless --first-seed)", DefaultValueFactory = _ => 100 };
        var firstSeed = new Option<ulong>("--first-seed") { Description = "First seed of the range", DefaultValueFactory = _ => 1 };
        var heights = new Option<int>("--heights") { Description = "Heights every honest validator must commit", DefaultValueFactory = _ => 5 };
        var faults = new Option<string>("--faults")
        {
            Description = $"all, none, or a comma-separated list of: {string.Join(", ", FaultNames.All)}",
            DefaultValueFactory = _ => "all",
        };
        var seed = new Option<ulong?>("--seed") { Description = "Replay this one seed (overrides --seeds)" };
        var turnover = new Option<int>("--turnover-every")
        {
            Description = "Validator turnover: every this many heights the set slides by one node, from the first half of the nodes to the second (0: one set)",
            DefaultValueFactory = _ => 0,
        };
        var json = new Option<string?>("--json") { Description = "Also write per-seed results as JSON to this file" };
        var command = new Command("simulate", "Run the deterministic consensus simulator; exit 1 on any safety or liveness violation")
        {
            validators, seeds, firstSeed, heights, faults, seed, json, turnover,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int n = result.GetValue(validators);
            int h = result.GetValue(heights);
            if (n is < 1 or > 64) throw new CliException("--validators must be 1..64");
            if (h is < 1 or > 10_000) throw new CliException("--heights must be 1..10000");
            Faults f;
            try { f = FaultNames.Parse(result.GetValue(faults)!); }
            catch (FormatException e) { throw new CliException(e.Message); }
            int every = result.GetValue(turnover);
            if (every < 0 || (every > 0 && (n < 2 || n % 2 != 0))) throw new CliException("--turnover-every must be 0, or used with an even --validators of at least 2");
            var options = new SimOptions { Validators = n, Heights = h, Faults = f, TurnoverEvery = every };
            ulong first = result.GetValue(firstSeed);
            int count = result.GetValue(seeds);
            if (result.GetValue(seed) is { } one) { first = one; count = 1; }
            if (count < 1) throw new CliException("--seeds must be at least 1");

            var sw = Stopwatch.StartNew();
            var results = new SimResult[count];
            Parallel.For(0, count, i => results[i] = new Simulator(options, first + (ulong)i).Run());
            sw.Stop();
            Report(output, options, results, sw.Elapsed);
            if (result.GetValue(json) is { Length: > 0 } path) WriteJson(path, options, results, sw.Elapsed);
            return results.All(r => r.Ok) ? 0 : 1;
        }));
        return command;
    }

    private static void Report(TextWriter output, SimOptions o, SimResult[] results, TimeSpan wall)
    {
        var failed = results.Where(r => !r.Ok).ToList();
        var rounds = results.SelectMany(r => r.RoundsPerHeight).DefaultIfEmpty(0).ToList();
        output.WriteLine($"validators {o.Validators}{(o.TurnoverEvery > 0 ? $" (set slides every {o.TurnoverEvery} heights)" : "")}, heights {o.Heights}, faults {FaultNames.Format(o.Faults)}, seeds {results.Length} ({results[0].Seed}..{results[^1].Seed})");
        output.WriteLine($"violations:          {failed.Count} seed(s)");
        output.WriteLine($"heights committed:   min {results.Min(r => r.HeightsCommitted)}, mean {results.Average(r => r.HeightsCommitted):F2}");
        output.WriteLine($"rounds per height:   mean {rounds.Average():F2}, max {rounds.Max()}");
        output.WriteLine($"messages per height: mean {results.Average(r => (double)r.Messages / o.Heights):F0}");
        output.WriteLine($"virtual time:        mean {results.Average(r => (double)r.VirtualTimeMs) / 1000:F1}s, after GST mean {results.Average(r => (double)r.TimeAfterGstMs) / 1000:F1}s max {results.Max(r => r.TimeAfterGstMs) / 1000.0:F1}s");
        output.WriteLine($"faults seen:         {results.Sum(r => r.Crashes)} crashes, {results.Sum(r => r.WalTailsTruncated)} torn WAL tails cut, " +
                         $"{results.Sum(r => r.GarbageRefused)} garbage messages refused, {results.Sum(r => r.Rejected)} messages rejected, " +
                         $"{results.Sum(r => r.EvidenceRecorded)} evidence recorded, {results.Sum(r => r.EvidenceIncluded)} included in blocks, {results.Count(r => r.Byzantine > 0)} runs with byzantine validators");
        output.WriteLine($"wall time:           {wall.TotalSeconds:F1}s");
        foreach (var r in failed.Take(20))
        {
            output.WriteLine($"FAILED seed {r.Seed}:");
            foreach (var v in r.Violations) output.WriteLine($"  {v}");
            output.WriteLine($"  replay: {o.ReplayCommand(r.Seed)}");
        }
    }

    private static void WriteJson(string path, SimOptions o, SimResult[] results, TimeSpan wall)
    {
        var doc = new
        {
            validators = o.Validators,
            heights = o.Heights,
            faults = FaultNames.Format(o.Faults),
            seeds = results.Length,
            failed = results.Count(r => !r.Ok),
            wall_seconds = wall.TotalSeconds,
            results = results.Select(r => new
            {
                seed = r.Seed,
                ok = r.Ok,
                violations = r.Violations,
                heights_committed = r.HeightsCommitted,
                rounds_per_height = r.RoundsPerHeight,
                messages = r.Messages,
                virtual_ms = r.VirtualTimeMs,
                gst_ms = r.GstMs,
                after_gst_ms = r.TimeAfterGstMs,
                byzantine = r.Byzantine,
                crashes = r.Crashes,
                replay = o.ReplayCommand(r.Seed),
            }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }
}
