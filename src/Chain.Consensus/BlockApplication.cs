using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>
/// What consensus needs from the application. <see cref="VerifyProposal"/> is the validity predicate:
/// it re-executes the block, inference included, and accepts it only when the outputs the proposer put in
/// the header are the ones re-execution produces.
/// </summary>
public interface IBlockApplication
{
    /// <summary>A block for <paramref name="height"/> on top of the last stored block, proposed by <paramref name="proposer"/>.</summary>
    Block BuildBlock(Height height, Round round, Address proposer, ulong nowMs);

    /// <summary>True when the block re-executes to exactly the roots in its header.</summary>
    bool VerifyProposal(Block block, out string reason);
}

public static class BlockApplicationExtensions
{
    /// <summary>
    /// Answers a <see cref="BuildBlockRequest"/> or <see cref="VerifyProposalRequest"/> synchronously; the result is
    /// the event to feed back into the engine (null for other actions). Hosts that run the application on
    /// another thread send the same events when the work finishes.
    /// </summary>
    public static ConsensusEvent? Answer(this IBlockApplication app, ConsensusAction action, Address self, ulong nowMs) => action switch
    {
        BuildBlockRequest b => new BlockBuilt(b.Height, b.Round, app.BuildBlock(b.Height, b.Round, self, nowMs)),
        VerifyProposalRequest v => new ProposalVerified(v.Height, v.Block.Hash, app.VerifyProposal(v.Block, out _)),
        _ => null,
    };
}
