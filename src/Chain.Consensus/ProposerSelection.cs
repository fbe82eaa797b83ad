using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>
/// CometBFT's weighted round-robin by proposer priority, for one validator set over the run of heights it governs.
/// Each step adds every validator's power to its priority, picks the highest priority (ties: lowest address) and
/// subtracts the total power from the winner. Priorities start at zero at the set's first height
/// (<see cref="ActiveValidators.ActiveSince"/>, height 1 for genesis) and that height performs one step; every
/// later height adds one more and round r of a height adds r more, so proposer(h, r) is the winner of step
/// h − activeSince + 1 + r. Over any window of steps a validator proposes in proportion to its power.
/// Deterministic, no randomness: a function of the chain alone.
/// </summary>
public sealed class ProposerSelection
{
    private readonly ValidatorSet _validators;
    private readonly ulong _activeSince;
    private readonly long _total;
    // Priorities after _baseSteps steps; queries only move forward from the nearest base.
    private long[] _basePriorities;
    private ulong _baseSteps;
    private readonly Dictionary<ulong, int> _memo = new();

    /// <summary>A set that has governed since height 1 (genesis, or a fixed set).</summary>
    public ProposerSelection(ValidatorSet validators) : this(new ActiveValidators(validators, new Height(1)))
    {
    }

    public ProposerSelection(ActiveValidators active)
    {
        ArgumentNullException.ThrowIfNull(active);
        var validators = active.Set;
        _validators = validators;
        _activeSince = active.ActiveSince.Value;
        _total = (long)validators.TotalPower;
        _basePriorities = new long[validators.Count];
        _baseSteps = 0;
    }

    public Address Proposer(Height height, Round round) => _validators.Validators[ProposerIndex(height, round)].Address;

    public int ProposerIndex(Height height, Round round)
    {
        if (height.Value < _activeSince || _activeSince == 0)
            throw new ArgumentOutOfRangeException(nameof(height), $"height {height} is before this set's first height {_activeSince}");
        // Relative height: 1 at the set's first height.
        var relative = new Height(height.Value - _activeSince + 1);
        ulong step = checked(relative.Value + round.Value);
        if (_memo.TryGetValue(step, out int cached)) return cached;
        // Keep the base at this height so round queries cost O(round · n).
        if (_baseSteps > relative.Value - 1) { _basePriorities = new long[_validators.Count]; _baseSteps = 0; }
        while (_baseSteps < relative.Value - 1) { Advance(_basePriorities); _baseSteps++; }
        var p = (long[])_basePriorities.Clone();
        int winner = -1;
        for (ulong s = _baseSteps; s < step; s++) winner = Advance(p);
        if (_memo.Count > 4096) _memo.Clear();
        _memo[step] = winner;
        return winner;
    }

    private int Advance(long[] priorities)
    {
        Rescale(priorities);
        var vals = _validators.Validators;
        int best = -1;
        for (int i = 0; i < priorities.Length; i++)
        {
            priorities[i] += (long)vals[i].Power;
            if (best < 0 || priorities[i] > priorities[best]
                || (priorities[i] == priorities[best] && vals[i].Address.CompareTo(vals[best].Address) < 0))
                best = i;
        }
        priorities[best] -= _total;
        return best;
    }

    // CometBFT keeps max − min within 2 × total and centres priorities on zero. With a fixed set that
    // starts at zero both are no-ops, but they keep the arithmetic bounded if that ever changes.
    private void Rescale(long[] p)
    {
        long max = p.Max(), min = p.Min();
        long window = 2 * _total;
        if (max - min > window)
        {
            long ratio = (max - min + window - 1) / window;
            for (int i = 0; i < p.Length; i++) p[i] /= ratio;
        }
        Int128 sum = 0;
        foreach (var x in p) sum += x;
        long avg = (long)Int128.DivRem(sum, p.Length).Quotient;
        if (sum < 0 && sum % p.Length != 0) avg--; // floor, like big.Int's Euclidean division
        for (int i = 0; i < p.Length; i++) p[i] -= avg;
    }
}
