namespace Chain.Core.Protocol;

/// <summary>Why a block, proposal or commit was refused.</summary>
public enum VerifyFailureKind
{
    InvalidBlock,
    WrongHeight,
    WrongParent,
    BadLastCommit,
    WrongValidators,
    UnknownProposer,
    BadTime,
    InvalidEvidence,
    UnincludableTransaction,
    BlockGasLimit,
    ReceiptCount,
    ReceiptMismatch,
    ReceiptsRoot,
    StateRoot,
    /// <summary>A commit does not finalize the block it is checked against (<see cref="Commit.Verify(ChainId, ValidatorSet, Height, Hash32, ISignatureChecker?)"/>).</summary>
    BadCommit,
    /// <summary>A header is not what a client asked for or does not chain to its neighbour (light clients).</summary>
    BadHeader,
    /// <summary>An inclusion or state proof, or the value it proves, does not check against a header's root (light clients).</summary>
    BadProof,
}

/// <summary>
/// A precise refusal: the kind, and where it applies the transaction index and hash, the field, and the
/// expected (computed here) and actual (claimed) values.
/// </summary>
public sealed record VerifyFailure(VerifyFailureKind Kind, string Message, int? TransactionIndex = null, Hash32? TransactionHash = null,
    string? Field = null, string? Expected = null, string? Actual = null)
{
    public override string ToString() => Message;
}
