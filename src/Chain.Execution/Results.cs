using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// What the proposer supplies besides the transactions: time, its address, the previous block's commit, and
/// evidence candidates (canonical evidence encodings from its pool; those that do not verify are left out).
/// </summary>
public sealed record ProposalContext(ulong TimeMs, Address Proposer, Commit? LastCommit, IReadOnlyList<ReadOnlyMemory<byte>>? Evidence = null);

/// <summary>A transaction <see cref="ChainExecutor.BuildBlock"/> left out, and why.</summary>
public sealed record SkippedTransaction(SignedTransaction Transaction, Rejection Reason);

/// <summary>A built block with its receipts (sent along with the proposal so validators can pinpoint differences).</summary>
public sealed record Proposal(Block Block, IReadOnlyList<Receipt> Receipts, IReadOnlyList<SkippedTransaction> Skipped);

/// <summary>Why <see cref="ChainExecutor.VerifyProposal"/> refused a block.</summary>
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
}

/// <summary>
/// A precise refusal: the kind, and where it applies the transaction index and hash, the field, and the
/// expected (computed here) and actual (claimed by the proposal) values.
/// </summary>
public sealed record VerifyFailure(VerifyFailureKind Kind, string Message, int? TransactionIndex = null, Hash32? TransactionHash = null,
    string? Field = null, string? Expected = null, string? Actual = null)
{
    public override string ToString() => Message;
}

/// <summary>Accepted (with the receipts this node computed) or refused with a <see cref="VerifyFailure"/>.</summary>
public sealed record VerifyResult(VerifyFailure? Failure, IReadOnlyList<Receipt> Receipts, Hash32 StateRoot)
{
    public bool Accepted => Failure is null;
}
