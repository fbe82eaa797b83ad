namespace Chain.Core.Protocol;

/// <summary>
/// The validator set of one height and the first height of the run of consecutive heights it has governed
/// unchanged (by hash). Proposer rotation restarts from zero priorities at <see cref="ActiveSince"/>
/// (docs/consensus.md, "Proposer selection"), so it is a function of the chain alone.
/// </summary>
public sealed record ActiveValidators(ValidatorSet Set, Height ActiveSince)
{
    public Hash32 Hash => Set.Hash;
}

/// <summary>
/// Which validators decide each height. The set of height H+1 and H+2 is known once height H is committed
/// (a change computed while executing H takes effect at H+2; every header binds its own set and the next).
/// </summary>
public interface IValidatorSchedule
{
    /// <summary>The validators of <paramref name="height"/>, or null when that height is not yet determined.</summary>
    ActiveValidators? ValidatorsAt(Height height);
}

/// <summary>One set for every height (the simulator, tests, and chains without staking).</summary>
public sealed class FixedValidatorSchedule(ValidatorSet set) : IValidatorSchedule
{
    private readonly ActiveValidators _active = new(set ?? throw new ArgumentNullException(nameof(set)), new Height(1));

    public ValidatorSet Set => _active.Set;

    public ActiveValidators? ValidatorsAt(Height height) => _active;
}
