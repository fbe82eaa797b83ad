using Chain.Consensus.Simulation;
using Xunit.Abstractions;

namespace Chain.Consensus.Tests;

public sealed class SimulatorTests(ITestOutputHelper output)
{
    private static string Describe(SimResult r, SimOptions o) =>
        $"seed {r.Seed}: {string.Join("; ", r.Violations)}\n  replay: {o.ReplayCommand(r.Seed)}";

    [Fact]
    public void NoFaults_CommitsEveryHeightInRoundZero()
    {
        var o = new SimOptions { Faults = Faults.None, Heights = 5 };
        var r = new Simulator(o, 1).Run();
        Assert.True(r.Ok, Describe(r, o));
        Assert.Equal(5, r.HeightsCommitted);
        Assert.All(r.RoundsPerHeight, x => Assert.Equal(1, x));
    }

    [Fact]
    public void Smoke()
    {
        var o = new SimOptions { Faults = Faults.All, Heights = 5 };
        for (ulong s = 1; s <= 20; s++)
        {
            var r = new Simulator(o, s).Run();
            output.WriteLine($"seed {s}: ok={r.Ok} h={r.HeightsCommitted} rounds=[{string.Join(",", r.RoundsPerHeight)}] msgs={r.Messages} t={r.VirtualTimeMs} gst={r.GstMs} ev={r.Events} byz={r.Byzantine} crashes={r.Crashes} trunc={r.WalTailsTruncated} garbage={r.GarbageRefused} evid={r.EvidenceRecorded} {string.Join("; ", r.Violations)}");
        }
    }
}
