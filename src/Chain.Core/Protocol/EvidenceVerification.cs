namespace Chain.Core.Protocol;

/// <summary>
/// What one evidence item proves, once decoded and verified: who misbehaved (one or more validators, by consensus
/// address), at which height, and the kind (which selects the slashing fraction).
/// </summary>
public sealed record EvidenceCheck(Hash32 Hash, IReadOnlyList<Address> Offenders, Height OffenceHeight, string Kind)
{
    public EvidenceCheck(Hash32 hash, Address offender, Height offenceHeight, string kind)
        : this(hash, [offender], offenceHeight, kind)
    {
    }
}

/// <summary>
/// The committed chain as the block being executed sees it: what evidence is checked against. Execution implements it.
/// </summary>
public interface IChainHistory : IValidatorSchedule
{
    /// <summary>The committed header at <paramref name="height"/>, or null when there is none (yet).</summary>
    BlockHeader? HeaderAt(Height height);

    /// <summary>
    /// The commit the chain recorded for <paramref name="height"/> (block height+1's last commit), or, for the latest
    /// committed height, the commit this node stored with it. Null when there is none.
    /// </summary>
    Commit? CommitAt(Height height);
}

/// <summary>
/// Decodes and verifies the evidence items a block carries. Implemented by the consensus layer (which owns
/// the evidence objects) and handed to execution, so execution can refuse a block with bad evidence
/// without depending on consensus.
/// </summary>
public interface IEvidenceVerifier
{
    /// <summary>
    /// Strictly decodes <paramref name="encoded"/> and checks that it proves misbehaviour and may be included
    /// in the block at <paramref name="includedAt"/>, against the validators and headers of <paramref name="history"/>.
    /// <paramref name="reexecute"/> re-executes a block on the state the including block builds on (true = valid),
    /// for evidence that a proposed block was invalid.
    /// Returns null with <paramref name="refusal"/> set when the item is not acceptable.
    /// </summary>
    EvidenceCheck? Check(ReadOnlyMemory<byte> encoded, Height includedAt, IChainHistory history, Func<Block, bool> reexecute, out string refusal);
}
