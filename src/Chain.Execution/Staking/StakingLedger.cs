using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>
/// The staking records (docs/staking.md, "State") read from, and written to, one view of the state: the block's
/// overlay in execution, the committed state for the mempool and RPC (read only). The arithmetic of shares lives here,
/// once: the rules (<see cref="TransactionRules.CheckStaking"/>) ask it what an operation would do before the state
/// machine asks it to do it. Integer only, overflow-checked (UInt128 where a product can exceed 64 bits).
/// </summary>
public sealed class StakingLedger(Func<Hash32, byte[]?> get, StakingParameters parameters, Action<Hash32, byte[]?>? set = null)
{
    public StakingParameters Parameters => parameters;

    public ValidatorRecord? Validator(Address operatorAddress) => Read<ValidatorRecord>(StateKeys.Validator(operatorAddress));

    /// <summary>The operator of the validator whose consensus address is <paramref name="consensusAddress"/>, if any ever had it.</summary>
    public Address? OperatorOf(Address consensusAddress) => Read<OperatorIndex>(StateKeys.ConsensusAddress(consensusAddress))?.Operator;

    public ulong DelegationShares(Address delegator, Address validator) => Read<Delegation>(StateKeys.Delegation(delegator, validator))?.Shares ?? 0;

    public IReadOnlyList<Address> Candidates => (Read<AddressList>(StateKeys.Candidates) ?? AddressList.Empty).Items;

    /// <summary>The validators <paramref name="delegator"/> holds shares in.</summary>
    public IReadOnlyList<Address> DelegatedTo(Address delegator) => (Read<AddressList>(StateKeys.Delegator(delegator)) ?? AddressList.Empty).Items;

    public UnbondingQueue Unbonding => Read<UnbondingQueue>(StateKeys.UnbondingQueue) ?? UnbondingQueue.Empty;

    /// <summary>Vals(H+1) and Vals(H+2) after height H. Always present from genesis on.</summary>
    public ValidatorSetsRecord Sets => Read<ValidatorSetsRecord>(StateKeys.ValidatorSets)
        ?? throw new InvalidOperationException("the state has no validator sets record (a store from before staking?)");

    public ulong Burned => Read<BurnedTotal>(StateKeys.Burned)?.Amount ?? 0;

    /// <summary>The tokens <paramref name="shares"/> of <paramref name="validator"/> are worth (rounded down).</summary>
    public static ulong TokensOf(ulong shares, ValidatorRecord validator) =>
        validator.Shares == 0 ? 0 : (ulong)((UInt128)shares * validator.Tokens / validator.Shares);

    /// <summary>Shares a bond of <paramref name="amount"/> buys (rounded down, in favour of the existing delegators), or the reason it cannot.</summary>
    public static ulong SharesFor(ulong amount, ValidatorRecord validator, out string? problem)
    {
        problem = null;
        if (validator.Shares == 0) return amount; // no delegators (left): 1:1, any dust tokens go with the first shares
        if (validator.Tokens == 0) { problem = "the validator has no tokens left (fully slashed): its shares are worth nothing"; return 0; }
        var shares = (UInt128)amount * validator.Shares / validator.Tokens;
        if (shares == 0) { problem = $"amount {amount} buys no share (the validator's shares are worth more than that)"; return 0; }
        if (shares > ulong.MaxValue - validator.Shares || amount > ulong.MaxValue - validator.Tokens)
        {
            problem = $"amount {amount} overflows the validator's 64-bit tokens or shares";
            return 0;
        }
        return (ulong)shares;
    }

    /// <summary>Shares an unbond of <paramref name="amount"/> tokens burns: rounded up (in favour of those who stay), at most all of them.</summary>
    public static ulong SharesToUnbond(ulong amount, ulong delegatorShares, ValidatorRecord validator)
    {
        var shares = ((UInt128)amount * validator.Shares + validator.Tokens - 1) / validator.Tokens;
        return shares > delegatorShares ? delegatorShares : (ulong)shares;
    }

    // ---- writes (execution only) ----

    public void CreateValidator(Address operatorAddress, PublicKey consensusKey, ulong selfBond)
    {
        Write(StateKeys.Validator(operatorAddress), ValidatorRecord.New(consensusKey, 0, parameters.DowntimeWindow));
        Write(StateKeys.ConsensusAddress(consensusKey.Address), new OperatorIndex(operatorAddress));
        Write(StateKeys.Candidates, new AddressList([.. Candidates, operatorAddress]));
        Bond(operatorAddress, operatorAddress, selfBond);
    }

    /// <summary>Moves nothing between accounts: the caller has debited <paramref name="amount"/> already. Checked by the rules first.</summary>
    public void Bond(Address delegator, Address validatorAddress, ulong amount)
    {
        var validator = Validator(validatorAddress) ?? throw new InvalidOperationException($"no validator {validatorAddress}");
        ulong shares = SharesFor(amount, validator, out var problem);
        if (problem is not null) throw new InvalidOperationException(problem);
        Write(StateKeys.Validator(validatorAddress), validator.WithStake(checked(validator.Tokens + amount), checked(validator.Shares + shares)));
        SetDelegation(delegator, validatorAddress, checked(DelegationShares(delegator, validatorAddress) + shares));
    }

    /// <summary>Takes <paramref name="amount"/> tokens out of the validator into the unbonding queue, paid at height + unbonding period.</summary>
    public void Unbond(Address delegator, Address validatorAddress, ulong amount, ulong height)
    {
        var validator = Validator(validatorAddress) ?? throw new InvalidOperationException($"no validator {validatorAddress}");
        ulong held = DelegationShares(delegator, validatorAddress);
        ulong shares = SharesToUnbond(amount, held, validator);
        Write(StateKeys.Validator(validatorAddress), validator.WithStake(checked(validator.Tokens - amount), checked(validator.Shares - shares)));
        SetDelegation(delegator, validatorAddress, held - shares);
        var entry = new UnbondingEntry(delegator, validatorAddress, amount, height, checked(height + parameters.UnbondingPeriod));
        Write(StateKeys.UnbondingQueue, new UnbondingQueue([.. Unbonding.Entries, entry]));
    }

    public void Unjail(Address operatorAddress)
    {
        var validator = Validator(operatorAddress) ?? throw new InvalidOperationException($"no validator {operatorAddress}");
        Write(StateKeys.Validator(operatorAddress), validator.Unjailed());
    }

    public void PutValidator(Address operatorAddress, ValidatorRecord record) => Write(StateKeys.Validator(operatorAddress), record);

    public void PutUnbonding(UnbondingQueue queue) => Write(StateKeys.UnbondingQueue, queue.Entries.Count == 0 ? null : queue);

    public void PutSets(ValidatorSetsRecord sets) => Write(StateKeys.ValidatorSets, sets);

    public void AddBurned(ulong amount)
    {
        if (amount > 0) Write(StateKeys.Burned, new BurnedTotal(checked(Burned + amount)));
    }

    private void SetDelegation(Address delegator, Address validator, ulong shares)
    {
        var list = DelegatedTo(delegator);
        bool listed = list.Contains(validator);
        Write(StateKeys.Delegation(delegator, validator), shares == 0 ? null : new Delegation(shares));
        if (shares == 0 && listed)
        {
            var rest = list.Where(v => v != validator).ToList();
            Write(StateKeys.Delegator(delegator), rest.Count == 0 ? null : new AddressList(rest));
        }
        else if (shares > 0 && !listed)
        {
            Write(StateKeys.Delegator(delegator), new AddressList([.. list, validator]));
        }
    }

    private T? Read<T>(Hash32 key) where T : class, ICanonicalObject<T> => get(key) is { } bytes ? Canonical.Decode<T>(bytes) : null;

    private void Write<T>(Hash32 key, T? value) where T : CanonicalObject<T>, ICanonicalObject<T> =>
        (set ?? throw new InvalidOperationException("this staking ledger is read only"))(key, value?.Encoded.ToArray());
}
