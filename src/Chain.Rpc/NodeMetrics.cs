using Chain.Core;
using Prometheus;

namespace Chain.Rpc;

/// <summary>
/// The node's Prometheus metrics. Each instance has its own registry, so several nodes in one process
/// (tests, several nodes in one process) keep separate numbers. The node calls the methods below as things happen;
/// <see cref="ExportAsync"/> writes the text exposition format that /metrics serves.
/// </summary>
public sealed class NodeMetrics
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly Gauge _height;
    private readonly Gauge _lastRound;
    private readonly Histogram _roundsPerHeight;
    private readonly Histogram _finality;
    private readonly Counter _txsCommitted;
    private readonly Gauge _mempoolTxs;
    private readonly Gauge _mempoolBytes;
    private readonly Histogram _inferenceSeconds;
    private readonly Counter _inferenceRuns;
    private readonly Counter _ortFallbacks;
    private readonly Counter _signingRefused;
    private readonly Gauge _peers;
    private readonly Counter _p2pBytes;
    private readonly Counter _p2pMessages;
    private readonly Counter _rpcRequests;
    private readonly Gauge _preExecutionQueue;
    private readonly Counter _preExecutionRuns;
    private readonly Counter _preExecutionDropped;
    private readonly Counter _preExecutionFailures;
    private readonly Counter _preExecutionHits;
    private readonly Counter _preExecutionMisses;
    private readonly Counter _signaturesPreverified;
    private readonly Histogram _heightStages;
    private readonly Counter _modelCacheHits;
    private readonly Counter _modelCacheMisses;
    private readonly Counter _modelCacheEvictions;
    private readonly Gauge _modelCacheBytes;
    private readonly Gauge _modelCacheModels;
    private readonly Counter _relayHashes;
    private readonly Counter _relayBodiesServed;
    private readonly Counter _transactionBodyBytesSent;
    private readonly Counter _p2pChannelBytes;
    private readonly Gauge _verificationsInFlight;
    private readonly Counter _verifications;
    private readonly Counter _loopBlockedSeconds;

    public NodeMetrics()
    {
        var factory = Metrics.WithCustomRegistry(_registry);
        _height = factory.CreateGauge("chain_height", "Height of the last committed block");
        _lastRound = factory.CreateGauge("chain_consensus_last_round", "Consensus round at which the last block was decided");
        _roundsPerHeight = factory.CreateHistogram("chain_consensus_rounds_per_height", "Rounds needed to decide a height (1 = first round)",
            new HistogramConfiguration { Buckets = [1, 2, 3, 4, 6, 8, 12, 16] });
        _finality = factory.CreateHistogram("chain_block_finality_seconds", "Time from a height's start to its commit",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 14) });
        _txsCommitted = factory.CreateCounter("chain_txs_committed_total", "Transactions in committed blocks");
        _mempoolTxs = factory.CreateGauge("chain_mempool_transactions", "Pending transactions in the mempool");
        _mempoolBytes = factory.CreateGauge("chain_mempool_bytes", "Encoded bytes of pending transactions");
        _inferenceSeconds = factory.CreateHistogram("chain_inference_seconds", "Inference time per model",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.0001, 2, 18) });
        _inferenceRuns = factory.CreateCounter("chain_inference_runs_total", "Inferences by executor (canonical or ort fast path)",
            new CounterConfiguration { LabelNames = ["executor"] });
        _ortFallbacks = factory.CreateCounter("chain_inference_ort_fallbacks_total", "Inferences where the ORT fast path was not used and the canonical executor ran instead",
            new CounterConfiguration { LabelNames = ["model"] });
        _peers = factory.CreateGauge("chain_peers_connected", "Connected peers");
        _signingRefused = factory.CreateCounter("chain_consensus_signing_refused_total",
            "Proposals and votes this validator's signer guard refused to sign (each is logged with its reason)",
            new CounterConfiguration { LabelNames = ["step"] });
        _p2pBytes = factory.CreateCounter("chain_p2p_bytes_total", "Peer-to-peer bytes by direction",
            new CounterConfiguration { LabelNames = ["direction"] });
        _p2pChannelBytes = factory.CreateCounter("chain_p2p_channel_bytes_sent_total",
            "Peer-to-peer bytes sent by channel (consensus, transactions, sync, status, evidence, relay; framing included): where chain_p2p_bytes_total{direction=\"out\"} goes",
            new CounterConfiguration { LabelNames = ["channel"] });
        _p2pMessages = factory.CreateCounter("chain_p2p_messages_total", "Peer-to-peer messages by direction",
            new CounterConfiguration { LabelNames = ["direction"] });
        _rpcRequests = factory.CreateCounter("chain_rpc_requests_total", "RPC requests by route and HTTP status",
            new CounterConfiguration { LabelNames = ["route", "status"] });
        _preExecutionQueue = factory.CreateGauge("chain_preexecution_queue_depth", "Infer transactions waiting for the mempool's pre-execution worker");
        _preExecutionRuns = factory.CreateCounter("chain_preexecution_runs_total", "Infer transactions the mempool pre-executed into the inference cache");
        _preExecutionDropped = factory.CreateCounter("chain_preexecution_dropped_total", "Infer transactions not queued for pre-execution because the queue was full");
        _preExecutionFailures = factory.CreateCounter("chain_preexecution_failures_total", "Pre-executions that threw (each is logged with its exception)");
        _preExecutionHits = factory.CreateCounter("chain_preexecution_hits_total",
            "Block building and verification work found done ahead: cache=inference (pre-executed outcome) or signature (verified at admission)",
            new CounterConfiguration { LabelNames = ["cache"] });
        _preExecutionMisses = factory.CreateCounter("chain_preexecution_misses_total",
            "Block building and verification work done on the spot: cache=inference or signature",
            new CounterConfiguration { LabelNames = ["cache"] });
        _signaturesPreverified = factory.CreateCounter("chain_signatures_preverified_total",
            "Transaction signatures block execution verified on every core before its in-order pass (the mempool had not seen them)");
        _heightStages = factory.CreateHistogram("chain_height_stage_seconds",
            "Where each height's finality went, as this node saw it: stage=build|propose|verify|prevote|precommit|commit|apply|total (docs/node.md)",
            new HistogramConfiguration { LabelNames = ["stage"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        _modelCacheHits = factory.CreateCounter("chain_model_cache_hits_total", "Model lookups that found the model loaded (parsed, admitted, planned, self-checked)");
        _modelCacheMisses = factory.CreateCounter("chain_model_cache_misses_total", "Model lookups that loaded the model from state");
        _modelCacheEvictions = factory.CreateCounter("chain_model_cache_evictions_total", "Models evicted from the model cache to keep it within inference.model_cache_bytes");
        _modelCacheBytes = factory.CreateGauge("chain_model_cache_bytes", "Bytes charged for the loaded models (InferenceEngine.ChargedBytes: 3× the ONNX size, 4× with an ORT session)");
        _modelCacheModels = factory.CreateGauge("chain_model_cache_models", "Models loaded in the model cache");
        _relayHashes = factory.CreateCounter("chain_tx_relay_hashes_total",
            "Transaction relay by hash (docs/network.md): event=announced_out (per peer), announced_in, requested, duplicate_avoided, timed_out",
            new CounterConfiguration { LabelNames = ["event"] });
        _relayBodiesServed = factory.CreateCounter("chain_tx_relay_bodies_served_total", "Transaction bodies sent in answer to peers' relay requests");
        _transactionBodyBytesSent = factory.CreateCounter("chain_tx_body_bytes_sent_total",
            "Bytes of transaction bodies put on the wire by gossip and relay (pushes and served requests; not block parts)");
        _verificationsInFlight = factory.CreateGauge("chain_proposal_verifications_in_flight", "Proposal re-executions queued or running on the verifier worker, off the consensus loop");
        _verifications = factory.CreateCounter("chain_proposal_verifications_total",
            "Proposal verification requests by outcome: verified (re-executed), dropped (stale or queue full, not run), stale (verdict came after its height was decided), replayed (verdict restored from the WAL, not run)",
            new CounterConfiguration { LabelNames = ["outcome"] });
        _loopBlockedSeconds = factory.CreateCounter("chain_consensus_loop_blocked_seconds_total",
            "Time the consensus loop waited for a proposal verification in flight (before building or committing); it verifies nothing itself");
    }

    /// <summary>The inference engine's model cache, as totals since the node started (counters only move up to them).</summary>
    public void ModelCache(ModelCacheTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        _modelCacheHits.IncTo(totals.Hits);
        _modelCacheMisses.IncTo(totals.Misses);
        _modelCacheEvictions.IncTo(totals.Evictions);
        _modelCacheBytes.Set(totals.Bytes);
        _modelCacheModels.Set(totals.Models);
    }

    /// <summary>Transaction relay, as totals since the node started (counters only move up to them).</summary>
    public void TransactionRelay(TransactionRelayTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        _relayHashes.WithLabels("announced_out").IncTo(totals.AnnouncedOut);
        _relayHashes.WithLabels("announced_in").IncTo(totals.AnnouncedIn);
        _relayHashes.WithLabels("requested").IncTo(totals.Requested);
        _relayHashes.WithLabels("duplicate_avoided").IncTo(totals.DuplicatesAvoided);
        _relayHashes.WithLabels("timed_out").IncTo(totals.TimedOut);
        _relayBodiesServed.IncTo(totals.BodiesServed);
        _transactionBodyBytesSent.IncTo(totals.BodyBytesSent);
    }

    /// <summary>
    /// The mempool's pre-execution and block execution's use of it, as totals since the node started (the node samples
    /// them); counters only move up to the new totals.
    /// </summary>
    public void PreExecution(PreExecutionTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        _preExecutionQueue.Set(totals.QueueDepth);
        _preExecutionRuns.IncTo(totals.Runs);
        _preExecutionDropped.IncTo(totals.Dropped);
        _preExecutionFailures.IncTo(totals.Failures);
        _preExecutionHits.WithLabels("inference").IncTo(totals.InferenceHits);
        _preExecutionMisses.WithLabels("inference").IncTo(totals.InferenceMisses);
        _preExecutionHits.WithLabels("signature").IncTo(totals.SignatureHits);
        _preExecutionMisses.WithLabels("signature").IncTo(totals.SignatureMisses);
        _signaturesPreverified.IncTo(totals.SignaturesPreverified);
    }

    /// <summary>The proposal verifier's totals since the node started (the node samples them); counters only move up.</summary>
    public void ProposalVerification(ProposalVerificationTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        _verificationsInFlight.Set(totals.InFlight);
        _verifications.WithLabels("verified").IncTo(totals.Verified);
        _verifications.WithLabels("dropped").IncTo(totals.Dropped);
        _verifications.WithLabels("stale").IncTo(totals.Stale);
        _verifications.WithLabels("replayed").IncTo(totals.Replayed);
        _loopBlockedSeconds.IncTo(totals.LoopBlocked.TotalSeconds);
    }

    /// <summary>One height's stage durations in milliseconds (only the stages this node went through).</summary>
    public void HeightStages(IEnumerable<(string Stage, double Ms)> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        foreach (var (stage, ms) in stages) _heightStages.WithLabels(stage).Observe(Math.Max(0, ms) / 1000.0);
    }

    /// <summary>A block was committed at <paramref name="height"/> in <paramref name="round"/> (0-based) after <paramref name="finalityMs"/>.</summary>
    public void BlockCommitted(ulong height, uint round, int txCount, double finalityMs)
    {
        _height.Set(height);
        _lastRound.Set(round);
        _roundsPerHeight.Observe(round + 1.0);
        _finality.Observe(Math.Max(0, finalityMs) / 1000.0);
        _txsCommitted.Inc(Math.Max(0, txCount));
    }

    public void MempoolChanged(int transactions, long bytes)
    {
        _mempoolTxs.Set(transactions);
        _mempoolBytes.Set(bytes);
    }

    /// <summary>One inference of <paramref name="modelId"/> ran, on the ORT fast path or the canonical executor.</summary>
    public void InferenceRan(Hash32 modelId, bool onOrtFastPath, double milliseconds)
    {
        _inferenceSeconds.WithLabels(ModelLabel(modelId)).Observe(Math.Max(0, milliseconds) / 1000.0);
        _inferenceRuns.WithLabels(onOrtFastPath ? "ort" : "canonical").Inc();
    }

    /// <summary>The ORT fast path was refused or disagreed for <paramref name="modelId"/> and the canonical executor ran.</summary>
    public void OrtFallback(Hash32 modelId) => _ortFallbacks.WithLabels(ModelLabel(modelId)).Inc();

    /// <summary>The signer guard refused to sign at <paramref name="step"/> (Propose, Prevote, Precommit).</summary>
    public void SigningRefused(string step) => _signingRefused.WithLabels(step).Inc();

    public void PeersChanged(int connected) => _peers.Set(connected);

    /// <summary>P2P traffic since the last call: bytes and messages sent and received (the node samples its transport's counters).</summary>
    public void P2pTraffic(long bytesOut, long messagesOut, long bytesIn, long messagesIn)
    {
        _p2pBytes.WithLabels("out").Inc(Math.Max(0, bytesOut));
        _p2pMessages.WithLabels("out").Inc(Math.Max(0, messagesOut));
        _p2pBytes.WithLabels("in").Inc(Math.Max(0, bytesIn));
        _p2pMessages.WithLabels("in").Inc(Math.Max(0, messagesIn));
    }

    /// <summary>Bytes sent per channel, as totals since the node started (counters only move up to them).</summary>
    public void P2pChannelBytesSent(IEnumerable<(string Channel, long Bytes)> totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        foreach (var (channel, bytes) in totals) _p2pChannelBytes.WithLabels(channel).IncTo(bytes);
    }

    /// <summary>Called by the RPC server for every finished request; <paramref name="route"/> is the route pattern, not the raw path.</summary>
    public void RpcRequest(string route, int status) =>
        _rpcRequests.WithLabels(route, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();

    /// <summary>Writes every metric in the Prometheus text format.</summary>
    public Task ExportAsync(Stream destination, CancellationToken cancellationToken = default) =>
        _registry.CollectAndExportAsTextAsync(destination, cancellationToken);

    // A short prefix keeps label values readable; 12 hex digits are ample to tell models apart.
    private static string ModelLabel(Hash32 modelId) => modelId.ToString()[..12];
}

/// <summary>Totals for <see cref="NodeMetrics.PreExecution"/>: the mempool's queue and worker, and block execution's cache hits and misses.</summary>
public sealed record PreExecutionTotals(int QueueDepth, long Runs, long Dropped, long Failures,
    long InferenceHits, long InferenceMisses, long SignatureHits, long SignatureMisses, long SignaturesPreverified = 0);

/// <summary>Totals for <see cref="NodeMetrics.TransactionRelay"/>.</summary>
public sealed record TransactionRelayTotals(long AnnouncedOut, long AnnouncedIn, long Requested, long DuplicatesAvoided, long TimedOut,
    long BodiesServed, long BodyBytesSent);

/// <summary>Totals for <see cref="NodeMetrics.ModelCache"/>.</summary>
public sealed record ModelCacheTotals(long Hits, long Misses, long Evictions, long Bytes, int Models);

/// <summary>Totals for <see cref="NodeMetrics.ProposalVerification"/>.</summary>
public sealed record ProposalVerificationTotals(long InFlight, long Verified, long Dropped, long Stale, long Replayed, TimeSpan LoopBlocked);
