using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// What the proposer supplies besides the transactions: time, its address, the previous block's commit, and
/// evidence candidates (canonical evidence encodings from its pool; those that do not verify are left out).
/// </summary>
/// <param name="TimeMs">The proposer's clock; informational only: the block's time is BFT time (genesis time, then its last commit's median).</param>
public sealed record ProposalContext(ulong TimeMs, Address Proposer, Commit? LastCommit, IReadOnlyList<ReadOnlyMemory<byte>>? Evidence = null);

/// <summary>A transaction <see cref="ChainExecutor.BuildBlock"/> left out, and why.</summary>
public sealed record SkippedTransaction(SignedTransaction Transaction, Rejection Reason);

/// <summary>A built block with its receipts (sent along with the proposal so validators can pinpoint differences).</summary>
public sealed record Proposal(Block Block, IReadOnlyList<Receipt> Receipts, IReadOnlyList<SkippedTransaction> Skipped);

/// <summary>Accepted (with the receipts this node computed) or refused with a <see cref="VerifyFailure"/>.</summary>
public sealed record VerifyResult(VerifyFailure? Failure, IReadOnlyList<Receipt> Receipts, Hash32 StateRoot)
{
    public bool Accepted => Failure is null;
}

/// <summary>
/// A block this node's execution refused after relying on fast-path inference results, executed again on
/// canonical results alone (docs/determinism.md): <see cref="FastVerdict"/> is the refusal that started it,
/// <see cref="CanonicalVerdict"/> the one that counts (null: the block is valid). <see cref="Differed"/> of the
/// <see cref="Settled"/> fast-path results were not what the canonical executor gives; each such model fell back.
/// </summary>
public sealed record InferenceDispute(Height Height, Hash32 BlockHash, int Settled, int Differed, VerifyFailure FastVerdict, VerifyFailure? CanonicalVerdict)
{
    public bool Accepted => CanonicalVerdict is null;

    public override string ToString() =>
        $"block {Height} ({BlockHash}): fast-path execution refused it ({FastVerdict.Message}); {Differed} of {Settled} fast-path results differed from canonical; "
        + (CanonicalVerdict is null ? "canonical re-execution accepts it" : $"canonical re-execution refuses it: {CanonicalVerdict.Message}");
}
