using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus.Simulation;

/// <summary>
/// A validator schedule given in advance as steps: each set governs from its first height until the next step.
/// Steps that repeat the previous set (same hash) do not restart the proposer rotation. For the simulator and tests,
/// where no staking computes the sets.
/// </summary>
public sealed class SteppedValidatorSchedule : IValidatorSchedule
{
    private readonly List<ActiveValidators> _steps = new();

    /// <param name="steps">(first height, set), first heights strictly increasing and the first one 1.</param>
    public SteppedValidatorSchedule(IEnumerable<(Height From, ValidatorSet Set)> steps)
    {
        foreach (var (from, set) in steps)
        {
            ArgumentNullException.ThrowIfNull(set);
            if (_steps.Count == 0 ? from.Value != 1 : from.Value <= _steps[^1].ActiveSince.Value)
                throw new ArgumentException("steps must start at height 1 and increase", nameof(steps));
            if (_steps.Count > 0 && _steps[^1].Hash == set.Hash) continue; // same set: the run goes on
            _steps.Add(new ActiveValidators(set, from));
        }
        if (_steps.Count == 0) throw new ArgumentException("no steps", nameof(steps));
    }

    public IReadOnlyList<ActiveValidators> Steps => _steps;

    public ActiveValidators? ValidatorsAt(Height height)
    {
        if (height.Value == 0) return null;
        for (int i = _steps.Count - 1; i >= 0; i--)
            if (_steps[i].ActiveSince.Value <= height.Value) return _steps[i];
        return null;
    }
}
