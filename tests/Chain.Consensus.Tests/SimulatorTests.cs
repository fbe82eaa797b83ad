using System.Collections.Concurrent;
using System.Diagnostics;
using Chain.Consensus.Simulation;
using Xunit.Abstractions;

namespace Chain.Consensus.Tests;

public sealed class SimulatorTests(ITestOutputHelper output)
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
    public void NoFaults_CommitsEveryHeightInRoundZero()
    {
        var o = new SimOptions { Faults = Faults.None, Heights = 5 };
        var r = new Simulator(o, 1).Run();
        Assert.True(r.Ok, Describe(r, o));
        Assert.Equal(5, r.HeightsCommitted);
        Assert.All(r.RoundsPerHeight, x => Assert.Equal(1, x));
        Assert.Equal(0, r.Byzantine);
    }

    [Fact]
    public void TwoHundredSeeds_AllFaults_NoViolations()
    {
        var o = new SimOptions { Faults = Faults.All, Heights = 5 };
        var sw = Stopwatch.StartNew();
        var results = RunSeeds(o, 1, 200);
        var failed = results.Where(r => !r.Ok).ToList();
        output.WriteLine($"200 seeds in {sw.Elapsed.TotalSeconds:F1}s; mean rounds/height {results.SelectMany(r => r.RoundsPerHeight).Average():F2}; " +
                         $"messages/height {results.Average(r => r.Messages / 5.0):F0}; crashes {results.Sum(r => r.Crashes)}; " +
                         $"torn WAL tails cut {results.Sum(r => r.WalTailsTruncated)}; garbage refused {results.Sum(r => r.GarbageRefused)}; evidence {results.Sum(r => r.EvidenceRecorded)}, included {results.Sum(r => r.EvidenceIncluded)}");
        Assert.True(failed.Count == 0, string.Join("\n", failed.Select(r => Describe(r, o))));
        Assert.All(results, r => Assert.Equal(5, r.HeightsCommitted));
        // The faults really happened: otherwise this test would pass vacuously.
        Assert.True(results.Sum(r => r.Crashes) > 100);
        Assert.True(results.Sum(r => r.WalTailsTruncated) > 10);
        Assert.True(results.Sum(r => r.GarbageRefused) > 100);
        Assert.True(results.Count(r => r.Byzantine > 0) > 150);
        Assert.True(results.Sum(r => r.EvidenceRecorded) > 100);
        // Evidence reaches blocks (each included item is checked to name a byzantine validator).
        Assert.True(results.Sum(r => r.EvidenceIncluded) > 100);
        Assert.True(results.Count(r => r.RoundsPerHeight.Any(x => x > 1)) > 100);
    }

    [Fact]
    public void SameSeed_ReplaysExactly()
    {
        var o = new SimOptions { Faults = Faults.All, Heights = 4 };
        var a = new Simulator(o, 77).Run();
        var b = new Simulator(o, 77).Run();
        var c = new Simulator(o, 78).Run();
        Assert.Equal(a.TraceHash, b.TraceHash);
        Assert.Equal(a.Messages, b.Messages);
        Assert.Equal(a.RoundsPerHeight, b.RoundsPerHeight);
        Assert.Equal(a.VirtualTimeMs, b.VirtualTimeMs);
        Assert.NotEqual(a.TraceHash, c.TraceHash);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(10)]
    public void OtherValidatorCounts(int n)
    {
        var o = new SimOptions { Faults = Faults.All, Heights = 3, Validators = n };
        var results = RunSeeds(o, 1000, 10);
        var failed = results.Where(r => !r.Ok).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed.Select(r => Describe(r, o))));
    }

    [Fact]
    public void EachFaultAlone()
    {
        foreach (var name in FaultNames.All)
        {
            var o = new SimOptions { Faults = FaultNames.Parse(name), Heights = 3 };
            var failed = RunSeeds(o, 500, 8).Where(r => !r.Ok).ToList();
            Assert.True(failed.Count == 0, name + ": " + string.Join("\n", failed.Select(r => Describe(r, o))));
        }
    }

    /// <summary>
    /// Crash validator 0 right after each of its first disk writes (WAL records and signer-state writes),
    /// restart it from what was durable, and check it never double-signs and still reaches the target height.
    /// </summary>
    [Fact]
    public void CrashAfterEveryWrite_NeverDoubleSignsAndRejoins()
    {
        var baseline = new SimOptions { Faults = Faults.None, Heights = 3, WeightedPower = false };
        int writes = 0;
        for (int k = 1; k <= 400; k++)
        {
            var o = baseline with { CrashAtWrite = (0, k) };
            var r = new Simulator(o, 5).Run();
            Assert.True(r.Ok, $"crash after write {k}: " + Describe(r, o));
            Assert.Equal(3, r.HeightsCommitted);
            if (r.Crashes == 0) { writes = k - 1; break; } // past the last write of the run
            Assert.Equal(1, r.Crashes);
        }
        output.WriteLine($"crashed after each of {writes} writes");
        Assert.True(writes > 20, $"only {writes} writes were exercised");
    }

    /// <summary>The same sweep with reordered, duplicated messages and a byzantine-free weighted set.</summary>
    [Fact]
    public void CrashAfterEveryWrite_UnderDelayAndDuplicates()
    {
        var baseline = new SimOptions { Faults = Faults.Delay | Faults.Duplicate, Heights = 3, MinGstMs = 3000, MaxGstMs = 6000 };
        int crashed = 0;
        for (int k = 1; k <= 120; k++)
        {
            var o = baseline with { CrashAtWrite = (1, k) };
            var r = new Simulator(o, 11).Run();
            Assert.True(r.Ok, $"crash after write {k}: " + Describe(r, o));
            if (r.Crashes == 0) break;
            crashed++;
        }
        output.WriteLine($"crashed after each of {crashed} writes");
        Assert.True(crashed > 20, $"only {crashed} writes were exercised");
    }
}

public sealed class SimulatorCheckerTests
{
    /// <summary>
    /// Beyond the fault model (half the validators equivocating) agreement can break. The simulator must
    /// notice: this guards against invariant checks that silently check nothing.
    /// </summary>
    [Fact]
    public void HalfByzantine_EquivocatorsBreakAgreement_AndTheCheckerSeesIt()
    {
        var o = new SimOptions { Faults = Faults.Equivocate, Heights = 5, WeightedPower = false, ForceByzantine = 2, MinGstMs = 0, MaxGstMs = 1 };
        var violations = Enumerable.Range(1, 60).Select(s => new Simulator(o, (ulong)s).Run()).SelectMany(r => r.Violations).ToList();
        Assert.Contains(violations, v => v.Contains("agreement", StringComparison.Ordinal));
    }

    [Fact]
    public void FaultNames_ParseAndFormat()
    {
        Assert.Equal(Faults.All, FaultNames.Parse("all"));
        Assert.Equal(Faults.None, FaultNames.Parse("none"));
        Assert.Equal(Faults.Drop | Faults.Crash, FaultNames.Parse("drop, crash"));
        Assert.Equal("drop,crash", FaultNames.Format(Faults.Drop | Faults.Crash));
        Assert.Throws<FormatException>(() => FaultNames.Parse("drop,meteor"));
        Assert.Equal("chain simulate --validators 4 --heights 5 --faults all --seed 12", new SimOptions().ReplayCommand(12));
    }
}
