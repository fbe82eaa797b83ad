using Chain.Consensus;
using Chain.Core;
using Chain.Node.Host;

namespace Chain.Node.Tests;

public class RegossipScheduleTests
{
    private static readonly Height H = new(5);

    [Fact]
    public void Consensus_that_moves_is_never_regossiped()
    {
        var schedule = new RegossipSchedule(intervalMs: 500);
        var steps = new[] { Step.Propose, Step.Prevote, Step.Precommit };
        long now = 0;
        for (ulong h = 1; h <= 50; h++)
            foreach (var step in steps)
            {
                now += 400; // each step lasts less than the interval
                Assert.False(schedule.Due(new Height(h), new Round(0), step, now), $"height {h} step {step} at {now} ms");
            }
    }

    [Fact]
    public void A_stall_is_regossiped_after_one_interval_and_then_every_interval()
    {
        var schedule = new RegossipSchedule(intervalMs: 500);
        Assert.False(schedule.Due(H, new Round(0), Step.Prevote, 1_000)); // the step began here
        Assert.False(schedule.Due(H, new Round(0), Step.Prevote, 1_499));
        Assert.True(schedule.Due(H, new Round(0), Step.Prevote, 1_500));
        Assert.False(schedule.Due(H, new Round(0), Step.Prevote, 1_999));
        Assert.True(schedule.Due(H, new Round(0), Step.Prevote, 2_000));
    }

    [Fact]
    public void A_new_round_or_step_restarts_the_wait()
    {
        var schedule = new RegossipSchedule(intervalMs: 500);
        Assert.False(schedule.Due(H, new Round(0), Step.Precommit, 0));
        Assert.False(schedule.Due(H, new Round(1), Step.Propose, 450)); // a round change is movement
        Assert.False(schedule.Due(H, new Round(1), Step.Propose, 900));
        Assert.True(schedule.Due(H, new Round(1), Step.Propose, 950));
    }
}
