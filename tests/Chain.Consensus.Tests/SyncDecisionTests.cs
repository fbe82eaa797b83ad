using Chain.Consensus;
using Chain.Consensus.Simulation;
using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

/// <summary>
/// Block sync moves a node's consensus forward by feeding each verified block as a <see cref="DecisionReceived"/>:
/// the guarantees the node host relies on for that, through the runner (WAL included).
/// </summary>
public sealed class SyncDecisionTests
{
    private static (Block Block, Commit Commit) Decided(Harness h)
    {
        var block = h.MakeBlock(0);
        var sigs = h.Others.Select(i => h.VoteBy(i, VoteType.Precommit, 0, block.Hash).Vote)
            .Select(v => new CommitSignature(v.Vote.Validator, v.Vote.TimestampMs, v.Signature));
        return (block, new Commit(new Height(1), new Round(0), block.Hash, sigs));
    }

    [Fact]
    public void A_decision_moves_the_runner_to_the_next_height_and_that_height_is_not_replayed_after_restart()
    {
        var h = new Harness();
        var fs = new SimFileSystem();
        var runner = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), h.Now, out _);
        runner.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Propose), 2000); // signs a nil prevote at height 1
        var (block, commit) = Decided(h);

        var actions = runner.Handle(new DecisionReceived(block, commit), 2100);
        Assert.Equal(block.Hash, Assert.Single(actions.OfType<CommitBlock>()).Block.Hash);
        Assert.Equal(new Height(2), runner.Engine.Height);
        Assert.Equal(new Round(0), runner.Engine.Round);

        // The host stored block 1, so it reopens at height 2: nothing of height 1 is replayed or re-sent.
        var reopened = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(2), 3000, out var replayed);
        Assert.Equal(0, reopened.Replayed);
        Assert.Equal(new Height(2), reopened.Engine.Height);
        Assert.DoesNotContain(replayed, a => a is CommitBlock or BroadcastVote);
    }

    [Fact]
    public void If_the_store_missed_a_decided_block_reopening_at_its_height_replays_the_decision()
    {
        var h = new Harness();
        var fs = new SimFileSystem();
        var runner = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), h.Now, out _);
        var (block, commit) = Decided(h);
        runner.Handle(new DecisionReceived(block, commit), 2000);

        // The store never got block 1: reopening at height 1 decides it again, so the host stores it then.
        var reopened = ConsensusRunner.Open(h.Config, h.Keys[h.Me], fs, "/v", new Height(1), 3000, out var replayed);
        Assert.Equal(block.Hash, Assert.Single(replayed.OfType<CommitBlock>()).Block.Hash);
        Assert.Equal(new Height(2), reopened.Engine.Height);
    }
}
