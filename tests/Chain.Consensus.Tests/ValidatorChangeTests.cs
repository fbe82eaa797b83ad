using Chain.Consensus.Simulation;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

/// <summary>The engine judges each height with that height's validators and moves to the next set on deciding.</summary>
public sealed class ValidatorChangeTests
{
    private static readonly PrivateKey[] Keys = Enumerable.Range(0, 6).Select(Harness.Key).ToArray();

    private static ValidatorSet Set(params (int Key, ulong Power)[] members) =>
        new(members.Select(m => new Validator(Keys[m.Key].PublicKey, m.Power)));

    // Height 1: keys 0–3. Height 2: keys 2–5 with other powers (key 0 leaves). Height 3 on: keys 0–3 again.
    private static readonly ValidatorSet A = Set((0, 1), (1, 1), (2, 1), (3, 1));
    private static readonly ValidatorSet B = Set((2, 5), (3, 1), (4, 2), (5, 3));
    private static readonly SteppedValidatorSchedule Schedule = new([(new Height(1), A), (new Height(2), B), (new Height(3), A)]);

    private static VoteReceived Vote(int key, VoteType type, ulong height, Hash32? hash, uint round = 0) =>
        new(new Vote(type, new Height(height), new Round(round), hash, 9, Keys[key].Address).Sign(Harness.Chain, Keys[key]));

    private static Commit CommitBy(IEnumerable<int> keys, ulong height, Hash32 hash) =>
        new(new Height(height), new Round(0), hash, keys.Select(k => Vote(k, VoteType.Precommit, height, hash).Vote)
            .Select(v => new CommitSignature(v.Vote.Validator, v.Vote.TimestampMs, v.Signature)));

    [Fact]
    public void Engine_FollowsTheSetOfEachHeight_AndSignsOnlyWhileInIt()
    {
        var store = new List<(Block, Commit)>();
        var app = new SimApplication(Harness.Chain, Schedule, store);
        var engine = new ConsensusEngine(new ConsensusConfig(Harness.Chain, Schedule, Harness.Timeouts), new UnguardedSigner(Keys[0]), new Height(1));
        engine.Start(1000);
        Assert.True(engine.IsValidator);

        // Height 1 is decided by A.
        var b1 = app.BuildBlock(new Height(1), new Round(0), engine.Proposer(new Height(1), new Round(0)), 5000);
        var c1 = CommitBy([1, 2, 3], 1, b1.Hash);
        var decided = Assert.Single(engine.Handle(new DecisionReceived(b1, c1), 1000).OfType<CommitBlock>());
        store.Add((decided.Block, decided.Commit));

        // Height 2: B's set, B's rotation restarted at its first height; key 0 is out, so this engine only observes.
        Assert.Equal(B.Hash, engine.Validators.Hash);
        Assert.Equal(new Height(2), engine.Validators.ActiveSince);
        Assert.False(engine.IsValidator);
        Assert.Equal(new ProposerSelection(new ActiveValidators(B, new Height(2))).Proposer(new Height(2), new Round(0)), engine.Proposer(new Height(2), new Round(0)));
        var timeout = engine.Handle(new TimeoutElapsed(new Height(2), new Round(0), Step.Propose), 1000);
        Assert.Empty(timeout.OfType<BroadcastVote>()); // not in the set of height 2: no signature
        Assert.Contains("is not a validator", Assert.Single(engine.Handle(Vote(0, VoteType.Prevote, 2, null), 1000).OfType<MessageRejected>()).Reason);
        Assert.Contains("is not a validator", Assert.Single(engine.Handle(Vote(1, VoteType.Prevote, 2, null), 1000).OfType<MessageRejected>()).Reason);

        // B's power decides: keys 2 and 5 hold 8 of 11 (> 2/3); under A's powers they would be only 2 of 4.
        var b2 = app.BuildBlock(new Height(2), new Round(0), engine.Proposer(new Height(2), new Round(0)), 6000);
        Assert.Equal(B.Hash, b2.Header.ValidatorsHash);
        Assert.Equal(A.Hash, b2.Header.NextValidatorsHash);
        Assert.True(app.VerifyProposal(b2, out var why), why);
        var weak = CommitBy([3, 4], 2, b2.Hash);
        Assert.Contains("not more than 2/3", Assert.Single(engine.Handle(new DecisionReceived(b2, weak), 1000).OfType<MessageRejected>()).Reason);
        var a = engine.Handle(new DecisionReceived(b2, CommitBy([2, 5], 2, b2.Hash)), 1000);
        store.Add((b2, Assert.Single(a.OfType<CommitBlock>()).Commit));

        // Height 3: A again; key 0 re-enters and signs again.
        Assert.Equal(A.Hash, engine.Validators.Hash);
        Assert.Equal(new Height(3), engine.Validators.ActiveSince);
        Assert.True(engine.IsValidator);
        var again = engine.Handle(new TimeoutElapsed(new Height(3), new Round(0), Step.Propose), 1000).Concat(a);
        Assert.True(again.OfType<BroadcastVote>().Any() || again.OfType<BuildBlockRequest>().Any() || again.OfType<BroadcastProposal>().Any());
        Assert.Contains(again.OfType<BroadcastVote>(), v => v.Vote.Vote.Validator == Keys[0].Address && v.Vote.Vote.Height == new Height(3));
    }

    [Fact]
    public void UnsignedMessages_DoNotAllocateRounds()
    {
        var h = new Harness();
        h.Start();
        int other = h.Others.First();
        var good = h.VoteBy(other, VoteType.Prevote, 5000, null);
        var sig = good.Vote.Signature.Bytes.ToArray();
        sig[3] ^= 1;
        var forged = new VoteReceived(new SignedVote(good.Vote.Vote, new Signature(sig)));
        Assert.Contains("signature does not verify", Assert.Single(h.Handle(forged).OfType<MessageRejected>()).Reason);

        var block = h.MakeBlock(4000);
        var proposal = h.ProposalFor(4000, block);
        var psig = proposal.Proposal.Signature.Bytes.ToArray();
        psig[3] ^= 1;
        var forgedProposal = new ProposalReceived(new SignedProposal(proposal.Proposal.Proposal, new Signature(psig)), block);
        Assert.Contains("signature does not verify", Assert.Single(h.Handle(forgedProposal).OfType<MessageRejected>()).Reason);
        Assert.DoesNotContain("r5000", h.Engine.DescribeRounds());
        Assert.DoesNotContain("r4000", h.Engine.DescribeRounds());

        // The signed vote is still counted and does make the round.
        Assert.Empty(h.Handle(good).OfType<MessageRejected>());
        Assert.Contains("r5000", h.Engine.DescribeRounds());
    }

    [Fact]
    public void WalReplay_AtAHeightWithAnotherSet_GivesTheSameVotes()
    {
        var store = new List<(Block, Commit)>();
        var app = new SimApplication(Harness.Chain, Schedule, store);
        var config = new ConsensusConfig(Harness.Chain, Schedule, Harness.Timeouts);
        var b1 = app.BuildBlock(new Height(1), new Round(0), new ProposerSelection(A).Proposer(new Height(1), new Round(0)), 5000);
        store.Add((b1, CommitBy([0, 1, 2], 1, b1.Hash)));

        // A validator of height 2 only (B), not its round-0 proposer, restarting at height 2.
        var proposer = new ProposerSelection(new ActiveValidators(B, new Height(2))).Proposer(new Height(2), new Round(0));
        int me = new[] { 4, 5, 2, 3 }.First(k => Keys[k].Address != proposer);
        var fs = new SimFileSystem();
        var runner = ConsensusRunner.Open(config, Keys[me], fs, "/v", new Height(2), 1000, out _);
        Assert.True(runner.Engine.IsValidator);
        var b2 = app.BuildBlock(new Height(2), new Round(0), proposer, 1050); // before the clock readings: timely
        int proposerKey = Array.FindIndex(Keys, k => k.Address == proposer);
        var signed = new Proposal(new Height(2), new Round(0), null, b2.Hash, 7, proposer).Sign(Harness.Chain, Keys[proposerKey]);
        runner.Handle(new ProposalReceived(signed, b2), 1100);
        var prevote = Harness.Voted(runner.Handle(new ProposalVerified(new Height(2), b2.Hash, true), 1200), VoteType.Prevote)!;
        Assert.Equal(b2.Hash, prevote.Vote.BlockHash);
        var actions = new[] { 2, 3, 4, 5 }.Where(k => k != me).SelectMany(k => runner.Handle(Vote(k, VoteType.Prevote, 2, b2.Hash), 1300)).ToList();
        var precommit = Harness.Voted(actions, VoteType.Precommit)!;
        Assert.Equal(b2.Hash, precommit.Vote.BlockHash);

        fs.Crash(new SimRandom(5));
        var restarted = ConsensusRunner.Open(config, Keys[me], fs, "/v", new Height(2), 5000, out var replayed);
        Assert.Equal(B.Hash, restarted.Engine.Validators.Hash);
        Assert.Equal(b2.Hash, restarted.Engine.LockedBlock);
        Assert.Equal(Step.Precommit, restarted.Engine.Step);
        // What it re-broadcasts is exactly what it signed before, under the same set (the precommit, at least).
        var again = replayed.OfType<BroadcastVote>().Select(v => v.Vote).ToList();
        Assert.Contains(precommit, again);
        Assert.All(again, v => Assert.True(v.Equals(prevote) || v.Equals(precommit)));
    }
}
