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
public sealed partial class FullNode : IAsyncDisposable
{
    private const int RecentMisbehaviourKept = 64;

    private readonly FullNodeOptions _options;
    private readonly IPeerNetwork _network;
    private readonly ValidatorNode _validator;
    private readonly Channel<NodeInput> _inputs;
    private readonly FutureMessageBuffer<FutureMessage> _future;
    private readonly RegossipSchedule _regossip;
    private readonly BlockSyncClient _sync;
    private readonly SyncServeLimiter _syncServeLimit;
    private readonly QueuedBytes _queuedPeerBytes;
    private readonly HeightStageClock _stages;
    private readonly ProposalVerifier _verifier;
    private readonly ConcurrentQueue<VerifiedProposal> _verdicts = new();
    private readonly PriorityQueue<TimeoutElapsed, long> _timers = new();
    private readonly Queue<PendingEvent> _local = new();
    private readonly ConcurrentQueue<string> _recentMisbehaviour = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _reportLock = new();
    private IReadOnlyList<ConsensusAction>? _startActions;
    private ITimer? _ticker;
    private Task? _loop;
    private Task? _preExecution;
    private Exception? _preExecutionFailure;
    private int _tickQueued, _verdictsQueued, _arrivalQueued;
    // Set by the loop: it waits for transactions (a deferred proposal, a proposal missing bodies), so the threads that
    // admit them wake it at once rather than at the next tick.
    private volatile bool _waitsForTransactions;
    private long _heightStartedMs, _nextStatusMs;
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
            out _startActions, options.MaxBlockTransactions, options.Mempool, options.Faults.WrapStore);
        _future = new(options.MaxFutureHeights, options.MaxFutureMessagesPerHeight);
        _regossip = new((long)options.RegossipInterval.TotalMilliseconds);
        _sync = new BlockSyncClient(options.SyncRequestTimeout, options.SyncGrace, options.SyncBatchBlocks);
        _queuedPeerBytes = new QueuedBytes(options.InputQueueBytes);
        _stages = new HeightStageClock(options.Time);
        _syncServeLimit = new SyncServeLimiter(options.SyncServeBytesPerSecond, burstBytes: Math.Max(options.SyncServeBytesPerSecond, SyncLimits.MaxResponseBytes),
            totalBytesPerSecond: options.SyncServeTotalBytesPerSecond);
        _inputs = Channel.CreateBounded<NodeInput>(new BoundedChannelOptions(options.InputQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: a full queue refuses, and we count the drop
            SingleReader = true,
        });
        _transactionMessages = NewTransactionQueue(options.TransactionQueueCapacity);
        _gossipBuffer = new TransactionGossipBuffer(SendBatch, _options.Time, _options.TickInterval);
        _relay = new TransactionRelay((long)options.PartsRequestTimeout.TotalMilliseconds);
        Metrics.SetHeight(_validator.Executor.Height.Value);
        _validator.Mempool.PreExecutionFailed += OnPreExecutionFailed;
        _validator.Mempool.PreExecutionCaughtUp += () =>
        {
            if (_waitsForTransactions) WakeForTransactions(); // a deferred proposal may be waiting for this
        };
        _verifier = new ProposalVerifier(_validator.Executor, options.Time, Metrics, OnProposalVerified, options.VerificationQueueCapacity);
    }

    /// <summary>The name of the thread that re-executes proposals (off the loop; one at a time).</summary>
    public const string VerifierThreadName = ProposalVerifier.ThreadName;

    public string Name => _options.Name;
    /// <summary>The state tree, for proofs served by the RPC.</summary>
    public JellyfishStateBackend State => _validator.State;
    /// <summary>Inference as execution runs it (its <see cref="InferenceRunner.Computed"/> event feeds metrics).</summary>
    public InferenceRunner Inference => _validator.Inference;
    public Address Address => _validator.Address;
    public NodeMetrics Metrics { get; } = new();
    /// <summary>The chain this node stores (thread-safe reads).</summary>
    public ChainExecutor Executor => _validator.Executor;
    public Mempool Mempool => _validator.Mempool;
    /// <summary>Why the loop stopped on its own (an exception it could not handle), or null.</summary>
    public Exception? Failure { get; private set; }
    /// <summary>The last exception a pre-execution threw (each is also raised as <see cref="PreExecutionFailed"/>), or null.</summary>
    public Exception? PreExecutionFailure => Volatile.Read(ref _preExecutionFailure);
    /// <summary>
    /// Raised on the pre-execution worker for each Infer transaction whose pre-execution threw (the transaction stays
    /// pending; block execution runs its inference itself). <c>chain start</c> logs it with the exception.
    /// </summary>
    public event Action<Hash32, Exception>? PreExecutionFailed;
    /// <summary>The last few reasons this node reported peers for (newest last).</summary>
    public IReadOnlyList<string> RecentMisbehaviour => _recentMisbehaviour.ToArray();

    /// <summary>Raised on the loop for each stored block; handlers must be quick and must not call back into the loop.</summary>
    public event Action<BlockCommitted>? BlockCommitted;
    /// <summary>Raised on the loop for evidence the consensus runner verified and pooled.</summary>
    public event Action<Evidence>? EvidenceRecorded;
    /// <summary>Raised on the loop when the signer guard refused to sign a proposal or vote (also counted in <see cref="NodeMetrics.SigningRefusals"/>).</summary>
    public event Action<SigningRefused>? SignatureRefused;
    /// <summary>
    /// Raised once, on the loop's thread and before the loop ends, when the loop stops on an exception it cannot
    /// handle (<see cref="Failure"/>). Handlers log it synchronously: nothing else of the node runs after this.
    /// </summary>
    public event Action<Exception>? Failed;

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
        _verifier.Start(); // before the loop: the WAL's start actions may already ask for a verification
        _loop = Task.Run(RunAsync);
        // The mempool's pre-execution worker: one thread's worth of inference ahead of consensus, fed by a bounded
        // queue (MempoolOptions.PreExecutionQueueCapacity), stopped by StopAsync before the store closes.
        _preExecution = Task.Run(RunPreExecutionAsync);
        _transactionWorker = Task.Run(RunTransactionWorkerAsync);
        _ticker = _options.Time.CreateTimer(_ => OnTick(), null, _options.TickInterval, _options.TickInterval);
    }

    /// <summary>
    /// Admits a transaction to the mempool and queues it for gossip (the next batch, at the latest on the next tick);
    /// the refusal (nothing changed) otherwise. Thread-safe: the mempool and the gossip buffer have their own locks.
    /// </summary>
    public Rejection? Submit(SignedTransaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) == 1, this); // the store may be closed already
        var rejection = _validator.Mempool.Add(tx);
        if (rejection is null && (_gossipBuffer.Add(tx) | _waitsForTransactions)) WakeForTransactions();
        return rejection;
    }

    /// <summary>A batch, admitted in order with its signatures checked on every core first (<see cref="Mempool.AddRange"/>); admitted ones are queued for gossip.</summary>
    public IReadOnlyList<Rejection?> SubmitRange(IReadOnlyList<SignedTransaction> transactions)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) == 1, this);
        var rejections = _validator.Mempool.AddRange(transactions);
        bool wake = false;
        for (var i = 0; i < transactions.Count; i++)
            if (rejections[i] is null) wake |= _gossipBuffer.Add(transactions[i]) | _waitsForTransactions;
        if (wake) WakeForTransactions();
        return rejections;
    }

    /// <summary>
    /// Evidence from outside (POST /evidence, e.g. a light client's conflicting header): strictly decoded and verified
    /// here, against the committed chain as the next block would judge it, then pooled by the loop for the blocks this
    /// node proposes. Thread-safe: only executor reads here, and the pool is touched on the loop.
    /// </summary>
    /// <returns>The verified evidence and whether it is already in a committed block; null with <paramref name="refusal"/> otherwise.</returns>
    public Evidence? SubmitEvidence(ReadOnlyMemory<byte> encoded, out bool committed, out string refusal)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) == 1, this);
        var evidence = VerifyEvidence(encoded, out committed, out refusal);
        if (evidence is null) return null;
        if (!committed && !Enqueue(new EvidenceInput(evidence)))
        {
            refusal = "the node is too busy to take it now; retry";
            return null;
        }
        return evidence;
    }

    // The checks evidence from outside (RPC or a peer) gets before it is pooled: the pool has room; it is not
    // invalid-proposal evidence (proven by re-executing a block: validators gather it themselves in consensus, and no
    // client or peer may make this node re-execute blocks on demand); it decodes strictly and verifies against this
    // node's chain as a block at the next height would. `committed`: a block already carries it.
    private Evidence? VerifyEvidence(ReadOnlyMemory<byte> encoded, out bool committed, out string refusal)
    {
        committed = false;
        var executor = _validator.Executor;
        if (encoded.Length >= 2 && encoded.Span[1] == Evidence.KindInvalidProposal)
        {
            refusal = "invalid-proposal evidence is not taken from outside (validators gather it in consensus)";
            return null;
        }
        if (_validator.Consensus.Evidence.IsFull(encoded.Length))
        {
            refusal = $"the evidence pool is full ({_validator.Consensus.Evidence.Count} items); retry later";
            return null;
        }
        var check = new EvidenceVerifier(_options.Genesis.ChainId).Check(encoded, executor.Height.Next, executor, _ => false, out refusal);
        if (check is null) return null;
        committed = executor.GetEvidence(check.Hash) is not null;
        return Canonical.Decode<Evidence>(encoded); // decodes: the verifier did
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
        _verifier.Dispose(); // it reads the store: it ends (after the verification in flight) before the store closes
        _transactionMessages.Writer.TryComplete();
        if (_transactionWorker is not null) await _transactionWorker; // it reads the store too
        if (_preExecution is not null) await _preExecution; // it reads the store: it must end before the store closes
        _network.Dispose();
        _validator.Dispose();
        _stop.Dispose();
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    // ---- mempool pre-execution ----

    private async Task RunPreExecutionAsync()
    {
        try
        {
            await _validator.Mempool.RunPreExecutionAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Single failures are reported by the mempool and the worker goes on; this is the worker itself failing.
            OnPreExecutionFailed(default, e);
        }
    }

    private void OnPreExecutionFailed(Hash32 transaction, Exception e)
    {
        Volatile.Write(ref _preExecutionFailure, e);
        PreExecutionFailed?.Invoke(transaction, e);
    }

    // ---- network and clock callbacks: enqueue only ----

    // Peer payloads waiting in the queue are bounded in bytes too: 8192 maximal messages would be gigabytes.
    private void OnMessage(PeerMessage message)
    {
        if (!_queuedPeerBytes.TryAdd(message.Payload.Length))
        {
            Metrics.InputDropped();
            return;
        }
        if (message.Channel is MessageChannel.Transactions or MessageChannel.TransactionRelay)
        {
            EnqueueTransactionMessage(message); // the gossip worker's queue: admission never holds up the loop
            return;
        }
        if (!Enqueue(new PeerMessageInput(message))) _queuedPeerBytes.Remove(message.Payload.Length); // Enqueue counted the drop
    }

    private void OnPeerConnected(PeerId peer)
    {
        OnRelayPeersChanged(peer, connected: true);
        Enqueue(new PeerConnectedInput(peer));
    }

    private void OnPeerDisconnected(PeerId peer)
    {
        OnRelayPeersChanged(peer, connected: false);
        Enqueue(new PeerDisconnectedInput(peer));
    }

    // The verifier's worker: the verdict waits in _verdicts and at most one wake-up waits in the input queue (a full
    // queue refuses it; the next tick feeds the verdict then), so no verdict is lost to a busy loop.
    private void OnProposalVerified(VerifiedProposal verified)
    {
        _verdicts.Enqueue(verified);
        if (Interlocked.Exchange(ref _verdictsQueued, 1) == 0 && !Enqueue(new VerdictsInput())) Volatile.Write(ref _verdictsQueued, 0);
    }

    private void OnTick()
    {
        RelayTick(); // off the loop: transaction relay has its own lock
        // At most one tick waits in the queue: a slow loop must not be buried under ticks.
        if (Interlocked.Exchange(ref _tickQueued, 1) == 0 && !Enqueue(new TickInput())) Volatile.Write(ref _tickQueued, 0);
    }

    /// <summary>Transactions were admitted: the loop flushes a quiet gossip buffer and ends what waited for them now.</summary>
    private void WakeForTransactions()
    {
        if (Interlocked.Exchange(ref _arrivalQueued, 1) == 0 && !Enqueue(new TransactionsArrivedInput())) Volatile.Write(ref _arrivalQueued, 0);
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
            _waitsForTransactions = _deferredBuild is not null;
            BroadcastStatus();
            await foreach (var input in _inputs.Reader.ReadAllAsync(_stop.Token))
            {
                Process(input);
                DrainLocal();
                _waitsForTransactions = _deferredBuild is not null || _pendingProposals.Count > 0;
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
            try
            {
                Failed?.Invoke(e);
            }
            catch
            {
                // A failing handler must not hide the failure; Failure still tells it.
            }
        }
    }

    private void Process(NodeInput input)
    {
        switch (input)
        {
            case PeerMessageInput m:
                _queuedPeerBytes.Remove(m.Message.Payload.Length);
                Metrics.MessageIn();
                OnPeerMessage(m.Message);
                break;
            case PeerConnectedInput c:
                Metrics.SetPeers(_network.ConnectedPeers.Count);
                _network.Send(c.Peer, MessageChannel.Status, new PeerStatus(_validator.Executor.Height).Encoded.ToArray());
                foreach (var ev in RegossipMessages()) _network.Send(c.Peer, MessageChannel.Consensus, EncodeForPeers(ev));
                break;
            case PeerDisconnectedInput d:
                Metrics.SetPeers(_network.ConnectedPeers.Count);
                _sync.PeerGone(d.Peer);
                _syncServeLimit.Forget(d.Peer);
                break;
            case EvidenceInput e:
                // New to this node: pass it on, so it reaches a proposer even if this node never proposes.
                if (_validator.Consensus.Evidence.Add(e.Evidence))
                {
                    if (e.From is not null) Metrics.EvidenceFromPeer();
                    _network.Broadcast(MessageChannel.Evidence, e.Evidence.Encoded.ToArray(), except: e.From);
                }
                break;
            case VerdictsInput:
                Volatile.Write(ref _verdictsQueued, 0);
                FeedVerdicts();
                break;
            case TransactionsArrivedInput:
                Volatile.Write(ref _arrivalQueued, 0);
                _gossipBuffer.Flush();
                long arrivedAt = NowMs;
                ReleaseDeferredBuild(arrivedAt);
                RetryPendingProposals(arrivedAt);
                break;
            case TickInput:
                Volatile.Write(ref _tickQueued, 0);
                FeedVerdicts();
                _gossipBuffer.Flush(); // transactions admitted since the last tick leave as one batch
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
        ReleaseDeferredBuild(now);
        if (_regossip.Due(engine.Height, engine.Round, engine.Step, now))
        {
            Metrics.Regossiped();
            foreach (var ev in RegossipMessages()) _network.Broadcast(MessageChannel.Consensus, EncodeForPeers(ev));
        }
        if (now >= _nextStatusMs)
        {
            _nextStatusMs = now + (long)_options.StatusInterval.TotalMilliseconds;
            BroadcastStatus();
        }
        RetryPendingProposals(now);
        RequestBlocksIfBehind(now);
    }

    // A proposal deferred for want of transactions is built once one is here and pre-executed (building sooner would
    // run its inference on the loop), or once the minimum block interval is over.
    private void ReleaseDeferredBuild(long now)
    {
        if (_deferredBuild is not { } build) return;
        var pool = _validator.Mempool;
        if (now < _buildAtMs && !(pool.Count > 0 && pool.PreExecutionIdle)) return;
        _deferredBuild = null;
        _local.Enqueue(build);
        DrainLocal();
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
            case MessageChannel.Sync: OnSyncMessage(m.From, m.Payload); break;
            case MessageChannel.Status: OnStatusMessage(m.From, m.Payload); break;
            case MessageChannel.Evidence: OnEvidenceMessage(m.From, m.Payload); break;
            default: Refuse(m.From, $"message on unknown channel {(byte)m.Channel}"); break;
        }
    }

    // Gossiped evidence gets the same checks as POST /evidence (SubmitEvidence): bounded, strictly decoded, verified
    // against this node's chain, no invalid-proposal re-execution on a peer's demand. A refusal is the sender's fault
    // unless the item is merely stale or already known here.
    private void OnEvidenceMessage(PeerId from, byte[] payload)
    {
        if (payload.Length > ConflictingHeader.MaxEncodedSize)
        {
            Refuse(from, $"evidence message of {payload.Length} bytes is over {ConflictingHeader.MaxEncodedSize}");
            return;
        }
        var evidence = VerifyEvidence(payload, out bool committed, out var refusal);
        if (evidence is null)
        {
            if (refusal.Contains("cannot be included at height", StringComparison.Ordinal)) Metrics.MessageRefused(); // stale, not malice
            else Refuse(from, $"evidence: {refusal}");
            return;
        }
        if (!committed) Process(new EvidenceInput(evidence, from));
    }

    // ---- misbehaviour ----

    private void Refuse(PeerId peer, string reason)
    {
        Metrics.MessageRefused();
        Report(peer, reason);
    }

    // Called from the loop and the gossip worker: one report at a time reaches the network.
    private void Report(PeerId peer, string reason)
    {
        Metrics.Misbehaviour();
        lock (_reportLock) _network.ReportMisbehaviour(peer, reason);
        _recentMisbehaviour.Enqueue(reason);
        while (_recentMisbehaviour.Count > RecentMisbehaviourKept) _recentMisbehaviour.TryDequeue(out _);
    }
}
