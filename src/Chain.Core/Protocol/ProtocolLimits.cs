namespace Chain.Core.Protocol;

/// <summary>
/// Hard limits on every protocol object. Decoders refuse anything larger before allocating for it,
/// so a peer cannot make a node spend memory it did not agree to.
/// </summary>
public static class ProtocolLimits
{
    /// <summary>
    /// Largest ONNX model the chain registers: a sealed chunked upload (docs/execution.md, "Chunked registration").
    /// Admission and the ONNX parser accept models up to this size.
    /// </summary>
    public const int MaxModelBytes = 64 << 20;

    /// <summary>Largest ONNX model one RegisterModel transaction may carry (and largest state value but a margin); larger models go in chunks.</summary>
    public const int MaxRegisterModelBytes = 4 << 20;

    /// <summary>Size of every chunk of a chunked upload but the last (which holds the rest, 1 byte to this size).</summary>
    public const int ModelChunkBytes = 1 << 20;

    /// <summary>Most chunks one upload may declare: MaxModelBytes / ModelChunkBytes.</summary>
    public const int MaxModelChunks = MaxModelBytes / ModelChunkBytes;

    /// <summary>Heights after its manifest's block that an unsealed upload lives; the end-block step of that height deletes it.</summary>
    public const ulong ModelUploadExpiryHeights = 1_000;

    /// <summary>Unsealed uploads the state holds at a time (the bound of the upload queue), and per sender.</summary>
    public const int MaxPendingModelUploads = 64;

    public const int MaxPendingModelUploadsPerSender = 4;

    /// <summary>Largest canonical tensor an Infer transaction may carry, and largest output in a receipt.</summary>
    public const int MaxTensorBytes = 1 << 20;

    /// <summary>Largest signed transaction: a maximal RegisterModel plus envelope.</summary>
    public const int MaxTransactionBytes = MaxRegisterModelBytes + 4096;

    public const int MaxModelNameBytes = 64;

    public const int MaxTransactionsPerBlock = 10_000;

    public const int MaxBlockBytes = 32 << 20;

    public const int MaxValidators = 256;

    /// <summary>
    /// Bound on the total voting power, so that 3 × power sums never overflow 64 bits
    /// (the same bound CometBFT uses: int64 max / 8).
    /// </summary>
    public const ulong MaxTotalVotingPower = long.MaxValue / 8;

    public const int MaxReceiptBytes = MaxTensorBytes + 1024;

    public const int MaxVoteBytes = 256;

    public const int MaxCommitBytes = 128 + MaxValidators * 128;

    public const int MaxHeaderBytes = 1024;

    /// <summary>Evidence items one block may carry.</summary>
    public const int MaxEvidencePerBlock = 16;

    /// <summary>
    /// Largest evidence item a block may carry. Invalid-proposal evidence carries the whole offending block,
    /// so one over this size stays in the pools (the honest validators still refused it) but is not included.
    /// </summary>
    public const int MaxEvidenceBytes = MaxBlockBytes / 4;

    /// <summary>How many heights after the offence duplicate-vote evidence may still be included.</summary>
    public const ulong MaxEvidenceAgeHeights = 10_000;

    /// <summary>Validator candidates (bonded, jailed or unbonded) the staking state keeps: the bound of its candidate list.</summary>
    public const int MaxValidatorCandidates = 1024;

    /// <summary>Validators one delegator may hold shares in at a time (the bound of its delegator index).</summary>
    public const int MaxDelegationsPerDelegator = 16;

    /// <summary>Entries the unbonding queue holds at a time, across all delegators.</summary>
    public const int MaxUnbondingEntries = 1024;

    /// <summary>Unbonding entries one delegator may have in the queue at a time (as Cosmos' max entries per pair).</summary>
    public const int MaxUnbondingEntriesPerDelegator = 7;

    /// <summary>Largest downtime window (heights) the staking parameters may set; bounds a validator record's bitmap.</summary>
    public const ulong MaxDowntimeWindow = 10_000;
}
