using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>What slashing did to one offender: its operator (null when no validator ever had that consensus address) and the tokens burned.</summary>
public readonly record struct SlashOutcome(Address ConsensusAddress, Address? Operator, ulong Slashed);

/// <summary>
/// The staking steps that are not transactions (docs/staking.md): slashing for evidence, and the end-block step
/// (unbonding payouts, downtime, the validator set of height H+2). Deterministic and integer only.
/// </summary>
internal static class StakingTransitions
{
    /// <summary>
    /// Slashes the kind's fraction of the offender's tokens and of its unbonding entries created at or after the offence,
    /// burns it, and jails the validator (tombstoning it for double signing). A tombstoned validator is not slashed again.
    /// </summary>
    public static SlashOutcome Slash(StakingLedger staking, Address consensusAddress, string kind, ulong offenceHeight, ulong height)
    {
        var p = staking.Parameters;
        if (staking.OperatorOf(consensusAddress) is not { } op || staking.Validator(op) is not { } validator) return new(consensusAddress, null, 0);
        if (validator.Tombstoned) return new(consensusAddress, op, 0);
        ulong fraction = p.SlashFraction(kind);
        ulong fromTokens = Fraction(validator.Tokens, fraction);
        ulong fromUnbonding = 0;
        var entries = staking.Unbonding.Entries.Select(e =>
        {
            if (e.Validator != op || e.CreationHeight < offenceHeight) return e;
            ulong cut = Fraction(e.Amount, fraction);
            fromUnbonding = checked(fromUnbonding + cut);
            return e with { Amount = e.Amount - cut };
        }).ToList();
        staking.PutUnbonding(new UnbondingQueue(entries));
        ulong jail = StakingParameters.Tombstones(kind) ? ulong.MaxValue : Gas.Add(height, p.EvidenceJailHeights);
        if (validator.Jailed) jail = Math.Max(jail, validator.JailedUntil); // a second jailing never shortens the first
        staking.PutValidator(op, validator.WithStake(validator.Tokens - fromTokens, validator.Shares).WithJail(jail, StakingParameters.Tombstones(kind)));
        ulong slashed = checked(fromTokens + fromUnbonding);
        staking.AddBurned(slashed);
        return new(consensusAddress, op, slashed);
    }

    /// <summary>floor(amount × ppm / 10^6).</summary>
    public static ulong Fraction(ulong amount, ulong ppm) => (ulong)((UInt128)amount * ppm / StakingParameters.PartsPerMillion);

    /// <summary>
    /// The end of block <paramref name="height"/>, in this order: pay out unbondings that complete at or before it; count
    /// the signatures of <paramref name="lastCommit"/> against <paramref name="previous"/> (Vals(H−1)) and jail those that
    /// missed too many; then compute Vals(H+2) and shift the sets record. Evidence was slashed where it was applied.
    /// </summary>
    public static void EndBlock(StakingLedger staking, StateOverlay state, ulong height, ValidatorSet? previous, Commit? lastCommit)
    {
        var p = staking.Parameters;

        var queue = staking.Unbonding.Entries;
        int matured = 0;
        while (matured < queue.Count && queue[matured].CompletionHeight <= height)
        {
            var entry = queue[matured++];
            var account = state.GetAccount(entry.Delegator);
            // Cannot overflow: balances, bonded and unbonding tokens together are the genesis supply less burns, which fits in 64 bits.
            state.SetAccount(entry.Delegator, new Chain.Core.State.Account(account.Balance + entry.Amount, account.Nonce));
        }
        if (matured > 0) staking.PutUnbonding(new UnbondingQueue(queue.Skip(matured)));

        if (previous is not null && lastCommit is not null)
        {
            var signers = lastCommit.Signatures.Select(s => s.Validator).ToHashSet();
            foreach (var v in previous.Validators)
            {
                if (staking.OperatorOf(v.Address) is not { } op || staking.Validator(op) is not { } record || record.Jailed) continue;
                var counted = record.WithSignature(signers.Contains(v.Address), p.DowntimeWindow);
                if (counted.Missed > p.MaxMissed) counted = counted.WithJail(Gas.Add(height, p.DowntimeJailHeights), tombstone: false);
                staking.PutValidator(op, counted);
            }
        }

        var sets = staking.Sets;
        var computed = ComputeSet(staking);
        ActiveValidators afterNext = computed is null || SameMembers(computed, sets.AfterNext.Set) ? sets.AfterNext
            : new ActiveValidators(computed, new Height(height + 2));
        staking.PutSets(new ValidatorSetsRecord(sets.AfterNext, afterNext));
    }

    // The same validators with the same powers, in any order: the set stays as it is (order and hash included), so a
    // chain whose stake does not change keeps its genesis set whatever order genesis listed it in.
    private static bool SameMembers(ValidatorSet computed, ValidatorSet current) =>
        computed.Count == current.Count && computed.Validators.All(v => current.TryGet(v.Address, out var c, out _) && c == v);

    /// <summary>
    /// The top MaxValidators non-jailed candidates by power (tokens / power reduction, at least 1), by power descending
    /// then consensus address ascending; null when no candidate qualifies (the chain then keeps its last set).
    /// </summary>
    public static ValidatorSet? ComputeSet(StakingLedger staking)
    {
        var p = staking.Parameters;
        var members = new List<Validator>();
        foreach (var op in staking.Candidates)
        {
            var record = staking.Validator(op) ?? throw new InvalidOperationException($"candidate {op} has no validator record");
            ulong power = record.Power(p);
            if (!record.Jailed && power > 0) members.Add(new Validator(record.ConsensusKey, power));
        }
        if (members.Count == 0) return null;
        members.Sort((a, b) => a.Power != b.Power ? b.Power.CompareTo(a.Power) : a.Address.CompareTo(b.Address));
        return new ValidatorSet(members.Take(p.MaxValidators));
    }
}
