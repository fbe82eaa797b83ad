using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>The step within a round. The numeric order is the signing order the signer guard enforces.</summary>
public enum Step : byte
{
    Propose = 1,
    Prevote = 2,
    Precommit = 3,
}

/// <summary>
/// Timeouts grow linearly with the round (base + round × delta) so that after global stabilisation
/// they eventually exceed the real message delay, which is what gives Tendermint liveness.
/// </summary>
public sealed record TimeoutConfig(
    ulong ProposeBaseMs = 3000, ulong ProposeDeltaMs = 500,
    ulong PrevoteBaseMs = 1000, ulong PrevoteDeltaMs = 500,
    ulong PrecommitBaseMs = 1000, ulong PrecommitDeltaMs = 500)
{
    public ulong DurationMs(Step step, Round round) => step switch
    {
        Step.Propose => ProposeBaseMs + round.Value * ProposeDeltaMs,
        Step.Prevote => PrevoteBaseMs + round.Value * PrevoteDeltaMs,
        Step.Precommit => PrecommitBaseMs + round.Value * PrecommitDeltaMs,
        _ => throw new ArgumentOutOfRangeException(nameof(step)),
    };

    /// <summary>Sum of the three step timeouts of one round: the longest a round lasts without progress.</summary>
    public ulong RoundMs(Round round) =>
        DurationMs(Step.Propose, round) + DurationMs(Step.Prevote, round) + DurationMs(Step.Precommit, round);
}

/// <summary>
/// What the engine needs to know about the chain. <see cref="Schedule"/> gives the validators of each height: the
/// engine judges a height's messages with that height's set and moves to the next height's set on deciding
/// (docs/consensus.md, "Validator sets by height").
/// </summary>
public sealed record ConsensusConfig(ChainId ChainId, IValidatorSchedule Schedule, TimeoutConfig Timeouts)
{
    /// <summary>One set for every height (tests, the simulator, chains without staking).</summary>
    public ConsensusConfig(ChainId chainId, ValidatorSet validators, TimeoutConfig timeouts)
        : this(chainId, new FixedValidatorSchedule(validators), timeouts)
    {
    }

    /// <summary>Votes for rounds further ahead than this are refused, so a peer cannot make us store unbounded rounds.</summary>
    public uint MaxRoundsAhead { get; init; } = 10_000;

    /// <summary>
    /// How far a fresh proposal's block time may be ahead of this validator's clock when the proposal arrives; beyond
    /// it the validator prevotes nil (docs/consensus.md, "Block time"). Honest clocks must agree within this bound.
    /// </summary>
    public ulong MaxClockDriftMs { get; init; } = 2_000;

    /// <summary>Optional memo of signature checks (shared by the simulator's validators).</summary>
    public SignatureCache? SignatureCache { get; init; }

    /// <summary>The validators of <paramref name="height"/>; throws when the schedule does not know them (a host bug:
    /// the set of H+1 is known once H−1 is committed, and the engine never runs ahead of that).</summary>
    public ActiveValidators ValidatorsAt(Height height) =>
        Schedule.ValidatorsAt(height) ?? throw new InvalidOperationException($"the validators of height {height} are not known yet");
}
