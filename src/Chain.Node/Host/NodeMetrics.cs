namespace Chain.Node.Host;

/// <summary>
/// Counters and gauges of one node, written by its loop and read from any thread (RPC, metrics).
/// Each value is read atomically; a set of values read together may be from slightly different moments.
/// </summary>
public sealed class NodeMetrics
{
    private long _height, _lastRound, _lastFinalityMs, _peers, _messagesIn, _messagesRefused, _inputsDropped,
        _futureDropped, _blocksSynced, _misbehaviourReports, _syncTarget, _transactionsGossiped;

    /// <summary>Latest stored (committed) height.</summary>
    public ulong Height => (ulong)Interlocked.Read(ref _height);
    /// <summary>Round in which the latest block was decided.</summary>
    public long LastRound => Interlocked.Read(ref _lastRound);
    /// <summary>Milliseconds from entering the latest height to committing it.</summary>
    public long LastFinalityMs => Interlocked.Read(ref _lastFinalityMs);
    public long Peers => Interlocked.Read(ref _peers);
    /// <summary>Peer messages the loop took in (all channels).</summary>
    public long MessagesIn => Interlocked.Read(ref _messagesIn);
    /// <summary>Peer messages refused: undecodable, invalid, or refused by consensus, mempool or sync verification.</summary>
    public long MessagesRefused => Interlocked.Read(ref _messagesRefused);
    /// <summary>Inputs dropped because the loop's queue was full.</summary>
    public long InputsDropped => Interlocked.Read(ref _inputsDropped);
    /// <summary>Consensus messages for future heights dropped because their buffer was full or too far ahead.</summary>
    public long FutureMessagesDropped => Interlocked.Read(ref _futureDropped);
    public long BlocksSynced => Interlocked.Read(ref _blocksSynced);
    public long MisbehaviourReports => Interlocked.Read(ref _misbehaviourReports);
    /// <summary>Highest height a peer reported; sync is done when <see cref="Height"/> reaches it.</summary>
    public ulong SyncTarget => (ulong)Interlocked.Read(ref _syncTarget);
    public bool Synced => Height >= SyncTarget;
    /// <summary>Transactions this node sent on in gossip batches (own admissions and newly admitted gossip).</summary>
    public long TransactionsGossiped => Interlocked.Read(ref _transactionsGossiped);

    internal void SetHeight(ulong h) => Interlocked.Exchange(ref _height, (long)h);
    internal void SetLastRound(long r) => Interlocked.Exchange(ref _lastRound, r);
    internal void SetLastFinalityMs(long ms) => Interlocked.Exchange(ref _lastFinalityMs, ms);
    internal void SetPeers(int n) => Interlocked.Exchange(ref _peers, n);
    internal void SetSyncTarget(ulong h) => Interlocked.Exchange(ref _syncTarget, (long)h);
    internal void MessageIn() => Interlocked.Increment(ref _messagesIn);
    internal void MessageRefused() => Interlocked.Increment(ref _messagesRefused);
    internal void InputDropped() => Interlocked.Increment(ref _inputsDropped);
    internal void FutureDropped() => Interlocked.Increment(ref _futureDropped);
    internal void BlockSynced() => Interlocked.Increment(ref _blocksSynced);
    internal void Misbehaviour() => Interlocked.Increment(ref _misbehaviourReports);
    internal void TransactionsGossipedAdd(int n) => Interlocked.Add(ref _transactionsGossiped, n);
    /// <summary>Transaction batches sent (each broadcast once; <see cref="TransactionsGossiped"/> counts the transactions in them).</summary>
    public long TransactionBatchesSent => Interlocked.Read(ref _transactionBatchesSent);
    internal void TransactionBatchSent() => Interlocked.Increment(ref _transactionBatchesSent);
    private long _transactionBatchesSent;
    /// <summary>Proposals rebuilt from a compact proposal (hash-only propagation) and fed to consensus.</summary>
    public long ProposalsRebuilt => Interlocked.Read(ref _proposalsRebuilt);
    internal void ProposalRebuilt() => Interlocked.Increment(ref _proposalsRebuilt);
    private long _proposalsRebuilt;
    /// <summary>Transaction bodies asked of peers for proposals (missing from the mempool), counting each ask.</summary>
    public long ProposalPartsAsked => Interlocked.Read(ref _proposalPartsAsked);
    internal void ProposalPartsRequested(int n) => Interlocked.Add(ref _proposalPartsAsked, n);
    private long _proposalPartsAsked;
    /// <summary>Transaction bodies received from peers for proposals, each checked against its asked hash.</summary>
    public long ProposalPartsFetched => Interlocked.Read(ref _proposalPartsFetched);
    internal void ProposalPartsReceived(int n) => Interlocked.Add(ref _proposalPartsFetched, n);
    private long _proposalPartsFetched;
    /// <summary>Sync requests left unanswered because the peer was over its serving budget.</summary>
    public long SyncRequestsThrottled => Interlocked.Read(ref _syncThrottled);
    internal void SyncRequestThrottled() => Interlocked.Increment(ref _syncThrottled);
    private long _syncThrottled;
    /// <summary>Proposals and votes the signer guard refused to sign (consensus action <c>SigningRefused</c>).</summary>
    public long SigningRefusals => Interlocked.Read(ref _signingRefusals);
    internal void SigningRefused() => Interlocked.Increment(ref _signingRefusals);
    private long _signingRefusals;
    /// <summary>Evidence items peers gossiped that this node verified and pooled (new to it).</summary>
    public long EvidenceFromPeers => Interlocked.Read(ref _evidenceFromPeers);
    internal void EvidenceFromPeer() => Interlocked.Increment(ref _evidenceFromPeers);
    private long _evidenceFromPeers;
}
