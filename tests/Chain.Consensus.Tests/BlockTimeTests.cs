using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

/// <summary>The block-time bound on line 22: a fresh proposal from a fast clock gets nil; within the drift it gets the block.</summary>
public class BlockTimeTests
{
    private static Block BlockAt(Harness h, uint round, ulong timeMs) =>
        h.App.BuildBlock(new Height(1), new Round(round), h.Keys[h.ProposerIndex(round)].Address, timeMs);

    [Fact]
    public void A_fresh_proposal_ahead_of_the_clock_by_more_than_the_drift_gets_nil()
    {
        var h = new Harness();
        h.Start();
        ulong drift = h.Config.MaxClockDriftMs;
        var ahead = BlockAt(h, 0, h.Now + drift + 1);
        Assert.Null(Harness.Voted(h.Propose(0, ahead), VoteType.Prevote)!.Vote.BlockHash);
    }

    [Fact]
    public void A_proposal_within_the_drift_gets_the_block()
    {
        var h = new Harness();
        h.Start();
        var edge = BlockAt(h, 0, h.Now + h.Config.MaxClockDriftMs);
        Assert.Equal(edge.Hash, Harness.Voted(h.Propose(0, edge), VoteType.Prevote)!.Vote.BlockHash);
    }

    [Fact]
    public void Timeliness_is_judged_when_the_proposal_arrives_not_later()
    {
        // Arrives too early for its time; the clock then passes it: the verdict stays (it was judged at arrival).
        var h = new Harness();
        h.Start();
        var ahead = BlockAt(h, 0, h.Now + h.Config.MaxClockDriftMs + 10);
        var arrival = h.Handle(h.ProposalFor(0, ahead));
        Assert.Contains(arrival, a => a is VerifyProposalRequest);
        h.Now += 60_000;
        var verified = h.Handle(new ProposalVerified(new Height(1), ahead.Hash, true));
        Assert.Null(Harness.Voted(verified, VoteType.Prevote)!.Vote.BlockHash);
    }

    [Fact]
    public void A_re_proposal_with_a_proof_of_lock_is_not_judged_again()
    {
        // 2/3 prevoted the block in round 0 (their clocks found it timely); round 1 re-proposes it with polRound 0.
        var h = new Harness();
        h.Start();
        var block = BlockAt(h, 0, h.Now + h.Config.MaxClockDriftMs + 500);
        h.Handle(h.ProposalFor(0, block));
        h.Handle(new ProposalVerified(new Height(1), block.Hash, true));
        h.HandleAll(h.Others.Select(i => h.VoteBy(i, VoteType.Prevote, 0, block.Hash)));
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Precommit));
        var actions = h.Handle(h.ProposalFor(1, block, polRound: 0)).ToList();
        Assert.Equal(block.Hash, Harness.Voted(actions, VoteType.Prevote)?.Vote.BlockHash);
    }
}
