using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>An output of the engine: something the host must do. The engine never does I/O itself.</summary>
public abstract record ConsensusAction;

/// <summary>Send to all validators. Own messages must be durable in the WAL before they leave (the runner does this).</summary>
public sealed record BroadcastProposal(SignedProposal Proposal, Block Block) : ConsensusAction;

public sealed record BroadcastVote(SignedVote Vote) : ConsensusAction;

/// <summary>Deliver <see cref="TimeoutElapsed"/>(Height, Round, Step) after DurationMs.</summary>
public sealed record ScheduleTimeout(Height Height, Round Round, Step Step, ulong DurationMs) : ConsensusAction;

/// <summary>Build a block for (Height, Round) and answer with <see cref="BlockBuilt"/>.</summary>
public sealed record BuildBlockRequest(Height Height, Round Round) : ConsensusAction;

/// <summary>Re-execute the block (inference included) and answer with <see cref="ProposalVerified"/>.</summary>
public sealed record VerifyProposalRequest(Height Height, Block Block) : ConsensusAction;

/// <summary>The block is decided: apply it and store it with its commit. The engine has moved to the next height.</summary>
public sealed record CommitBlock(Block Block, Commit Commit) : ConsensusAction;

/// <summary>Misbehaviour was seen; keep it in the evidence pool for inclusion in a later block.</summary>
public sealed record RecordEvidence(Evidence Evidence) : ConsensusAction;

/// <summary>
/// An input was refused (bad signature, unknown validator, wrong height...). Reason says why. <paramref name="SenderAtFault"/>
/// is true when no honest node sends such a message (bad signature, a non-validator, a body that does not match its
/// header, a non-proposer's proposal, a decision without a valid commit): the host may penalise the peer. Wrong
/// heights or rounds and competing proposals are not: honest peers relay those.
/// </summary>
public sealed record MessageRejected(ConsensusEvent Message, string Reason, bool SenderAtFault = false) : ConsensusAction;

/// <summary>The signer (guard) refused to sign; the engine carried on without that message.</summary>
public sealed record SigningRefused(Height Height, Round Round, Step Step, string Reason) : ConsensusAction;
