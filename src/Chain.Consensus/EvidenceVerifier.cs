using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>
/// Checks the evidence a block carries, for execution (<see cref="IEvidenceVerifier"/>): strictly decoded
/// (bytes that do not re-encode identically are refused), from a validator of the set, signed for this
/// chain, and within its inclusion window. Duplicate votes may be included from their own height until
/// <see cref="ProtocolLimits.MaxEvidenceAgeHeights"/> later; light-client attacks (a conflicting header for a
/// committed height, judged against the chain's header and commit there) from the next height, in the same
/// window. An invalid proposal may be included only at its own height (in a later round), because proving it means re-executing the block on the state it was
/// proposed on, which is exactly the state the including block builds on. The caller's <c>reexecute</c> must
/// judge with the canonical executor only (execution's does: no fast path ever decides a conviction).
/// </summary>
public sealed class EvidenceVerifier(ChainId chainId) : IEvidenceVerifier
{
    public EvidenceCheck? Check(ReadOnlyMemory<byte> encoded, Height includedAt, IChainHistory history, Func<Block, bool> reexecute, out string refusal)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (!Canonical.TryDecode<Evidence>(encoded, out var evidence, out var error))
        {
            refusal = $"evidence does not decode: {error}";
            return null;
        }
        // The window first: evidence from the future names a height whose validators may not be known yet.
        if (WindowRefusal(evidence!, includedAt) is { } outside)
        {
            refusal = outside;
            return null;
        }
        if (history.ValidatorsAt(evidence!.Height) is not { } active)
        {
            refusal = $"evidence for height {evidence.Height}: the validators of that height are not known here";
            return null;
        }
        switch (evidence)
        {
            case DuplicateVoteEvidence duplicate:
                if (!duplicate.Verify(chainId, active.Set, out refusal)) return null;
                return new EvidenceCheck(evidence.Hash, duplicate.Offender, evidence.Height, evidence.KindLabel);
            case LightClientAttackEvidence attack:
                if (history.HeaderAt(evidence.Height) is not { } chainHeader)
                {
                    refusal = $"height {evidence.Height} is not committed here";
                    return null;
                }
                if (attack.Judge(chainId, active.Set, chainHeader, history.CommitAt(evidence.Height), out refusal) is not { } offenders) return null;
                return new EvidenceCheck(evidence.Hash, offenders, evidence.Height, evidence.KindLabel);
            case InvalidProposalEvidence invalid:
                if (!invalid.Verify(chainId, active, reexecute, out refusal)) return null;
                return new EvidenceCheck(evidence.Hash, invalid.Offender, evidence.Height, evidence.KindLabel);
            default:
                refusal = $"unknown evidence kind {evidence.Kind}";
                return null;
        }
    }

    // Where each kind may be included (see the class summary); null when includedAt is inside it.
    private static string? WindowRefusal(Evidence evidence, Height includedAt)
    {
        ulong offence = evidence.Height.Value, at = includedAt.Value;
        return evidence switch
        {
            DuplicateVoteEvidence when offence > at || PastWindow(evidence.Height, includedAt) =>
                $"duplicate votes at height {offence} cannot be included at height {at} (window: {ProtocolLimits.MaxEvidenceAgeHeights} heights)",
            LightClientAttackEvidence when offence >= at || PastWindow(evidence.Height, includedAt) =>
                $"a light-client attack at height {offence} cannot be included at height {at} (window: {ProtocolLimits.MaxEvidenceAgeHeights} heights)",
            InvalidProposalEvidence when offence != at =>
                $"an invalid proposal at height {offence} can only be included at that height, not {at}",
            _ => null,
        };
    }

    /// <summary>True when evidence of <paramref name="offence"/> can no longer be included at <paramref name="at"/>:
    /// more than <see cref="ProtocolLimits.MaxEvidenceAgeHeights"/> heights later.</summary>
    public static bool PastWindow(Height offence, Height at) =>
        at.Value > offence.Value && at.Value - offence.Value > ProtocolLimits.MaxEvidenceAgeHeights;
}
