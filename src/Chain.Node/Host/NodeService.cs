using System.Globalization;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Network;
using Chain.Network.Tcp;
using Chain.Rpc;
using Microsoft.Extensions.Logging;

namespace Chain.Node.Host;

/// <summary>Switches for tests of whole processes; never set in production configs.</summary>
public sealed record NodeServiceOptions
{
    /// <summary>Propose blocks with a wrong inference output (re-execution by the others must reject them).</summary>
    public bool TamperInferenceOutputs { get; init; }

    /// <summary>Wraps the node's store (e.g. one whose writes fail) to test how a node stops on a storage failure.</summary>
    public Func<Storage.IKeyValueStore, Storage.IKeyValueStore>? WrapStore { get; init; }

    /// <summary>Added to this node's wall clock (vote and proposal timestamps): a validator with a wrong clock.</summary>
    public TimeSpan ClockOffset { get; init; }
}

/// <summary>
/// A running validator as `chain start` runs it: the node home's config, genesis and keys; the TCP peer
/// network; the <see cref="FullNode"/> (store, execution, mempool, consensus, block sync); the HTTP RPC with
/// Prometheus metrics; structured logs. <see cref="StopAsync"/> shuts down in reverse order.
/// </summary>
public sealed class NodeService : IAsyncDisposable
{
    private readonly InferenceEngine _engine;
    private readonly TcpPeerNetwork _network;
    private readonly RpcServer? _rpc;
    private readonly ILogger _log;
    private readonly Timer _sampler;
    private long _bytesSent, _bytesReceived, _messagesSent, _messagesReceived;
    private int _stopped;

    private NodeService(NodeHome home, NodeConfig config, Genesis genesis, FullNode node, InferenceEngine engine, TcpPeerNetwork network,
        RpcServer? rpc, Rpc.NodeMetrics metrics, ILogger log, Task<Exception> failed)
    {
        _failed = failed;
        Home = home;
        Config = config;
        Genesis = genesis;
        Node = node;
        _engine = engine;
        _network = network;
        _rpc = rpc;
        Metrics = metrics;
        _log = log;
        _sampler = new Timer(_ => Sample(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public NodeHome Home { get; }
    public NodeConfig Config { get; }
    public Genesis Genesis { get; }
    public FullNode Node { get; }
    public Rpc.NodeMetrics Metrics { get; }
    public System.Net.IPEndPoint? P2pEndpoint => _network.ListenEndpoint;
    public Uri? RpcAddress => _rpc?.BaseAddress;

    /// <summary>Completes with the exception when the node's loop stops on a fatal error (already logged as critical).</summary>
    public Task<Exception> Failed => _failed;
    private readonly Task<Exception> _failed;

    /// <summary>
    /// What <c>chain start</c> does once started: runs until <paramref name="stop"/> is cancelled (a signal) or the node
    /// fails, then stops everything and returns the exit code (<see cref="NodeExitCodes"/>): 0 after a signal, 2 or 3
    /// after a fatal error, whose cause was logged as a critical line the moment it happened.
    /// </summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        // Task.Delay ends (cancelled) on the signal; WhenAny does not throw for it.
        await Task.WhenAny(Task.Delay(Timeout.Infinite, stop), _failed).ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
        return Node.Failure is { } failure ? NodeExitCodes.For(failure) : NodeExitCodes.Clean;
    }

    /// <summary>Opens the home and starts everything; throws <see cref="NodeConfigException"/> or <see cref="GenesisException"/> on a bad home.</summary>
    public static async Task<NodeService> StartAsync(NodeHome home, ILoggerFactory logs, NodeServiceOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NodeServiceOptions();
        var log = logs.CreateLogger("chain.node");
        if (!home.Exists) throw new NodeConfigException($"{home.Root} has no config.toml: run `chain init` or `chain testnet` first");
        var config = home.LoadConfig();
        var genesis = home.LoadGenesis();
        var validatorKey = home.LoadValidatorKey();
        var nodeKey = home.LoadNodeKey();

        var engine = new InferenceEngine(enableFastPath: config.Inference.FastPath, modelCacheBytes: config.Inference.ModelCacheBytes,
            reclaimer: MemoryReclaimer.Shared);
        foreach (var model in genesis.Models)
        {
            // Decide the executor for the genesis models now (self-check), not on the first block.
            var choice = engine.Load(model.Bytes);
            log.LogInformation("model {Model} {ModelId}: {Executor} ({Reason})", model.Name, choice.ModelId.ToString()[..12],
                choice.UsesFastPath ? "ONNX Runtime fast path" : "canonical executor", choice.Reason);
        }

        var peers = config.P2p.PersistentPeers.Select(p => PeerAddress.Parse(p)).ToList();
        var network = new TcpPeerNetwork(nodeKey, new TcpPeerNetworkOptions
        {
            ChainId = genesis.ChainId,
            ListenEndpoint = NodeConfig.ParseEndpoint(config.P2p.Listen, "p2p.listen"),
            PersistentPeers = peers,
            MaxPeers = config.P2p.MaxPeers,
            SendQueueMessages = config.P2p.SendQueueMessages,
            BanDuration = TimeSpan.FromSeconds(config.P2p.BanSeconds),
            BanAddresses = config.P2p.BanAddresses,
            ReconnectBackoffMax = TimeSpan.FromSeconds(5),
            Random = new Random(BitConverter.ToInt32(nodeKey.PublicKey.Bytes)),
        });
        var metrics = new Rpc.NodeMetrics();
        // A model that leaves the ONNX Runtime fast path at run time (a difference from canonical) counts once, with its cause.
        engine.FellBack += choice =>
        {
            metrics.OrtFallback(choice.ModelId);
            log.LogWarning("model {ModelId} fell back to the canonical executor: {Reason}", choice.ModelId.ToString()[..12], choice.Reason);
        };
        network.PeerConnected += p => log.LogInformation("peer {Peer} connected ({Count} peers)", p, network.ConnectedPeers.Count);
        network.PeerDisconnected += p => log.LogInformation("peer {Peer} disconnected ({Count} peers)", p, network.ConnectedPeers.Count);
        network.PeerBanned += (p, reason) => log.LogWarning("peer {Peer} banned: {Reason}", p, reason);
        network.ConnectionFailed += f => log.LogDebug("connection {Direction} {Remote} failed: {Reason}", f.Outbound ? "to" : "from", f.Remote, f.Reason);

        var node = new FullNode(new FullNodeOptions(config.Moniker, home.DataDirectory, genesis, validatorKey, engine)
        {
            Timeouts = config.Timeouts,
            Time = options.ClockOffset == TimeSpan.Zero ? TimeProvider.System : new OffsetTimeProvider(options.ClockOffset),
            MinBlockInterval = TimeSpan.FromMilliseconds(config.Consensus.MinBlockIntervalMs),
            MaxBlockTransactions = config.Consensus.MaxBlockTransactions,
            Faults = new FaultInjection { TamperInferenceOutputs = options.TamperInferenceOutputs, WrapStore = options.WrapStore },
        }, network);
        // The fatal path logs here, synchronously on the failing loop, before anything stops: nothing that runs later
        // (a timer, the shutdown) is needed for the cause to reach the log.
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        node.Failed += e =>
        {
            log.LogCritical(e, "fatal: the node's loop stopped at height {Height}: {Cause}; exiting with code {ExitCode}",
                node.Executor.Height.Value, NodeExitCodes.Describe(e), NodeExitCodes.For(e));
            failed.TrySetResult(e);
        };
        node.SignatureRefused += s =>
        {
            metrics.SigningRefused(s.Step.ToString());
            log.LogWarning("signing refused at height {Height} round {Round} step {Step}: {Reason}", s.Height.Value, s.Round.Value, s.Step, s.Reason);
        };
        if (options.TamperInferenceOutputs) log.LogWarning("fault injection: this node proposes blocks with tampered inference outputs");
        if (options.ClockOffset != TimeSpan.Zero) log.LogWarning("fault injection: this node's clock is offset by {OffsetMs} ms", (long)options.ClockOffset.TotalMilliseconds);

        var feed = new CommittedBlockFeed();
        var rpcNode = new FullNodeRpc(node, genesis, feed, nodeKey.PublicKey);
        node.BlockCommitted += c =>
        {
            feed.Publish(c.Block);
            metrics.BlockCommitted(c.Height, c.Round, c.Block.Transactions.Count, c.LatencyMs);
            if (ModelUploadBlocks.Carries(c.Block)) MemoryReclaimer.Shared.Request(); // its chunks' copies are garbage now (docs/execution.md, "RSS bound")
            log.LogInformation("committed height {Height} round {Round}: {Txs} txs, {Evidence} evidence, {LatencyMs} ms{Synced}, block {Block}",
                c.Height, c.Round, c.Block.Transactions.Count, c.Block.Evidence.Count, c.LatencyMs, c.Synced ? " (block sync)" : "", c.Block.Hash.ToString()[..12]);
        };
        node.HeightTraced += t => metrics.HeightStages(t.Stages());
        node.EvidenceRecorded += e => log.LogWarning("evidence recorded: {Kind} {Hash} at height {Height}", e.KindLabel, e.Hash, e.Height);
        // A block refused on fast-path results is judged again by the canonical executor; say what it decided.
        node.Executor.Disputed += d => log.LogWarning("inference dispute: {Dispute}", d);
        // Pre-execution never fails silently: each failure is logged with its exception (the transaction stays pending).
        node.PreExecutionFailed += (tx, e) => log.LogError(e, "pre-execution of transaction {Transaction} failed: {Reason}", tx.ToString()[..12], e.Message);
        node.Inference.Computed += (model, ms) =>
            metrics.InferenceRan(model, engine.Choices.Any(c => c.ModelId == model && c.UsesFastPath), ms);

        RpcServer? rpc = null;
        try
        {
            node.Start();
            network.Start();
            if (config.Rpc.Enabled)
            {
                var endpoint = NodeConfig.ParseEndpoint(config.Rpc.Listen, "rpc.listen");
                rpc = new RpcServer(rpcNode, metrics, new RpcOptions { Address = endpoint.Address, Port = endpoint.Port, MaxConnectionsPerClient = config.Rpc.MaxConnectionsPerClient,
                    MaxRequestsPerSecondPerClient = config.Rpc.MaxRequestsPerSecondPerClient });
                await rpc.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            if (rpc is not null) await rpc.DisposeAsync().ConfigureAwait(false);
            await node.StopAsync().ConfigureAwait(false);
            engine.Dispose();
            throw;
        }
        var service = new NodeService(home, config, genesis, node, engine, network, rpc, metrics, log, failed.Task);
        log.LogInformation("node {Moniker} started: chain {Chain}, height {Height}, validator {Validator}, node key {NodeKey}, p2p {P2p}, rpc {Rpc}",
            config.Moniker, genesis.ChainId, node.Executor.Height, validatorKey.Address, nodeKey.PublicKey.ToString()[..12],
            network.ListenEndpoint, rpc?.BaseAddress.ToString() ?? "off");
        return service;
    }

    // Once a second: network byte counters and gauges into the Prometheus metrics, and block sync progress.
    private void Sample()
    {
        if (!_sampling.TryEnter()) return; // the previous sample is still running
        try
        {
            SampleLocked();
        }
        finally
        {
            _sampling.Exit();
        }
    }

    private void SampleLocked()
    {
        long sent = _network.BytesSent, received = _network.BytesReceived, messagesSent = _network.MessagesSent, messagesReceived = _network.MessagesReceived;
        Metrics.P2pTraffic(sent - _bytesSent, messagesSent - _messagesSent, received - _bytesReceived, messagesReceived - _messagesReceived);
        (_bytesSent, _messagesSent, _bytesReceived, _messagesReceived) = (sent, messagesSent, received, messagesReceived);
        Metrics.P2pChannelBytesSent(Enum.GetValues<MessageChannel>().Select(c => (c.ToString().ToLowerInvariant(), _network.BytesSentOn(c))));
        Metrics.PeersChanged(_network.ConnectedPeers.Count);
        Metrics.MempoolChanged(Node.Mempool.Count, Node.Mempool.Bytes);
        var pool = Node.Mempool;
        var cache = Node.Executor.CacheCounters;
        Metrics.PreExecution(new PreExecutionTotals(pool.PreExecutionQueueDepth, pool.PreExecuted, pool.PreExecutionDropped, pool.PreExecutionFailures,
            cache.InferenceHits, cache.InferenceMisses, cache.SignatureHits, cache.SignatureMisses, cache.SignaturesPreverified));
        var relay = Node.Metrics;
        Metrics.TransactionRelay(new TransactionRelayTotals(relay.HashesAnnouncedOut, relay.HashesAnnouncedIn, relay.HashesRequested,
            relay.DuplicatesAvoided, relay.RelayRequestsTimedOut, relay.BodiesServed, relay.TransactionBodyBytesSent));
        var node = Node.Metrics;
        Metrics.ProposalVerification(new ProposalVerificationTotals(node.VerificationsInFlight, node.ProposalsVerified, node.VerificationsDropped,
            node.VerdictsStale, node.VerdictsReplayed, node.LoopBlockedOnVerification));
        var engine = Node.Inference.Engine;
        Metrics.ModelCache(new ModelCacheTotals(engine.ModelCacheHits, engine.ModelCacheMisses, engine.ModelCacheEvictions, engine.ModelCacheBytes, engine.LoadedModels));
        // Block sync progress, once a second while behind: "block sync 120/450 (26 %)".
        ulong height = Node.Metrics.Height, target = Node.Metrics.SyncTarget;
        if (height < target)
        {
            _wasSyncing = true;
            _log.LogInformation("block sync {Height}/{Target} ({Percent} %), {Synced} blocks synced so far",
                height, target, target == 0 ? 100 : height * 100 / target, Node.Metrics.BlocksSynced);
        }
        else if (_wasSyncing)
        {
            _wasSyncing = false;
            _log.LogInformation("block sync done at height {Height}; following consensus", height);
        }
    }

    private bool _wasSyncing;
    private readonly Lock _sampling = new();

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _log.LogInformation("stopping at height {Height}", Node.Executor.Height);
        await _sampler.DisposeAsync().ConfigureAwait(false);
        if (_rpc is not null) await _rpc.StopAsync().ConfigureAwait(false);
        await Node.StopAsync().ConfigureAwait(false); // also disposes the network
        _engine.Dispose();
        if (Node.Failure is { } failure)
            _log.LogCritical("stopped after a fatal error, exit code {ExitCode}: {Cause}", NodeExitCodes.For(failure), NodeExitCodes.Describe(failure));
        else
            _log.LogInformation("stopped cleanly");
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    /// <summary>The RPC's view of a <see cref="FullNode"/>.</summary>
    private sealed class FullNodeRpc(FullNode node, Genesis genesis, CommittedBlockFeed feed, PublicKey nodeKey) : IRpcNode
    {
        private readonly IProvableState _state = new JellyfishProvableState(node.State);
        public ChainId ChainId => genesis.ChainId;
        public ExecutionParameters Parameters => genesis.Parameters;
        public Storage.BlockStore Blocks => node.Executor.Blocks;
        public ActiveValidators? ValidatorsAt(Height height) => node.Executor.ValidatorsAt(height);
        public IProvableState State => _state;
        public CommittedBlockFeed CommittedBlocks => feed;

        public NodeInfo GetNodeInfo() => new((int)node.Metrics.Peers, !node.Metrics.Synced,
            IsValidatorNext() ? node.Address : null, nodeKey, node.Mempool.Count, node.Mempool.Bytes);

        // A validator of the height being decided: a key that left the set runs on as a full node.
        private bool IsValidatorNext() =>
            node.Executor.ValidatorsAt(node.Executor.Height.Next) is { } active && active.Set.TryGet(node.Address, out _, out _);

        public EvidenceAdmission SubmitEvidence(ReadOnlyMemory<byte> encoded)
        {
            try
            {
                if (node.SubmitEvidence(encoded, out bool committed, out var refusal) is not { } evidence) return EvidenceAdmission.Refused(refusal);
                return committed ? EvidenceAdmission.Known(evidence.Hash) : EvidenceAdmission.Pending(evidence.Hash);
            }
            catch (ObjectDisposedException)
            {
                return EvidenceAdmission.Refused("the node is shutting down");
            }
        }

        public Rejection? SubmitTransaction(SignedTransaction transaction)
        {
            try
            {
                return node.Submit(transaction);
            }
            catch (ObjectDisposedException)
            {
                return new Rejection(RejectCode.Unavailable, "the node is shutting down");
            }
        }

        public IReadOnlyList<Rejection?> SubmitTransactions(IReadOnlyList<SignedTransaction> transactions)
        {
            try
            {
                return node.SubmitRange(transactions);
            }
            catch (ObjectDisposedException)
            {
                return transactions.Select(_ => (Rejection?)new Rejection(RejectCode.Unavailable, "the node is shutting down")).ToList();
            }
        }
    }
}
