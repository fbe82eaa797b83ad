using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

public sealed class EngineTests
{
    [Fact]
    public void HappyPath_ProposePrevotePrecommitCommit()
    {
        var h = new Harness();
        var start = h.Start();
        Assert.Contains(new ScheduleTimeout(new Height(1), new Round(0), Step.Propose, 1000), start);
        var block = h.MakeBlock(0);
        var a = h.Handle(h.ProposalFor(0, block));
        Assert.Single(a.OfType<VerifyProposalRequest>());
        Assert.Null(Harness.Voted(a, VoteType.Prevote)); // no prevote before re-execution says valid
        a = h.Handle(new ProposalVerified(new Height(1), block.Hash, true));
        Assert.Equal(block.Hash, Harness.Voted(a, VoteType.Prevote)!.Vote.BlockHash);

        var others = h.Others.ToArray();
        a = h.HandleAll(others.Take(2).Select(i => h.VoteBy(i, VoteType.Prevote, 0, block.Hash)));
        Assert.Equal(block.Hash, Harness.Voted(a, VoteType.Precommit)!.Vote.BlockHash);
        Assert.Equal(block.Hash, h.Engine.LockedBlock);
        Assert.Equal(new Round(0), h.Engine.LockedRound);

        a = h.HandleAll(others.Take(2).Select(i => h.VoteBy(i, VoteType.Precommit, 0, block.Hash)));
        var commit = Assert.Single(a.OfType<CommitBlock>());
        Assert.Equal(block.Hash, commit.Block.Hash);
        Assert.True(commit.Commit.Verify(Harness.Chain, h.Validators, new Height(1), block.Hash, out var why), why);
        Assert.Equal(3, commit.Commit.Signatures.Count);
        Assert.Equal(new Height(2), h.Engine.Height);
        Assert.Equal(new Round(0), h.Engine.Round);
        Assert.Null(h.Engine.LockedRound);
    }

    [Fact]
    public void InvalidProposal_PrevotesNilAndRecordsVerifiableEvidence()
    {
        var h = new Harness();
        h.Start();
        var good = h.MakeBlock(0);
        h.App.Lie = () => true;
        var bad = h.MakeBlock(0);
        var a = h.Propose(0, bad, valid: false);
        Assert.Null(Harness.Voted(a, VoteType.Prevote)!.Vote.BlockHash);
        var ev = Assert.IsType<InvalidProposalEvidence>(Assert.Single(a.OfType<RecordEvidence>()).Evidence);
        Assert.Equal(h.Keys[h.ProposerIndex(0)].Address, ev.Offender);
        h.App.Lie = null;
        Assert.True(ev.Verify(Harness.Chain, new ActiveValidators(h.Validators, new Height(1)), b => h.App.VerifyProposal(b, out _), out var why), why);
        // The same signed proposal with a block that re-executes correctly is not evidence.
        var honest = new InvalidProposalEvidence(h.ProposalFor(0, good).Proposal, good);
        Assert.False(honest.Verify(Harness.Chain, new ActiveValidators(h.Validators, new Height(1)), b => h.App.VerifyProposal(b, out _), out why));
        Assert.Contains("re-executes correctly", why);
        // Another chain's view of the signature fails.
        Assert.False(ev.Verify(new ChainId("other"), new ActiveValidators(h.Validators, new Height(1)), _ => false, out why));
        var decoded = Canonical.Decode<Evidence>(ev.Encoded);
        Assert.Equal(ev.Hash, decoded.Hash);
    }

    [Fact]
    public void Lock_PrevotesNilForAnotherFreshBlock()
    {
        var h = new Harness();
        h.Start();
        var a = h.MakeBlock(0);
        h.Propose(0, a);
        h.HandleAll(h.Others.Take(2).Select(i => h.VoteBy(i, VoteType.Prevote, 0, a.Hash)));
        Assert.Equal(a.Hash, h.Engine.LockedBlock);
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Precommit));
        Assert.Equal(new Round(1), h.Engine.Round);
        var b = h.MakeBlock(1, tag: 1);
        var actions = h.Propose(1, b);
        Assert.Null(Harness.Voted(actions, VoteType.Prevote)!.Vote.BlockHash); // line 22: locked on a, b is fresh
    }

    [Fact]
    public void Lock_ReleasedByNewerProofOfLock()
    {
        var h = new Harness();
        h.Start();
        var a = h.MakeBlock(0);
        h.Propose(0, a);
        h.HandleAll(h.Others.Take(2).Select(i => h.VoteBy(i, VoteType.Prevote, 0, a.Hash)));
        Assert.Equal(new Round(0), h.Engine.LockedRound);
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Precommit));

        // Round 1: we never see its proposal, but the three others prevote b: a proof of lock for b at round 1.
        var b = h.MakeBlock(1, tag: 1);
        h.Handle(new TimeoutElapsed(new Height(1), new Round(1), Step.Propose));
        h.HandleAll(h.Others.Select(i => h.VoteBy(i, VoteType.Prevote, 1, b.Hash)));
        h.Handle(new TimeoutElapsed(new Height(1), new Round(1), Step.Prevote));
        h.Handle(new TimeoutElapsed(new Height(1), new Round(1), Step.Precommit));
        Assert.Equal(new Round(2), h.Engine.Round);
        Assert.Equal(a.Hash, h.Engine.LockedBlock);

        // Round 2 re-proposes b with polRound 1 > lockedRound 0: line 28 prevotes b.
        var actions = h.Propose(2, b, polRound: 1);
        Assert.Equal(b.Hash, Harness.Voted(actions, VoteType.Prevote)!.Vote.BlockHash);
    }

    [Fact]
    public void ProofOfLock_OlderThanLock_DoesNotUnlock()
    {
        var h = new Harness();
        h.Start();
        var b = h.MakeBlock(0, tag: 1);
        // Round 0: we time out, the others prevote b (a POL for b at round 0), we precommit nil.
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Propose));
        h.HandleAll(h.Others.Select(i => h.VoteBy(i, VoteType.Prevote, 0, b.Hash)));
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Prevote));
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Precommit));
        // Round 1: lock on a.
        var a = h.MakeBlock(1);
        h.Propose(1, a);
        h.HandleAll(h.Others.Take(2).Select(i => h.VoteBy(i, VoteType.Prevote, 1, a.Hash)));
        Assert.Equal(new Round(1), h.Engine.LockedRound);
        h.Handle(new TimeoutElapsed(new Height(1), new Round(1), Step.Precommit));
        // Round 2 re-proposes b with polRound 0 < lockedRound 1: prevote nil.
        var actions = h.Propose(2, b, polRound: 0);
        Assert.Null(Harness.Voted(actions, VoteType.Prevote)!.Vote.BlockHash);
    }

    [Fact]
    public void RoundSkip_OnOneThirdOfPowerInAHigherRound()
    {
        var h = new Harness();
        h.Start();
        var others = h.Others.ToArray();
        h.Handle(h.VoteBy(others[0], VoteType.Prevote, 5, null));
        Assert.Equal(new Round(0), h.Engine.Round); // 1 of 4: not more than a third
        var a = h.Handle(h.VoteBy(others[1], VoteType.Precommit, 5, null));
        Assert.Equal(new Round(5), h.Engine.Round); // 2 of 4
        Assert.Contains(new ScheduleTimeout(new Height(1), new Round(5), Step.Propose, 1500), a);
    }

    [Fact]
    public void Timeouts_GrowWithRoundAndStaleOnesAreIgnored()
    {
        var h = new Harness();
        h.Start();
        var a = h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Propose));
        Assert.Null(Harness.Voted(a, VoteType.Prevote)!.Vote.BlockHash); // line 57
        Assert.Equal(Step.Prevote, h.Engine.Step);
        var others = h.Others.ToArray();
        // Mixed prevotes: 2/3+ of any, none for one value, so line 34 arms the prevote timeout.
        h.Handle(h.VoteBy(others[0], VoteType.Prevote, 0, null));
        a = h.Handle(h.VoteBy(others[1], VoteType.Prevote, 0, h.MakeBlock(0).Hash));
        Assert.Contains(new ScheduleTimeout(new Height(1), new Round(0), Step.Prevote, 500), a);
        a = h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Prevote)); // line 61
        Assert.Null(Harness.Voted(a, VoteType.Precommit)!.Vote.BlockHash);
        h.Handle(h.VoteBy(others[0], VoteType.Precommit, 0, null));
        a = h.Handle(h.VoteBy(others[1], VoteType.Precommit, 0, h.MakeBlock(0).Hash));
        Assert.Contains(new ScheduleTimeout(new Height(1), new Round(0), Step.Precommit, 500), a); // line 47
        a = h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Precommit)); // line 65
        Assert.Equal(new Round(1), h.Engine.Round);
        Assert.Contains(new ScheduleTimeout(new Height(1), new Round(1), Step.Propose, 1100), a);
        // A timeout from round 0 arriving late changes nothing.
        Assert.Empty(h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Propose)));
        Assert.Equal(Step.Propose, h.Engine.Step);
        Assert.Equal(2400UL, Harness.Timeouts.RoundMs(new Round(2))); // 1200 + 600 + 600
    }

    [Fact]
    public void NilQuorum_PrecommitsNil()
    {
        var h = new Harness();
        h.Start();
        h.Handle(new TimeoutElapsed(new Height(1), new Round(0), Step.Propose));
        var a = h.HandleAll(h.Others.Take(2).Select(i => h.VoteBy(i, VoteType.Prevote, 0, null))); // line 44
        Assert.Null(Harness.Voted(a, VoteType.Precommit)!.Vote.BlockHash);
        Assert.Equal(Step.Precommit, h.Engine.Step);
    }

    [Fact]
    public void RefusesBadVotes_WithReasons()
    {
        var h = new Harness();
        h.Start();
        int other = h.Others.First();
        // The reason, and whether the sender is at fault (no honest node sends it) or may just be relaying.
        (string Reason, bool Fault) Refusal(ConsensusEvent ev)
        {
            var r = Assert.Single(h.Handle(ev).OfType<MessageRejected>());
            return (r.Reason, r.SenderAtFault);
        }
        string Reason(ConsensusEvent ev) => Refusal(ev).Reason;

        var good = h.VoteBy(other, VoteType.Prevote, 0, null);
        var sig = good.Vote.Signature.Bytes.ToArray();
        sig[10] ^= 1;
        var forged = Refusal(new VoteReceived(new SignedVote(good.Vote.Vote, new Core.Crypto.Signature(sig))));
        Assert.Contains("signature does not verify", forged.Reason);
        Assert.True(forged.Fault);
        Assert.Contains("signature does not verify", Reason(h.VoteBy(other, VoteType.Prevote, 0, null, chain: new ChainId("other-chain"))));
        using var stranger = Harness.Key(99);
        var foreign = new Vote(VoteType.Prevote, new Height(1), new Round(0), null, 1, stranger.Address).Sign(Harness.Chain, stranger);
        Assert.Equal((true, true), (Reason(new VoteReceived(foreign)).Contains("is not a validator"), Refusal(new VoteReceived(foreign)).Fault));
        var future = Refusal(h.VoteBy(other, VoteType.Prevote, 0, null, height: 2));
        Assert.Contains("future height 2", future.Reason);
        Assert.False(future.Fault); // an honest peer ahead of us sends these
        // Nothing was counted: one good vote is still accepted silently.
        Assert.Empty(h.Handle(good));
    }

    [Fact]
    public void RefusesProposalFromWrongProposer_OrWithForeignBody()
    {
        var h = new Harness();
        h.Start();
        var block = h.MakeBlock(0);
        int wrong = h.Others.First(i => i != h.ProposerIndex(0));
        var p = new Proposal(new Height(1), new Round(0), null, block.Hash, 1, h.Keys[wrong].Address).Sign(Harness.Chain, h.Keys[wrong]);
        Assert.Contains("is not the proposer", Assert.Single(h.Handle(new ProposalReceived(p, block)).OfType<MessageRejected>()).Reason);
        var other = h.MakeBlock(0, tag: 3);
        var mismatched = new ProposalReceived(h.ProposalFor(0, block).Proposal, other);
        Assert.Contains("does not match", Assert.Single(h.Handle(mismatched).OfType<MessageRejected>()).Reason);
    }

    [Fact]
    public void Equivocation_RecordsDuplicateVoteEvidence()
    {
        var h = new Harness();
        h.Start();
        int other = h.Others.First();
        var block = h.MakeBlock(0);
        h.Propose(0, block);
        h.Handle(h.VoteBy(other, VoteType.Prevote, 0, null));
        var a = h.Handle(h.VoteBy(other, VoteType.Prevote, 0, block.Hash));
        var ev = Assert.IsType<DuplicateVoteEvidence>(Assert.Single(a.OfType<RecordEvidence>()).Evidence);
        Assert.Equal(h.Keys[other].Address, ev.Offender);
        Assert.True(ev.Verify(Harness.Chain, h.Validators, out var why), why);
        Assert.False(ev.Verify(new ChainId("other"), h.Validators, out _));
        var again = new DuplicateVoteEvidence(ev.VoteB, ev.VoteA); // order does not matter: one canonical form
        Assert.Equal(ev.Hash, again.Hash);
        Assert.Equal(ev.Hash, Canonical.Decode<Evidence>(ev.Encoded).Hash);
        var same = new DuplicateVoteEvidence(h.VoteBy(other, VoteType.Prevote, 0, null).Vote, h.VoteBy(other, VoteType.Precommit, 0, block.Hash).Vote);
        Assert.False(same.Verify(Harness.Chain, h.Validators, out why));
        Assert.Contains("different (height, round, type)", why);
        var pool = new EvidencePool();
        Assert.True(pool.Add(ev));
        Assert.False(pool.Add(again));
        pool.MarkCommitted([ev.Hash]);
        Assert.Empty(pool.Pending());
        Assert.False(pool.Add(ev));
    }

    [Fact]
    public void WeightedPower_OneHeavyValidatorDecides()
    {
        var h = new Harness(powers: [10, 1, 1, 1], chooseMe: _ => 1);
        h.Start();
        var block = h.MakeBlock(0);
        h.Propose(0, block);
        var a = h.Handle(h.VoteBy(0, VoteType.Precommit, 0, block.Hash)); // 10 of 13 > 2/3
        var commit = Assert.Single(a.OfType<CommitBlock>()).Commit;
        Assert.Single(commit.Signatures);
        // And one light validator in a higher round is not a third of the power: no skip.
        var h2 = new Harness(powers: [10, 1, 1, 1], chooseMe: _ => 1);
        h2.Start();
        h2.Handle(h2.VoteBy(2, VoteType.Prevote, 3, null));
        h2.Handle(h2.VoteBy(3, VoteType.Prevote, 3, null));
        Assert.Equal(new Round(0), h2.Engine.Round);
    }

    [Fact]
    public void ProposerOfRound_ProposesAndReproposesValidValue()
    {
        var h = new Harness(chooseMe: x => x.IndexOf(new ProposerSelection(x.Validators).Proposer(new Height(1), new Round(0))));
        var start = h.Start();
        Assert.Single(start.OfType<BuildBlockRequest>());
        var block = h.App.BuildBlock(new Height(1), new Round(0), h.Keys[h.Me].Address, h.Now);
        var a = h.Handle(new BlockBuilt(new Height(1), new Round(0), block));
        var sent = Assert.Single(a.OfType<BroadcastProposal>());
        Assert.Null(sent.Proposal.Proposal.PolRound);
        Assert.Equal(block.Hash, Harness.Voted(a, VoteType.Prevote)!.Vote.BlockHash); // own block: no re-execution wait
    }

    [Fact]
    public void Decision_CatchUpVerifiesTheCommit()
    {
        var h = new Harness();
        h.Start();
        var block = h.MakeBlock(0);
        var sigs = h.Others.Select(i => h.VoteBy(i, VoteType.Precommit, 0, block.Hash).Vote)
            .Select(v => new CommitSignature(v.Vote.Validator, v.Vote.TimestampMs, v.Signature)).ToList();
        var weak = new Commit(new Height(1), new Round(0), block.Hash, sigs.Take(2));
        Assert.Contains("not more than 2/3", Assert.Single(h.Handle(new DecisionReceived(block, weak)).OfType<MessageRejected>()).Reason);
        var a = h.Handle(new DecisionReceived(block, new Commit(new Height(1), new Round(0), block.Hash, sigs)));
        Assert.Single(a.OfType<CommitBlock>());
        Assert.Equal(new Height(2), h.Engine.Height);
    }

    [Fact]
    public void ProposerSelection_IsProportionalToPowerAndDeterministic()
    {
        var keys = Enumerable.Range(0, 3).Select(Harness.Key).ToArray();
        var set = new ValidatorSet(keys.Select((k, i) => new Validator(k.PublicKey, (ulong)(i + 1))));
        var sel = new ProposerSelection(set);
        var counts = new Dictionary<Address, int>();
        for (ulong hgt = 1; hgt <= 600; hgt++)
        {
            var p = sel.Proposer(new Height(hgt), new Round(0));
            counts[p] = counts.GetValueOrDefault(p) + 1;
        }
        Assert.Equal(100, counts[keys[0].Address]);
        Assert.Equal(200, counts[keys[1].Address]);
        Assert.Equal(300, counts[keys[2].Address]);
        // Round r of height h is step h + r: the same as round 0 of height h + r, and independent of query order.
        var fresh = new ProposerSelection(set);
        Assert.Equal(sel.Proposer(new Height(10), new Round(0)), fresh.Proposer(new Height(7), new Round(3)));
        // First step from zero priorities: everyone gains their power, the heaviest (3) wins.
        Assert.Equal(keys[2].Address, new ProposerSelection(set).Proposer(new Height(1), new Round(0)));
    }

    [Fact]
    public void Messages_StrictDecoding()
    {
        var h = new Harness();
        var vote = h.VoteBy(0, VoteType.Prevote, 0, null);
        var bytes = ConsensusMessages.Encode(vote);
        Assert.True(ConsensusMessages.TryDecode(bytes, out var back, out _));
        Assert.True(back!.Equals(vote));
        Assert.False(ConsensusMessages.TryDecode(bytes[..^1], out _, out _));
        Assert.False(ConsensusMessages.TryDecode(bytes.Append((byte)0).ToArray(), out _, out var reason));
        Assert.Contains("trailing", reason);
        Assert.False(ConsensusMessages.TryDecode(new TimeoutElapsed(new Height(1), new Round(0), Step.Propose).Encoded, out _, out reason));
        Assert.Contains("local", reason);
        Assert.Throws<ArgumentException>(() => ConsensusMessages.Encode(new ProposalVerified(new Height(1), Hash32.Zero, true)));
        foreach (ConsensusEvent ev in new ConsensusEvent[]
                 {
                     h.ProposalFor(0, h.MakeBlock(0), null), new TimeoutElapsed(new Height(3), new Round(2), Step.Precommit),
                     new ProposalVerified(new Height(1), Hash32.Zero, false), new BlockBuilt(new Height(1), new Round(4), h.MakeBlock(0)),
                     new StatusReceived(new Height(9), new Round(1)),
                 })
            Assert.True(Canonical.Decode<ConsensusEvent>(ev.Encoded).Equals(ev));
    }
}
