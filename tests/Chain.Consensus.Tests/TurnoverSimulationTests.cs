using System.Collections.Concurrent;
using System.Diagnostics;
using Chain.Consensus.Simulation;
using Xunit.Abstractions;

namespace Chain.Consensus.Tests;

/// <summary>The simulator with a changing validator set (SimOptions.TurnoverEvery); seeds are printed on failure.</summary>
public sealed class TurnoverSimulationTests(ITestOutputHelper output)
{
    private static string Describe(SimResult r, SimOptions o) =>
        $"seed {r.Seed}: {string.Join("; ", r.Violations)}\n  replay: {o.ReplayCommand(r.Seed)}";

    private static List<SimResult> RunSeeds(SimOptions o, ulong first, int count)
    {
        var results = new ConcurrentBag<SimResult>();
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => results.Add(new Simulator(o, first + (ulong)i).Run()));
        return results.OrderBy(r => r.Seed).ToList();
    }

    [Fact]
    public void Turnover_CompleteSetChange_WithFaults_KeepsTheInvariants()
    {
        // 8 nodes; the set slides from nodes 0–3 to 4–7 one node every 2 heights (heights 1, 3, 5, 7, 9), with changing powers.
        var o = new SimOptions { Validators = 8, Heights = 11, Faults = Faults.All, TurnoverEvery = 2 };
        var sw = Stopwatch.StartNew();
        var results = RunSeeds(o, 1, 24);
        output.WriteLine($"24 seeds in {sw.Elapsed.TotalSeconds:F1}s; mean rounds/height {results.SelectMany(r => r.RoundsPerHeight).Average():F2}; " +
                         $"crashes {results.Sum(r => r.Crashes)}; byzantine {results.Sum(r => r.Byzantine)}; evidence {results.Sum(r => r.EvidenceRecorded)}, included {results.Sum(r => r.EvidenceIncluded)}");
        var failed = results.Where(r => !r.Ok).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed.Select(r => Describe(r, o))));
        foreach (var r in results)
        {
            Assert.Equal(11, r.HeightsCommitted);
            Assert.Equal(0, r.SignedOutsideSet);
            // A complete turnover: height 1 is decided by nodes 0–3 only, height 9 on by nodes 4–7 only.
            Assert.Equal([0, 1, 2, 3], r.SetMembers[0]);
            Assert.Equal([4, 5, 6, 7], r.SetMembers[8]);
            for (int h = 0; h < r.CommitSigners.Count; h++)
                Assert.True(r.CommitSigners[h].All(r.SetMembers[h].Contains), $"seed {r.Seed}: height {h + 1} signed by [{string.Join(",", r.CommitSigners[h])}], set [{string.Join(",", r.SetMembers[h])}]");
            Assert.Contains(r.CommitSigners[0], i => i < 4);
            Assert.All(r.CommitSigners[10], i => Assert.True(i >= 4));
        }
        Assert.True(results.Count(r => r.Byzantine > 0) > 5); // faults really happened
        Assert.True(results.Sum(r => r.Crashes) > 10);
    }

    [Fact]
    public void Turnover_NoFaults_EveryHeightInRoundZero()
    {
        var o = new SimOptions { Validators = 8, Heights = 11, Faults = Faults.None, TurnoverEvery = 2 };
        var r = new Simulator(o, 3).Run();
        Assert.True(r.Ok, Describe(r, o));
        Assert.All(r.RoundsPerHeight, x => Assert.Equal(1, x));
        Assert.Equal(Enumerable.Range(1, 11).Select(h => (h - 1) / 2).Select(step => Enumerable.Range(Math.Min(step, 4), 4)).Select(x => x.ToList()),
            r.SetMembers.Select(x => x.ToList()));
    }
}
