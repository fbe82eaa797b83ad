namespace Chain.Execution;

/// <summary>
/// How often block execution (<see cref="ChainExecutor.BuildBlock"/>, <see cref="ChainExecutor.VerifyProposal"/>, a
/// commit that re-executes) found work the mempool had already done: an inference outcome in the
/// <see cref="InferenceRunner"/> cache (filled by pre-execution) and a signature in the shared
/// <see cref="TransactionSignatureCache"/> (filled by admission). Misses are the ones computed on the spot.
/// Signatures the mempool had not verified are checked by block execution itself on every core before its sequential
/// pass (<see cref="SignaturesPreverified"/>), and that pass then counts them as hits: what admission missed is
/// <see cref="SignaturesPreverified"/> + <see cref="SignatureMisses"/>. Thread-safe; monotonic.
/// </summary>
public sealed class ExecutionCacheCounters
{
    private readonly TransactionRules _rules;
    private long _inferenceHits, _inferenceMisses, _signaturesPreverified;

    internal ExecutionCacheCounters(TransactionRules rules) => _rules = rules;

    public long InferenceHits => Interlocked.Read(ref _inferenceHits);
    public long InferenceMisses => Interlocked.Read(ref _inferenceMisses);
    public long SignatureHits => _rules.SignatureCacheHits;
    public long SignatureMisses => _rules.SignatureCacheMisses;

    /// <summary>Signatures block execution verified in its parallel phase because no cache held them (the mempool had not seen them).</summary>
    public long SignaturesPreverified => Interlocked.Read(ref _signaturesPreverified);

    internal void Inference(bool cached) => Interlocked.Increment(ref cached ? ref _inferenceHits : ref _inferenceMisses);

    internal void Preverified(int count) => Interlocked.Add(ref _signaturesPreverified, count);

    public override string ToString() =>
        $"inference {InferenceHits} hits / {InferenceMisses} misses, signatures {SignatureHits} hits / {SignatureMisses} misses / {SignaturesPreverified} verified in parallel";
}
