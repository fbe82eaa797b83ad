namespace Chain.Execution;

/// <summary>
/// How often block execution (<see cref="ChainExecutor.BuildBlock"/>, <see cref="ChainExecutor.VerifyProposal"/>, a
/// commit that re-executes) found work the mempool had already done: an inference outcome in the
/// <see cref="InferenceRunner"/> cache (filled by pre-execution) and a signature in the shared
/// <see cref="TransactionSignatureCache"/> (filled by admission). Misses are the ones computed on the spot.
/// Thread-safe; monotonic.
/// </summary>
public sealed class ExecutionCacheCounters
{
    private readonly TransactionRules _rules;
    private long _inferenceHits, _inferenceMisses;

    internal ExecutionCacheCounters(TransactionRules rules) => _rules = rules;

    public long InferenceHits => Interlocked.Read(ref _inferenceHits);
    public long InferenceMisses => Interlocked.Read(ref _inferenceMisses);
    public long SignatureHits => _rules.SignatureCacheHits;
    public long SignatureMisses => _rules.SignatureCacheMisses;

    internal void Inference(bool cached) => Interlocked.Increment(ref cached ? ref _inferenceHits : ref _inferenceMisses);

    public override string ToString() =>
        $"inference {InferenceHits} hits / {InferenceMisses} misses, signatures {SignatureHits} hits / {SignatureMisses} misses";
}
