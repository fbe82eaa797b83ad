namespace Chain.Core.Protocol;

/// <summary>What one evidence item proves, once decoded and verified: who misbehaved, at which height.</summary>
public sealed record EvidenceCheck(Hash32 Hash, Address Offender, Height OffenceHeight, string Kind);

/// <summary>
/// Decodes and verifies the evidence items a block carries. Implemented by the consensus layer (which owns
/// the evidence objects) and handed to execution, so execution can refuse a block with bad evidence
/// without depending on consensus.
/// </summary>
public interface IEvidenceVerifier
{
    /// <summary>
    /// Strictly decodes <paramref name="encoded"/> and checks that it proves misbehaviour and may be included
    /// in the block at <paramref name="includedAt"/>. <paramref name="reexecute"/> re-executes a block on the
    /// state the including block builds on (true = valid), for evidence that a proposed block was invalid.
    /// Returns null with <paramref name="refusal"/> set when the item is not acceptable.
    /// </summary>
    EvidenceCheck? Check(ReadOnlyMemory<byte> encoded, Height includedAt, Func<Block, bool> reexecute, out string refusal);
}
