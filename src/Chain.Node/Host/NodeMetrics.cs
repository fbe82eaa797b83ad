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
    /// <summary>Transactions this node passed on: its clients' pushed in batches, and those newly admitted from peers relayed by hash.</summary>
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
    /// <summary>Transaction batches of this node's clients pushed (each broadcast once).</summary>
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
    /// <summary>Times the gossip set was re-broadcast because consensus stood still for a whole re-gossip interval.</summary>
    public long Regossips => Interlocked.Read(ref _regossips);
    internal void Regossiped() => Interlocked.Increment(ref _regossips);
    private long _regossips;
    /// <summary>Proposals and votes the signer guard refused to sign (consensus action <c>SigningRefused</c>).</summary>
    public long SigningRefusals => Interlocked.Read(ref _signingRefusals);
    internal void SigningRefused() => Interlocked.Increment(ref _signingRefusals);
    private long _signingRefusals;
    /// <summary>Evidence items peers gossiped that this node verified and pooled (new to it).</summary>
    public long EvidenceFromPeers => Interlocked.Read(ref _evidenceFromPeers);
    internal void EvidenceFromPeer() => Interlocked.Increment(ref _evidenceFromPeers);
    private long _evidenceFromPeers;
    /// <summary>Transaction hashes this node announced to peers (relay by hash), counting each peer.</summary>
    public long HashesAnnouncedOut => Interlocked.Read(ref _hashesAnnouncedOut);
    internal void HashesAnnouncedOutAdd(int n) => Interlocked.Add(ref _hashesAnnouncedOut, n);
    private long _hashesAnnouncedOut;
    /// <summary>Transaction hashes peers announced to this node.</summary>
    public long HashesAnnouncedIn => Interlocked.Read(ref _hashesAnnouncedIn);
    internal void HashesAnnouncedInAdd(int n) => Interlocked.Add(ref _hashesAnnouncedIn, n);
    private long _hashesAnnouncedIn;
    /// <summary>Announced transaction bodies this node requested (each ask counted, retries of a timed-out one too).</summary>
    public long HashesRequested => Interlocked.Read(ref _hashesRequested);
    internal void HashesRequestedAdd(int n) => Interlocked.Add(ref _hashesRequested, n);
    private long _hashesRequested;
    /// <summary>Transaction bodies this node sent in answer to peers' requests.</summary>
    public long BodiesServed => Interlocked.Read(ref _bodiesServed);
    internal void BodiesServedAdd(int n) => Interlocked.Add(ref _bodiesServed, n);
    private long _bodiesServed;
    /// <summary>Announced hashes not requested: the body was here already or being fetched from another announcer.</summary>
    public long DuplicatesAvoided => Interlocked.Read(ref _duplicatesAvoided);
    internal void DuplicatesAvoidedAdd(int n) => Interlocked.Add(ref _duplicatesAvoided, n);
    private long _duplicatesAvoided;
    /// <summary>Requests for announced bodies unanswered within the relay timeout (then asked of the next announcer, if any).</summary>
    public long RelayRequestsTimedOut => Interlocked.Read(ref _relayRequestsTimedOut);
    internal void RelayRequestsTimedOutAdd(int n) => Interlocked.Add(ref _relayRequestsTimedOut, n);
    private long _relayRequestsTimedOut;
    /// <summary>
    /// Bytes of transaction bodies this node put on the wire by transaction relay (pushes to each peer and served
    /// requests; not block parts), the figure the relay rule keeps near (validators − 1) × size per transaction.
    /// </summary>
    public long TransactionBodyBytesSent => Interlocked.Read(ref _transactionBodyBytesSent);
    internal void TransactionBodyBytesSentAdd(long n) => Interlocked.Add(ref _transactionBodyBytesSent, n);
    private long _transactionBodyBytesSent;
    /// <summary>Proposals the verifier re-executed off the loop (accepted or refused).</summary>
    public long ProposalsVerified => Interlocked.Read(ref _proposalsVerified);
    internal void ProposalVerified() => Interlocked.Increment(ref _proposalsVerified);
    private long _proposalsVerified;
    /// <summary>Verification requests dropped unverified: their height was decided or passed, or a full queue pushed them out.</summary>
    public long VerificationsDropped => Interlocked.Read(ref _verificationsDropped);
    internal void VerificationDropped() => Interlocked.Increment(ref _verificationsDropped);
    private long _verificationsDropped;
    /// <summary>Verdicts that came back after their height was decided here, dropped without reaching consensus.</summary>
    public long VerdictsStale => Interlocked.Read(ref _verdictsStale);
    internal void VerdictStale() => Interlocked.Increment(ref _verdictsStale);
    private long _verdictsStale;
    /// <summary>Verification requests not run because the WAL replayed their verdict on start.</summary>
    public long VerdictsReplayed => Interlocked.Read(ref _verdictsReplayed);
    internal void VerdictReplayed() => Interlocked.Increment(ref _verdictsReplayed);
    private long _verdictsReplayed;
    /// <summary>Proposal verifications queued or running now (0 or 1 running; a few queued at most).</summary>
    public long VerificationsInFlight => Interlocked.Read(ref _verificationsInFlight);
    internal void SetVerificationsInFlight(int n) => Interlocked.Exchange(ref _verificationsInFlight, n);
    private long _verificationsInFlight;
    /// <summary>Total time the loop waited for a verification in flight before building or committing (it verifies nothing itself).</summary>
    public TimeSpan LoopBlockedOnVerification => TimeSpan.FromTicks(Interlocked.Read(ref _loopBlockedTicks));
    internal void AddLoopBlockedOnVerification(TimeSpan waited) => Interlocked.Add(ref _loopBlockedTicks, waited.Ticks);
    private long _loopBlockedTicks;
    /// <summary>Commits (consensus, a peer's decision or block sync) that had to wait for a verification in flight.</summary>
    public long CommitsWaitedForVerification => Interlocked.Read(ref _commitsWaited);
    internal void CommitWaitedForVerification() => Interlocked.Increment(ref _commitsWaited);
    private long _commitsWaited;
}
