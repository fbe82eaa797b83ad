using System.Collections.Concurrent;
using System.Threading.Channels;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// A validator on a network: one <see cref="ValidatorNode"/> driven by one event loop. Network callbacks and the
/// clock only enqueue into a bounded channel; the loop alone touches consensus, storage commits and sync state,
/// so none of that needs locks. See docs/node.md for the channels, gossip rules and block sync protocol.
/// </summary>
public sealed class FullNode : IAsyncDisposable
{
    private const int RecentMisbehaviourKept = 64;

    private readonly FullNodeOptions _options;
    private readonly IPeerNetwork _network;
    private readonly ValidatorNode _validator;
    private readonly Channel<NodeInput> _inputs;
    private readonly FutureMessageBuffer<(ConsensusEvent Event, PeerId From)> _future;
    private readonly BlockSyncClient _sync;
    private readonly PriorityQueue<TimeoutElapsed, long> _timers = new();
    private readonly Queue<PendingEvent> _local = new();
    private readonly ConcurrentQueue<string> _recentMisbehaviour = new();
    private readonly CancellationTokenSource _stop = new();
    private IReadOnlyList<ConsensusAction>? _startActions;
    private ITimer? _ticker;
    private Task? _loop;
    private int _tickQueued;
    private long _heightStartedMs, _nextRegossipMs, _nextStatusMs;
    private bool _syncing; // the decision being applied came from block sync
    private int _stopped;

    /// <summary>Opens the node's store and consensus state (replaying the WAL). Call <see cref="Start"/> to run it.</summary>
    /// <param name="network">The peer network; the node owns it from here on and disposes it on <see cref="StopAsync"/>.</param>
    public FullNode(FullNodeOptions options, IPeerNetwork network)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(network);
        options.Validate();
        _options = options;
        _network = network;
        _validator = new ValidatorNode(options.Name, options.Home, options.Genesis, options.Key, options.Engine, options.Timeouts, (ulong)NowMs,
            out _startActions);
        _future = new(options.MaxFutureHeights, options.MaxFutureMessagesPerHeight);
        _sync = new BlockSyncClient(options.SyncRequestTimeout, options.SyncGrace, options.SyncBatchBlocks);
        _inputs = Channel.CreateBounded<NodeInput>(new BoundedChannelOptions(options.InputQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: a full queue refuses, and we count the drop
            SingleReader = true,
        });
        Metrics.SetHeight(_validator.Executor.Height.Value);
    }

    public string Name => _options.Name;
    public Address Address => _validator.Address;
    public NodeMetrics Metrics { get; } = new();
    /// <summary>The chain this node stores (thread-safe reads).</summary>
    public ChainExecutor Executor => _validator.Executor;
    public Mempool Mempool => _validator.Mempool;
    /// <summary>Why the loop stopped on its own (an exception it could not handle), or null.</summary>
    public Exception? Failure { get; private set; }
    /// <summary>The last few reasons this node reported peers for (newest last).</summary>
    public IReadOnlyList<string> RecentMisbehaviour => _recentMisbehaviour.ToArray();

    /// <summary>Raised on the loop for each stored block; handlers must be quick and must not call back into the loop.</summary>
    public event Action<BlockCommitted>? BlockCommitted;
    /// <summary>Raised on the loop for evidence the consensus runner verified and pooled.</summary>
    public event Action<Evidence>? EvidenceRecorded;

    private long NowMs => _options.Time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Subscribes to the network and starts the loop and its clock.</summary>
    public void Start()
    {
        if (_loop is not null) throw new InvalidOperationException($"{Name} is already started");
        _network.MessageReceived += OnMessage;
        _network.PeerConnected += OnPeerConnected;
        _network.PeerDisconnected += OnPeerDisconnected;
        // Peers connected before we subscribed would otherwise never get our status and messages.
        foreach (var peer in _network.ConnectedPeers) Enqueue(new PeerConnectedInput(peer));
        _loop = Task.Run(RunAsync);
        _ticker = _options.Time.CreateTimer(_ => OnTick(), null, _options.TickInterval, _options.TickInterval);
    }

    /// <summary>
    /// Admits a transaction to the mempool and gossips it; the refusal (nothing changed) otherwise. Thread-safe:
    /// the mempool has its own lock, and the network only queues.
    /// </summary>
    public Rejection? Submit(SignedTransaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) == 1, this); // the store may be closed already
        var rejection = _validator.Mempool.Add(tx);
        if (rejection is null) Gossip(tx, except: null);
        return rejection;
    }

    /// <summary>Stops the loop and the clock, leaves the network (disposing it) and closes the store. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _network.MessageReceived -= OnMessage;
        _network.PeerConnected -= OnPeerConnected;
        _network.PeerDisconnected -= OnPeerDisconnected;
        if (_ticker is not null) await _ticker.DisposeAsync();
        _stop.Cancel();
        _inputs.Writer.TryComplete();
        if (_loop is not null) await _loop;
        _network.Dispose();
        _validator.Dispose();
        _stop.Dispose();
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    // ---- network and clock callbacks: enqueue only ----

    private void OnMessage(PeerMessage message) => Enqueue(new PeerMessageInput(message));
    private void OnPeerConnected(PeerId peer) => Enqueue(new PeerConnectedInput(peer));
    private void OnPeerDisconnected(PeerId peer) => Enqueue(new PeerDisconnectedInput(peer));

    private void OnTick()
    {
        // At most one tick waits in the queue: a slow loop must not be buried under ticks.
        if (Interlocked.Exchange(ref _tickQueued, 1) == 0 && !Enqueue(new TickInput())) Volatile.Write(ref _tickQueued, 0);
    }

    private bool Enqueue(NodeInput input)
    {
        if (_inputs.Writer.TryWrite(input)) return true;
        Metrics.InputDropped();
        return false;
    }

    // ---- the loop ----

    private async Task RunAsync()
    {
        try
        {
            long now = NowMs;
            _heightStartedMs = now;
            Execute(_startActions!, from: null);
            _startActions = null;
            DrainLocal();
            BroadcastStatus();
            await foreach (var input in _inputs.Reader.ReadAllAsync(_stop.Token))
            {
                Process(input);
                DrainLocal();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // StopAsync
        }
        catch (Exception e)
        {
            // Fail-stop: a node that cannot apply what consensus decided must not carry on guessing.
            Failure = e;
        }
    }

    private void Process(NodeInput input)
    {
        switch (input)
        {
            case PeerMessageInput m:
                Metrics.MessageIn();
                OnPeerMessage(m.Message);
                break;
            case PeerConnectedInput c:
                Metrics.SetPeers(_network.ConnectedPeers.Count);
                _network.Send(c.Peer, MessageChannel.Status, new PeerStatus(_validator.Executor.Height).Encoded.ToArray());
                foreach (var ev in RegossipMessages()) _network.Send(c.Peer, MessageChannel.Consensus, ConsensusMessages.Encode(ev));
                break;
            case PeerDisconnectedInput d:
                Metrics.SetPeers(_network.ConnectedPeers.Count);
                _sync.PeerGone(d.Peer);
                break;
            case TickInput:
                Volatile.Write(ref _tickQueued, 0);
                OnTickOnLoop(NowMs);
                break;
        }
    }

    private void OnTickOnLoop(long now)
    {
        var engine = _validator.Consensus.Engine;
        while (_timers.TryPeek(out var timeout, out var due) && due <= now)
        {
            _timers.Dequeue();
            if (timeout.Height == engine.Height) Feed(timeout, from: null);
            DrainLocal();
        }
        if (now >= _nextRegossipMs)
        {
            _nextRegossipMs = now + (long)_options.RegossipInterval.TotalMilliseconds;
            foreach (var ev in RegossipMessages()) _network.Broadcast(MessageChannel.Consensus, ConsensusMessages.Encode(ev));
        }
        if (now >= _nextStatusMs)
        {
            _nextStatusMs = now + (long)_options.StatusInterval.TotalMilliseconds;
            BroadcastStatus();
        }
        RequestBlocksIfBehind(now);
    }

    /// <summary>The current height's proposal and votes (own and those a lagging peer needs), without the status event.</summary>
    private IEnumerable<ConsensusEvent> RegossipMessages() =>
        _validator.Consensus.Engine.GossipMessages().Where(e => e is ProposalReceived or VoteReceived);

    private void BroadcastStatus() =>
        _network.Broadcast(MessageChannel.Status, new PeerStatus(_validator.Executor.Height).Encoded.ToArray());

    private void OnPeerMessage(PeerMessage m)
    {
        switch (m.Channel)
        {
            case MessageChannel.Consensus: OnConsensusMessage(m.From, m.Payload); break;
            case MessageChannel.Transactions: OnTransactionMessage(m.From, m.Payload); break;
            case MessageChannel.Sync: OnSyncMessage(m.From, m.Payload); break;
            case MessageChannel.Status: OnStatusMessage(m.From, m.Payload); break;
            default: Refuse(m.From, $"message on unknown channel {(byte)m.Channel}"); break;
        }
    }

    // ---- consensus ----

    private void OnConsensusMessage(PeerId from, byte[] payload)
    {
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
                    if (!_future.TryAdd(current, height, (message, from))) Metrics.FutureDropped();
                    return;
                }
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
                    _network.Broadcast(MessageChannel.Consensus, ConsensusMessages.Encode(new ProposalReceived(p.Proposal, p.Block)));
                    break;
                case BroadcastVote v:
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
                    OnDecided(c.Block, c.Commit);
                    break;
                case RecordEvidence e:
                    EvidenceRecorded?.Invoke(e.Evidence);
                    break;
                case MessageRejected r when from is { } peer && ReferenceEquals(r.Message, input):
                    Metrics.MessageRefused();
                    if (IsPeerFault(r.Reason)) Report(peer, r.Reason);
                    break;
            }
        }
    }

    /// <summary>
    /// Engine refusals that prove the sender sent something no honest node sends (a bad signature, a non-validator,
    /// a body that does not match its header). Height and round mismatches and competing proposals are not:
    /// an honest peer can relay those.
    /// </summary>
    private static bool IsPeerFault(string reason) =>
        reason.Contains("signature does not verify") || reason.Contains("is not a validator") || reason.Contains("is not the proposer")
        || reason.Contains("does not match") || reason.Contains("decision's commit");

    private void DrainLocal()
    {
        var engine = _validator.Consensus.Engine;
        while (_local.TryDequeue(out var pending))
        {
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
            if (_validator.Answer(request, (ulong)NowMs) is not { } answer) continue;
            if (answer is BlockBuilt built && _options.Faults.TamperInferenceOutputs)
                answer = new BlockBuilt(built.Height, built.Round, InferenceTampering.Tamper(_validator.Executor, built.Block));
            Feed(answer, from: null);
        }
    }

    private void OnDecided(Block block, Commit commit)
    {
        var receipts = _validator.CommitBlock(block, commit);
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
        foreach (var (ev, from) in _future.TakeReady(current)) _local.Enqueue(new PendingEvent(ev, null, from));
        BroadcastStatus(); // peers learn at once that they can sync from us
    }

    // ---- transactions ----

    private void OnTransactionMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<SignedTransaction>(payload, out var tx, out var error))
        {
            Refuse(from, $"undecodable transaction: {error!.Message}");
            return;
        }
        var rejection = _validator.Mempool.Add(tx!);
        if (rejection is null)
        {
            Gossip(tx!, except: from); // only newly accepted transactions travel on: no gossip storms
            return;
        }
        // Duplicates, nonce races and a full pool are normal with gossip; these are not.
        if (rejection.Code is RejectCode.InvalidSignature or RejectCode.WrongChainId or RejectCode.TooLarge)
            Refuse(from, $"transaction {tx!.Hash}: {rejection}");
    }

    private void Gossip(SignedTransaction tx, PeerId? except)
    {
        _network.Broadcast(MessageChannel.Transactions, tx.Encoded.ToArray(), except);
        Metrics.TransactionGossiped();
    }

    // ---- status and block sync ----

    private void OnStatusMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<PeerStatus>(payload, out var status, out var error))
        {
            Refuse(from, $"undecodable status: {error!.Message}");
            return;
        }
        _sync.PeerHeight(from, status!.LatestHeight.Value);
        Metrics.SetSyncTarget(Math.Max(_sync.TargetHeight, _validator.Executor.Height.Value));
        RequestBlocksIfBehind(NowMs);
    }

    private void RequestBlocksIfBehind(long now)
    {
        if (_sync.Next(_validator.Executor.Height.Value, now) is not { } request) return;
        var bytes = new SyncRequest(new Height(request.From), request.Count).Encoded.ToArray();
        if (!_network.Send(request.Peer, MessageChannel.Sync, bytes)) _sync.Completed(request.Peer, bad: true, now);
    }

    private void OnSyncMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<SyncMessage>(payload, out var message, out var error))
        {
            Refuse(from, $"undecodable sync message: {error!.Message}");
            if (_sync.IsAwaiting(from)) _sync.Completed(from, bad: true, NowMs);
            return;
        }
        switch (message)
        {
            case SyncRequest request:
                _network.Send(from, MessageChannel.Sync, BlockSyncServer.Respond(_validator.Executor.Blocks, _validator.Executor.Height, request,
                    _options.SyncResponseByteBudget).Encoded.ToArray());
                break;
            case SyncResponse response:
                if (!_sync.IsAwaiting(from)) return; // late (we gave up on it) or unsolicited: ignore, it changes nothing
                ApplySyncResponse(from, response);
                break;
        }
    }

    private void ApplySyncResponse(PeerId from, SyncResponse response)
    {
        bool bad = response.Blocks.Count == 0; // nothing to give after all: ask someone else
        foreach (var synced in response.Blocks)
        {
            ulong expected = _validator.Executor.Height.Value + 1;
            if (synced.Block.Height.Value < expected) continue; // consensus decided it here meanwhile
            if (synced.Block.Height.Value > expected)
            {
                Refuse(from, $"sync response skips from height {expected} to {synced.Block.Height}");
                bad = true;
                break;
            }
            _syncing = true;
            bool ok;
            string reason;
            try
            {
                ok = TryApplyDecided(synced.Block, synced.Commit, out reason);
            }
            finally
            {
                _syncing = false;
            }
            if (!ok)
            {
                Refuse(from, $"synced block {expected}: {reason}");
                bad = true;
                break;
            }
            DrainLocal();
        }
        _sync.Completed(from, bad, NowMs);
        Metrics.SetSyncTarget(Math.Max(_sync.TargetHeight, _validator.Executor.Height.Value));
        RequestBlocksIfBehind(NowMs); // the next batch at once
    }

    /// <summary>
    /// Verifies a decided block completely (its commit under the validator set, its body against its header,
    /// and re-execution, inference included) and hands it to consensus as a decision, which commits it and
    /// moves to the next height. Nothing is stored when any check fails.
    /// </summary>
    private bool TryApplyDecided(Block block, Commit commit, out string reason)
    {
        var engine = _validator.Consensus.Engine;
        var chainId = _options.Genesis.ChainId;
        if (block.Height != engine.Height)
        {
            reason = $"block is for height {block.Height}, this node is at {engine.Height}";
            return false;
        }
        if (!commit.Verify(chainId, _options.Genesis.Validators, block.Height, block.Hash, out var commitReason))
        {
            reason = $"commit does not finalize block {block.Hash}: {commitReason}";
            return false;
        }
        if (!block.ValidateBasic(chainId, out var basic))
        {
            reason = $"block body does not match its header: {basic}";
            return false;
        }
        var verdict = _validator.Executor.VerifyProposal(block);
        if (!verdict.Accepted)
        {
            reason = $"re-execution refuses the block: {verdict.Failure}";
            return false;
        }
        Feed(new DecisionReceived(block, commit), from: null);
        if (engine.Height == block.Height)
        {
            reason = "consensus did not accept the decision";
            return false;
        }
        reason = "";
        return true;
    }

    private void Refuse(PeerId peer, string reason)
    {
        Metrics.MessageRefused();
        Report(peer, reason);
    }

    private void Report(PeerId peer, string reason)
    {
        Metrics.Misbehaviour();
        _network.ReportMisbehaviour(peer, reason);
        _recentMisbehaviour.Enqueue(reason);
        while (_recentMisbehaviour.Count > RecentMisbehaviourKept) _recentMisbehaviour.TryDequeue(out _);
    }
}
