using System.Collections.Concurrent;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Network;
using Chain.Node.Host;

namespace Chain.Node.Tests;

/// <summary>
/// Proposal re-execution runs on the node's verifier worker, off the consensus loop (docs/node.md, "The consensus
/// loop"): the loop takes votes and timeouts while a verification is slow, a verdict that comes back after its height
/// was decided is dropped, a verdict in the WAL is replayed rather than asked for again, and a refused proposal still
/// gets a nil prevote and evidence.
/// </summary>
public sealed class ProposalVerifierTests
{
    private static PeerId Peer(NodeCluster cluster, int i) => new(cluster.Keys[i].PublicKey);

    /// <summary>Votes a node receives, by sender (its own copy of each, as the network delivered it).</summary>
    private sealed class VoteLog
    {
        public ConcurrentQueue<(PeerId From, Vote Vote)> Votes { get; } = new();

        public IPeerNetwork Watch(IPeerNetwork inner) => new IncomingFilter(inner, m =>
        {
            if (m.Channel == MessageChannel.Consensus && ConsensusMessages.TryDecode(m.Payload, out var ev, out _) && ev is VoteReceived v)
                Votes.Enqueue((m.From, v.Vote.Vote));
            return true;
        });

        public bool Has(PeerId from, VoteType type, Height height, bool nil) =>
            Votes.Any(v => v.From == from && v.Vote.Type == type && v.Vote.Height == height && (v.Vote.BlockHash is null) == nil);
    }

    [Fact]
    public async Task The_loop_takes_votes_and_timeouts_while_a_verification_is_stuck()
    {
        await using var cluster = new NodeCluster();
        var gate = new GatedVerificationStore.Gate();
        var seen = new VoteLog();
        // Three of the four validators: no height is decided without node 0's votes.
        var slow = cluster.Start(0, new FaultInjection { WrapStore = gate.Wrap });
        cluster.Start(1, network: seen.Watch);
        cluster.Start(2);
        await cluster.WaitForHeight(1);
        var zero = Peer(cluster, 0);
        try
        {
            gate.Close();
            // A transfer makes the next blocks read accounts while they are re-executed.
            Assert.Null(cluster.Nodes[1]!.Submit(cluster.Transfer(0, cluster.Keys[2].Address, 1)));
            await NodeCluster.WaitFor(() => gate.Holding, "node 0's verifier stuck at the gate");
            var stuck = new Height(slow.Metrics.Height + 1); // it verifies only the height after its last commit
            int prevotes = NilVotes(seen, zero, VoteType.Prevote, stuck), precommits = NilVotes(seen, zero, VoteType.Precommit, stuck);
            Assert.True(slow.Metrics.VerificationsInFlight >= 1);

            // Meanwhile its loop goes on: the propose timeout makes it prevote nil (its verdict is not in), the others'
            // prevotes and the prevote timeout make it precommit nil, and round after round follows.
            await NodeCluster.WaitFor(() => NilVotes(seen, zero, VoteType.Prevote, stuck) > prevotes, $"node 0's nil prevote at {stuck}");
            await NodeCluster.WaitFor(() => NilVotes(seen, zero, VoteType.Precommit, stuck) > precommits, $"node 0's nil precommit at {stuck}");
            Assert.True(gate.Holding);
            Assert.All(cluster.Running, n => Assert.Equal(stuck.Value - 1, n.Metrics.Height));
        }
        finally
        {
            gate.Open();
        }

        await cluster.WaitForHeight(cluster.Running.Max(n => n.Metrics.Height) + 1);
        var all = cluster.Running.ToList();
        NodeCluster.AssertSameChain(all, all.Min(n => n.Metrics.Height));
        Assert.Null(slow.Failure);
        Assert.True(slow.Metrics.ProposalsVerified >= 1);
    }

    private static int NilVotes(VoteLog log, PeerId from, VoteType type, Height height) =>
        log.Votes.Count(v => v.From == from && v.Vote.Type == type && v.Vote.Height == height && v.Vote.BlockHash is null);

    [Fact]
    public async Task A_verdict_that_comes_after_the_height_was_decided_is_dropped_and_the_commit_waits_for_it()
    {
        await using var cluster = new NodeCluster();
        var gate = new GatedVerificationStore.Gate();
        // Node 0's own rounds are slow, so it learns the decision by sync before it could reach a round where it
        // proposes: a build waits for the verification in flight too (the executor runs one at a time), and with the
        // gate shut that would hold node 0's loop, and the sync, until the end of the test.
        var slow = cluster.Start(0, new FaultInjection { WrapStore = gate.Wrap },
            tune: o => o with { Timeouts = NodeCluster.Timeouts with { ProposeBaseMs = 60_000, PrevoteBaseMs = 60_000, PrecommitBaseMs = 60_000 } });
        var others = Enumerable.Range(1, 3).Select(i => cluster.Start(i)).ToList();
        await cluster.WaitForHeight(1);
        try
        {
            gate.Close();
            Assert.Null(others[0].Submit(cluster.Transfer(0, cluster.Keys[2].Address, 1)));
            await NodeCluster.WaitFor(() => gate.Holding, "node 0's verifier stuck at the gate");
            var stuck = new Height(slow.Metrics.Height + 1);
            // The other three decide without it; node 0, without its verdict, learns the decision by block sync, and that
            // commit waits for the verification in flight: committed state never changes under a re-execution.
            await cluster.WaitForHeight(stuck.Value, others);
            await NodeCluster.WaitFor(() => slow.Metrics.CommitsWaitedForVerification >= 1, "node 0's commit waiting for its verifier");
            Assert.True(gate.Holding);
            Assert.Equal(stuck.Value - 1, slow.Metrics.Height);
        }
        finally
        {
            gate.Open();
        }

        await cluster.WaitForHeight(cluster.Running.Max(n => n.Metrics.Height) + 1);
        var all = cluster.Running.ToList();
        NodeCluster.AssertSameChain(all, all.Min(n => n.Metrics.Height));
        Assert.Null(slow.Failure);
        // The late verdict reached no engine; the commit reused the verification's execution.
        Assert.True(slow.Metrics.VerdictsStale >= 1, $"stale verdicts {slow.Metrics.VerdictsStale}");
        Assert.True(slow.Metrics.LoopBlockedOnVerification > TimeSpan.Zero);
    }

    [Fact]
    public async Task A_verdict_in_the_WAL_is_replayed_on_restart_and_not_asked_for_again()
    {
        await using var cluster = new NodeCluster();
        // The node that is not proposing height 1's round 0 verifies that proposal; it never hears a precommit, a
        // decision or a peer's status, so it stays at height 1 with the proposal and its verdict in the WAL.
        var proposer = new ProposerSelection(cluster.Genesis.Validators).Proposer(new Height(1), new Round(0));
        int node = Enumerable.Range(0, 4).First(i => cluster.Keys[i].Address != proposer);
        var seen = new VoteLog();
        // It starts before the proposer does, so its propose timeout is long: on a loaded machine the proposal may take
        // seconds to come, and a nil prevote would never be followed by one for the block.
        var withheld = cluster.Start(node, network: inner => new IncomingFilter(inner, m => m.Channel switch
        {
            MessageChannel.Status or MessageChannel.Sync => false,
            MessageChannel.Consensus => !ConsensusMessages.TryDecode(m.Payload, out var ev, out _)
                || ev is not (DecisionReceived or VoteReceived { Vote.Vote.Type: VoteType.Precommit }),
            _ => true,
        }), tune: o => o with { Timeouts = NodeCluster.Timeouts with { ProposeBaseMs = 60_000 } });
        int watcher = node == 0 ? 1 : 0;
        var others = Enumerable.Range(0, 4).Where(i => i != node).Select(i => cluster.Start(i, network: i == watcher ? seen.Watch : null)).ToList();
        await cluster.WaitForHeight(3, others);
        // Its prevote for the block went out only after the verdict went through the WAL into its engine.
        await NodeCluster.WaitFor(() => seen.Has(Peer(cluster, node), VoteType.Prevote, new Height(1), nil: false), "the withheld node's prevote for block 1");
        Assert.True(withheld.Metrics.ProposalsVerified >= 1);
        Assert.Equal(0UL, withheld.Metrics.Height);
        await cluster.StopAsync(node);

        var restarted = cluster.Start(node);
        await NodeCluster.WaitFor(() => restarted.Metrics.VerdictsReplayed == 1, "the replayed verdict kept the request from the verifier");
        await cluster.WaitForHeight(others.Max(n => n.Metrics.Height) + 1);
        var all = cluster.Running.ToList();
        NodeCluster.AssertSameChain(all, all.Min(n => n.Metrics.Height));
    }

    [Fact]
    public async Task A_proposal_refused_by_re_execution_gets_a_nil_prevote_and_evidence()
    {
        await using var cluster = new NodeCluster();
        var seen = new VoteLog();
        var tampering = new FaultInjection { TamperInferenceOutputs = true };
        var honest = cluster.Start(0);
        cluster.Start(1, network: seen.Watch);
        cluster.Start(2);
        cluster.Start(3, tampering);
        var caught = new ConcurrentQueue<InvalidProposalEvidence>();
        honest.EvidenceRecorded += e => { if (e is InvalidProposalEvidence ip) caught.Enqueue(ip); };

        var digits = cluster.Models[1].Digits;
        int sent = 0;
        var until = DateTime.UtcNow + NodeCluster.Deadline;
        while (caught.IsEmpty)
        {
            Assert.True(DateTime.UtcNow < until, "node 0 recorded no evidence against the tampered proposal");
            if (honest.Mempool.Count == 0) Assert.Null(honest.Submit(cluster.Infer(0, digits[sent++ % digits.Count])));
            await Task.Delay(25);
        }
        Assert.True(caught.TryPeek(out var evidence));
        Assert.Equal(cluster.Keys[3].Address, evidence.Offender);
        var at = evidence.Proposal.Proposal;
        await NodeCluster.WaitFor(() => seen.Votes.Any(v => v.From == Peer(cluster, 0) && v.Vote.Type == VoteType.Prevote && v.Vote.Height == at.Height && v.Vote.Round == at.Round),
            "node 0's prevote for the tampered round");
        Assert.All(seen.Votes.Where(v => v.From == Peer(cluster, 0) && v.Vote.Type == VoteType.Prevote && v.Vote.Height == at.Height && v.Vote.Round == at.Round),
            v => Assert.Null(v.Vote.BlockHash));
        Assert.True(honest.Metrics.ProposalsVerified >= 1);
    }
}

/// <summary>The proposal verifier's bounds, on a real executor, its worker started only where a verdict is expected.</summary>
public sealed class ProposalVerifierBoundsTests : IDisposable
{
    private readonly Chain.Inference.Runtime.InferenceEngine _engine = new(enableFastPath: false);
    private readonly Chain.Execution.ChainExecutor _executor;
    private readonly NodeMetrics _metrics = new();
    private readonly ConcurrentQueue<VerifiedProposal> _verdicts = new();
    private readonly ProposalVerifier _verifier;

    public ProposalVerifierBoundsTests()
    {
        var store = new Chain.Storage.InMemoryStore();
        _executor = new Chain.Execution.ChainExecutor(Chain.Testing.DevnetFixture.Genesis, store, Chain.Execution.JellyfishStateBackend.Open(store),
            new Chain.Execution.InferenceRunner(_engine));
        _verifier = new ProposalVerifier(_executor, TimeProvider.System, _metrics, _verdicts.Enqueue, capacity: 3);
    }

    // Distinct valid blocks for height 1: each validator's (a first block's time does not depend on the clock).
    private Block Block(int proposer) => _executor.BuildBlock(
        new Chain.Execution.ProposalContext(1000, Chain.Testing.DevnetFixture.Genesis.Validators.Validators[proposer].Address, null), []).Block;

    private static VerifyProposalRequest At(ulong height, Block block) => new(new Height(height), block);

    [Fact]
    public void A_full_queue_pushes_out_only_its_oldest_request_and_a_hash_is_queued_once()
    {
        var blocks = Enumerable.Range(0, 4).Select(Block).ToList();
        Assert.Equal(4, blocks.Select(b => b.Hash).Distinct().Count());
        Assert.True(_verifier.Request(At(1, blocks[0])));
        Assert.False(_verifier.Request(At(1, blocks[0]))); // already queued
        Assert.True(_verifier.Request(At(1, blocks[1])));
        Assert.True(_verifier.Request(At(1, blocks[2])));
        Assert.Equal(3, _metrics.VerificationsInFlight);
        Assert.True(_verifier.Request(At(1, blocks[3]))); // pushes blocks[0] out, and nothing else
        Assert.Equal(1, _metrics.VerificationsDropped);
        Assert.Equal(3, _metrics.VerificationsInFlight);
        Assert.True(_verifier.Request(At(1, blocks[0]))); // no longer queued: it may be asked again (pushing blocks[1] out)
        Assert.Equal(2, _metrics.VerificationsDropped);
        Assert.Equal(3, _metrics.VerificationsInFlight);
    }

    [Fact]
    public void A_newer_height_drops_older_requests_and_settling_a_decided_height_drops_its_own()
    {
        var (a, b, c) = (Block(0), Block(1), Block(2));
        _verifier.Request(At(1, a));
        _verifier.Request(At(2, b)); // the engine moved on: height 1 no longer needs a verdict
        Assert.Equal(1, _metrics.VerificationsDropped);
        Assert.Equal(1, _metrics.VerificationsInFlight);
        _verifier.Request(At(2, c));
        _verifier.Settle(new Height(2)); // height 2 decided (nothing in flight: no wait)
        Assert.Equal(3, _metrics.VerificationsDropped);
        Assert.Equal(0, _metrics.VerificationsInFlight);
        Assert.Equal(TimeSpan.Zero, _metrics.LoopBlockedOnVerification);
        Assert.Equal(0, _metrics.CommitsWaitedForVerification);
    }

    [Fact]
    public async Task The_worker_verifies_the_next_height_and_drops_a_request_for_another_without_a_verdict()
    {
        var good = Block(0);
        _verifier.Request(At(3, Block(1))); // not the height after the last commit: no verdict can matter
        _verifier.Request(At(3, good));
        _verifier.Request(At(1, good)); // same hash: still queued (the height-3 copy)
        _verifier.Settle(new Height(3));
        _verifier.Request(At(1, good));
        _verifier.Start();
        await NodeCluster.WaitFor(() => !_verdicts.IsEmpty, "the verdict", TimeSpan.FromSeconds(30));
        _verifier.Settle(null);
        Assert.True(_verdicts.TryDequeue(out var verified));
        Assert.Null(verified.Failure);
        Assert.Equal(new Height(1), verified.Verdict!.Height);
        Assert.Equal(good.Hash, verified.Verdict.BlockHash);
        Assert.True(verified.Verdict.Valid, verified.Reason);
        Assert.Empty(_verdicts);
        Assert.Equal(1, _metrics.ProposalsVerified);
        Assert.Equal(0, _metrics.VerificationsInFlight);
    }

    public void Dispose()
    {
        _verifier.Dispose();
        _engine.Dispose();
    }
}
