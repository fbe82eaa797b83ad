using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>Consensus messages in, consensus actions out, and decided blocks stored.</summary>
public sealed partial class FullNode
{
    // A proposal waiting for the minimum block interval (FullNodeOptions.MinBlockInterval); built on a later tick.
    private PendingEvent? _deferredBuild;
    private long _buildAtMs;

    private void OnConsensusMessage(PeerId from, byte[] payload)
    {
        if (BlockPartsMessage.IsOne(payload))
        {
            OnBlockPartsMessage(from, payload); // hash-only block propagation (FullNode.BlockParts.cs)
            return;
        }
        if (!ConsensusMessages.TryDecode(payload, out var message, out var reason))
        {
            Refuse(from, $"undecodable consensus message: {reason}");
            return;
        }
        ulong current = _validator.Consensus.Engine.Height.Value;
        switch (message)
        {
            case ProposalReceived or VoteReceived:
                ulong height = message is ProposalReceived p ? p.Proposal.Proposal.Height.Value : ((VoteReceived)message).Vote.Vote.Height.Value;
                if (height < current) return; // decided here already: normal with gossip
                if (height > current)
                {
                    if (!_future.TryAdd(current, height, new FutureMessage(message, null, from))) Metrics.FutureDropped();
                    return;
                }
                if (message is ProposalReceived) _stages.ProposalHere();
                Feed(message, from);
                break;
            case DecisionReceived d when d.Block.Height.Value == current:
                // A decision is trusted no more than a synced block: commit checked and the block re-executed.
                if (!TryApplyDecided(d.Block, d.Commit, out var why)) Refuse(from, $"decision for height {current}: {why}");
                break;
            default:
                break; // status (we use the Status channel) and decisions for other heights carry nothing we need
        }
    }

    private void Feed(ConsensusEvent ev, PeerId? from) => Execute(_validator.Consensus.Handle(ev, (ulong)NowMs), from, ev);

    private void Execute(IReadOnlyList<ConsensusAction> actions, PeerId? from, ConsensusEvent? input = null)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case BroadcastProposal p:
                    _stages.ProposalHere();
                    RememberServable(p.Block); // peers missing some of its transactions ask us for them
                    _gossipBuffer.Flush(); // its transactions reach each peer before the proposal that names them
                    _network.Broadcast(MessageChannel.Consensus, EncodeForPeers(new ProposalReceived(p.Proposal, p.Block)));
                    break;
                case BroadcastVote v:
                    // This node precommits a block only once 2/3 prevoted it (line 36): the prevote quorum's moment.
                    if (v.Vote.Vote.Type == VoteType.Precommit && v.Vote.Vote.BlockHash is not null) _stages.PrevoteQuorum();
                    _network.Broadcast(MessageChannel.Consensus, ConsensusMessages.Encode(new VoteReceived(v.Vote)));
                    break;
                case ScheduleTimeout t:
                    _timers.Enqueue(new TimeoutElapsed(t.Height, t.Round, t.Step), NowMs + (long)t.DurationMs);
                    break;
                case BuildBlockRequest or VerifyProposalRequest:
                    // Answered after this batch, and only if still current: a height skipped by sync needs no block.
                    _local.Enqueue(new PendingEvent(null, action, null));
                    break;
                case CommitBlock c:
                    _stages.Decided();
                    OnDecided(c.Block, c.Commit);
                    break;
                case RecordEvidence e:
                    EvidenceRecorded?.Invoke(e.Evidence);
                    break;
                case MessageRejected r:
                    // A peer's message: counted, and the peer reported when no honest node sends it. A refused local
                    // input (a timeout or an answer that went stale while it waited) is normal and carries no blame.
                    if (from is { } peer && ReferenceEquals(r.Message, input))
                    {
                        Metrics.MessageRefused();
                        if (r.SenderAtFault) Report(peer, r.Reason);
                    }
                    break;
                case SigningRefused s:
                    // The signer guard would not sign (a double sign averted, or a guard state ahead of this node):
                    // the engine carries on without the message; the operator must hear of it.
                    Metrics.SigningRefused();
                    SignatureRefused?.Invoke(s);
                    break;
                default:
                    // Every action the engine can emit is handled above; a new one must be handled before it ships.
                    throw new InvalidOperationException($"the node loop does not handle the consensus action {action.GetType().Name}");
            }
        }
    }

    private void DrainLocal()
    {
        var engine = _validator.Consensus.Engine;
        while (_local.TryDequeue(out var pending))
        {
            if (pending.Compact is { } compact)
            {
                OnCompactProposal(compact, pending.From!.Value);
                continue;
            }
            if (pending.Event is { } ev)
            {
                Feed(ev, pending.From);
                continue;
            }
            var request = pending.Request!;
            bool current = request switch
            {
                BuildBlockRequest b => b.Height == engine.Height && b.Round == engine.Round,
                VerifyProposalRequest v => v.Height == engine.Height,
                _ => false,
            };
            if (!current) continue;
            long buildAt = _heightStartedMs + (long)_options.MinBlockInterval.TotalMilliseconds;
            if (request is BuildBlockRequest && NowMs < buildAt && _validator.Mempool.Count == 0)
            {
                // Nothing to propose yet: wait (an idle chain does not commit empty blocks back to back), and build as
                // soon as a transaction is admitted (WakeForTransactions) or the interval is over (a tick). Pending
                // transactions never wait.
                _deferredBuild = pending;
                _buildAtMs = buildAt;
                continue;
            }
            if (request is VerifyProposalRequest verify)
            {
                RequestVerification(verify);
                continue;
            }
            _verifier.Settle(decided: null); // the executor builds one block at a time, verifications included
            long startedAt = _stages.Now;
            if (_validator.Answer(request, (ulong)NowMs) is not { } answer) continue;
            _stages.Built(startedAt);
            if (answer is BlockBuilt built && _options.Faults.TamperInferenceOutputs)
                answer = new BlockBuilt(built.Height, built.Round, InferenceTampering.Tamper(_validator.Executor, built.Block));
            Feed(answer, from: null);
        }
    }

    // Re-execution runs on the verifier's worker, never on the loop; its verdict comes back as an input (FeedVerdicts).
    private void RequestVerification(VerifyProposalRequest request)
    {
        // Restarted mid-height: the WAL gave the engine this block's verdict already; a second one would only repeat it.
        if (_validator.Consensus.ReplayedVerdicts.Contains(request.Block.Hash))
        {
            Metrics.VerdictReplayed();
            return;
        }
        _verifier.Request(request);
    }

    // On the loop: each finished verification is fed to consensus like any local input (the runner writes it to the
    // WAL before the engine sees it, so a restart replays this verdict), unless its height was decided meanwhile.
    private void FeedVerdicts()
    {
        while (_verdicts.TryDequeue(out var verified))
        {
            // A verification the executor could not run (a store failure) stops the node as it did on the loop.
            if (verified.Failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            var verdict = verified.Verdict!;
            if (verdict.Height != _validator.Consensus.Engine.Height)
            {
                Metrics.VerdictStale(); // decided (by others' votes or by sync) before re-execution finished
                continue;
            }
            _stages.Verified(verified.Ms);
            Feed(verdict, from: null);
            DrainLocal();
        }
    }

    private void OnDecided(Block block, Commit commit)
    {
        // Committed state must not change under a verification: wait for the one in flight (of this height: the commit
        // reuses its execution when it verified this block) and drop those queued for this height.
        _verifier.Settle(block.Height);
        long commitStart = _stages.Now;
        var receipts = _validator.CommitBlock(block, commit);
        long commitEnd = _stages.Now;
        long now = NowMs;
        long latency = now - _heightStartedMs;
        _heightStartedMs = now;
        Metrics.SetHeight(block.Height.Value);
        Metrics.SetLastRound(commit.Round.Value);
        Metrics.SetLastFinalityMs(latency);
        if (_syncing) Metrics.BlockSynced();
        // Timeouts of the decided height can no longer matter.
        ulong current = _validator.Consensus.Engine.Height.Value;
        if (_timers.UnorderedItems.Any(t => t.Element.Height.Value < current))
        {
            var live = _timers.UnorderedItems.Where(t => t.Element.Height.Value >= current).ToList();
            _timers.Clear();
            foreach (var (t, due) in live) _timers.Enqueue(t, due);
        }
        BlockCommitted?.Invoke(new BlockCommitted(block.Height.Value, block, receipts, commit.Round.Value, latency, _syncing));
        ForgetPendingProposals();
        foreach (var f in _future.TakeReady(current)) _local.Enqueue(new PendingEvent(f.Event, null, f.From, f.Compact));
        BroadcastStatus(); // peers learn at once that they can sync from us
        var stages = _stages.Finish(block.Height.Value, commit.Round.Value, _syncing, commitStart, commitEnd);
        LastStages = stages;
        HeightTraced?.Invoke(stages);
    }

    /// <summary>Where the last height's time went (stage tracing; also exported as <c>chain_height_stage_seconds</c>).</summary>
    public HeightStageTimes? LastStages { get; private set; }

    /// <summary>Raised on the loop after each committed height with its stage durations.</summary>
    public event Action<HeightStageTimes>? HeightTraced;
}
