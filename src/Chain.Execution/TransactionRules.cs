using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>
/// The rules a transaction meets, written once (docs/execution.md, "Transaction rules"). The state machine
/// (<see cref="CheckIncludable"/>, <see cref="CheckInfer"/>) and the mempool (<see cref="CheckStateless"/>,
/// <see cref="CheckBody"/>, <see cref="CheckNonce"/>, <see cref="CheckSpend"/>) call the same checks, so
/// admission and inclusion cannot drift apart:
/// <list type="bullet">
/// <item>stateless: size, chain id, signature (through the shared <see cref="TransactionSignatureCache"/>), gas
/// limit ≤ block gas limit, fee ≥ <see cref="Gas.MinFee(Transaction, ExecutionParameters)"/>;</item>
/// <item>stateful: nonce (the account's, after the sender's pending transactions) and funds;</item>
/// <item>body: what makes a body certain to fail. For the state machine these are receipt statuses (the
/// transaction is included and pays its fee); the mempool refuses such a transaction instead (<i>policy</i>), so
/// that nobody pays for a certain failure: a model admission refuses, an Infer whose input cannot fit its
/// registered model or whose maxGas cannot pay for it.</item>
/// </list>
/// Every rejection message is one line naming the field, what was expected and what was found.
/// </summary>
public sealed class TransactionRules(ChainId chainId, ExecutionParameters parameters, TransactionSignatureCache? signatures = null)
{
    public ChainId ChainId => chainId;
    public ExecutionParameters Parameters => parameters;

    private long _signatureHits, _signatureMisses;

    /// <summary>Signatures these rules found already verified in the shared <see cref="TransactionSignatureCache"/>.</summary>
    public long SignatureCacheHits => Interlocked.Read(ref _signatureHits);

    /// <summary>Signatures these rules verified on the spot (no cache, or not in it).</summary>
    public long SignatureCacheMisses => Interlocked.Read(ref _signatureMisses);

    /// <summary>
    /// The checks that need no state, in this order: size, chain id, signature, gas limit vs block gas limit, fee vs minimum fee.
    /// </summary>
    public Rejection? CheckStateless(SignedTransaction signed, bool checkSignature = true)
    {
        ArgumentNullException.ThrowIfNull(signed);
        var tx = signed.Transaction;
        if (signed.Encoded.Length > parameters.MaxTxBytes)
            return new(RejectCode.TooLarge, $"size: transaction is {signed.Encoded.Length} bytes, the limit is {parameters.MaxTxBytes}");
        if (tx.ChainId != chainId)
            return new(RejectCode.WrongChainId, $"chainId: expected '{chainId}', the transaction is for '{tx.ChainId}'");
        if (checkSignature && !VerifySignature(signed, out var reason))
            return new(RejectCode.InvalidSignature, $"signature: {OneLine(reason)}");
        ulong limit = Gas.Limit(tx, parameters);
        if (limit > parameters.BlockGasLimit)
            return new(RejectCode.GasLimitTooHigh, $"gas limit {limit} exceeds the block gas limit {parameters.BlockGasLimit}");
        ulong minFee = Gas.MinFee(tx, parameters);
        if (tx.Fee < minFee)
            return new(RejectCode.FeeTooLow, $"fee {tx.Fee} is below the minimum {minFee} (gas limit {limit} × price {parameters.GasPrice})");
        return null;
    }

    /// <summary>
    /// Nonce: at least the account's next nonce (lower is a replay), and exactly the next after the sender's
    /// <paramref name="pending"/> earlier transactions (higher is a gap). The state machine passes 0.
    /// </summary>
    public static Rejection? CheckNonce(Transaction tx, Account sender, int pending = 0)
    {
        ArgumentNullException.ThrowIfNull(tx);
        if (tx.Nonce < sender.Nonce)
            return new(RejectCode.BadNonce, $"nonce {tx.Nonce} from {tx.SenderAddress}, expected {sender.Nonce}: below the account's next nonce (a replay)");
        ulong expected = sender.Nonce + (ulong)pending;
        if (tx.Nonce != expected)
            return new(RejectCode.BadNonce, pending == 0
                ? $"nonce {tx.Nonce} from {tx.SenderAddress}, expected {expected}"
                : $"nonce {tx.Nonce} from {tx.SenderAddress}, expected {expected} (the next after {pending} pending)");
        return null;
    }

    /// <summary>Inclusion: the sender can pay the fee (what a failing body still costs).</summary>
    public static Rejection? CheckFee(Transaction tx, Account sender)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return sender.Balance < tx.Fee
            ? new(RejectCode.InsufficientFunds, $"balance: {tx.SenderAddress} has {sender.Balance}, the fee is {tx.Fee}")
            : null;
    }

    /// <summary>What <paramref name="tx"/> takes from the sender's balance: its fee plus a transfer's amount or the tokens it bonds.</summary>
    public static ulong Spend(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return Gas.Add(tx.Fee, tx.Body switch
        {
            TransferBody transfer => transfer.Amount,
            BondBody bond => bond.Amount,
            CreateValidatorBody create => create.SelfBond,
            _ => 0,
        });
    }

    /// <summary>
    /// The staking checks that need no state (admission and inclusion): amounts are at least 1. Null for other kinds.
    /// </summary>
    public static Rejection? CheckStakingStateless(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return tx.Body switch
        {
            CreateValidatorBody { SelfBond: 0 } => Staking("selfBond: expected at least 1, got 0"),
            BondBody { Amount: 0 } => Staking("amount: expected at least 1 token to bond, got 0"),
            UnbondBody { Amount: 0 } => Staking("amount: expected at least 1 token to unbond, got 0"),
            _ => null,
        };
    }

    /// <summary>
    /// Inclusion: whether the staking state <paramref name="staking"/> can take <paramref name="tx"/> in block <paramref name="height"/>
    /// when the sender is <paramref name="sender"/> (before its fee is paid). Null for other kinds. A refused staking transaction
    /// is not included (like a bad nonce). The state machine calls it on the block's state; the mempool on the committed state,
    /// at admission (<see cref="CheckBody"/>) and again after each commit (<see cref="Mempool.Update"/>), so that a staking
    /// transaction that cannot be included does not wait in the pool for free. docs/staking.md lists the checks.
    /// </summary>
    public static Rejection? CheckStaking(Transaction tx, Account sender, StakingLedger staking, ulong height)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(staking);
        if (CheckStakingStateless(tx) is { } stateless) return stateless;
        var from = tx.SenderAddress;
        switch (tx.Body)
        {
            case CreateValidatorBody create:
                if (staking.Validator(from) is not null) return Staking($"sender: {from} already operates a validator (one per operator)");
                if (staking.OperatorOf(create.ConsensusKey.Address) is { } owner)
                    return Staking($"consensusKey: {create.ConsensusKey.Address} is already the key of validator {owner} (a key serves one validator, ever)");
                if (staking.Candidates.Count >= ProtocolLimits.MaxValidatorCandidates)
                    return Staking($"candidates: the chain already has the maximum of {ProtocolLimits.MaxValidatorCandidates} validator candidates");
                return CheckDelegationRoom(from, from, staking) ?? CheckStakeFunds(tx, sender);
            case BondBody bond:
                if (staking.Validator(bond.Validator) is not { } bonded) return Staking($"validator: {bond.Validator} is not a validator operator");
                StakingLedger.SharesFor(bond.Amount, bonded, out var problem);
                if (problem is not null) return Staking($"amount: {problem}");
                if (StakingLedger.TokensOf(staking.DelegationShares(from, bond.Validator), bonded) > ulong.MaxValue - bond.Amount)
                    return Staking($"amount: {bond.Amount} overflows the delegation's 64-bit value");
                return CheckDelegationRoom(from, bond.Validator, staking) ?? CheckStakeFunds(tx, sender);
            case UnbondBody unbond:
                if (staking.Validator(unbond.Validator) is not { } record) return Staking($"validator: {unbond.Validator} is not a validator operator");
                ulong value = StakingLedger.TokensOf(staking.DelegationShares(from, unbond.Validator), record);
                if (unbond.Amount > value)
                    return Staking($"amount: {from} has {value} tokens bonded to {unbond.Validator}, cannot unbond {unbond.Amount}");
                var queue = staking.Unbonding.Entries;
                if (queue.Count >= ProtocolLimits.MaxUnbondingEntries)
                    return Staking($"unbonding: the unbonding queue is full ({ProtocolLimits.MaxUnbondingEntries} entries); retry after some complete");
                if (queue.Count(e => e.Delegator == from) >= ProtocolLimits.MaxUnbondingEntriesPerDelegator)
                    return Staking($"unbonding: {from} already has {ProtocolLimits.MaxUnbondingEntriesPerDelegator} unbonding entries, the most one delegator may have");
                return null;
            case UnjailBody:
                if (staking.Validator(from) is not { } jailed) return Staking($"sender: {from} does not operate a validator");
                if (jailed.Tombstoned) return Staking($"sender: validator {from} is tombstoned for double signing and can never be unjailed");
                if (!jailed.Jailed) return Staking($"sender: validator {from} is not jailed");
                if (height < jailed.JailedUntil)
                    return Staking($"height: validator {from} is jailed until height {jailed.JailedUntil}, this is height {height}");
                return null;
            default:
                return null;
        }
    }

    // The balance pays the fee and the tokens bonded.
    private static Rejection? CheckStakeFunds(Transaction tx, Account sender)
    {
        ulong spend = Spend(tx);
        return sender.Balance < spend
            ? new(RejectCode.InsufficientFunds, $"balance: {tx.SenderAddress} has {sender.Balance}, the fee and the bond take {spend}")
            : null;
    }

    // A delegator holds shares in at most MaxDelegationsPerDelegator validators (its index record is bounded).
    private static Rejection? CheckDelegationRoom(Address delegator, Address validator, StakingLedger staking)
    {
        var list = staking.DelegatedTo(delegator);
        return list.Count >= ProtocolLimits.MaxDelegationsPerDelegator && !list.Contains(validator)
            ? Staking($"validator: {delegator} already delegates to {list.Count} validators, the most one delegator may")
            : null;
    }

    private static Rejection Staking(string message) => new(RejectCode.InvalidStaking, message);

    /// <summary>
    /// Admission: the sender's committed balance covers what its <paramref name="pendingSpend"/> pending transactions
    /// and this one spend (<see cref="Spend"/>), so that none of them is certain to fail for want of funds.
    /// </summary>
    public static Rejection? CheckSpend(Transaction tx, Account sender, ulong pendingSpend = 0)
    {
        ulong spend = Spend(tx);
        if (Gas.Add(pendingSpend, spend) <= sender.Balance) return null;
        return pendingSpend == 0
            ? new(RejectCode.InsufficientFunds, $"balance: {tx.SenderAddress} has {sender.Balance}, the transaction spends {spend}")
            : new(RejectCode.PendingOverspend, $"balance: {tx.SenderAddress} has {sender.Balance}; pending transactions spend {pendingSpend}, this one {spend}");
    }

    /// <summary>
    /// Whether <paramref name="signed"/> can be in a block on top of a state where the sender is <paramref name="sender"/>:
    /// <see cref="CheckStateless"/>, then <see cref="CheckNonce"/>, then <see cref="CheckFee"/>.
    /// </summary>
    public Rejection? CheckIncludable(SignedTransaction signed, Account sender, bool checkSignature = true) =>
        CheckStateless(signed, checkSignature) ?? CheckNonce(signed.Transaction, sender) ?? CheckFee(signed.Transaction, sender);

    /// <summary>
    /// Admission only (<i>policy</i>): refuses a body certain to fail on <paramref name="ledger"/>, with the receipt status
    /// it would get as the code: a RegisterModel that model admission refuses (<see cref="RejectCode.ModelRejected"/>),
    /// an Infer whose maxGas is below its intrinsic gas or its registered model's cost (<see cref="RejectCode.OutOfGas"/>)
    /// or whose input does not fit the registered model (<see cref="RejectCode.InvalidInput"/>). An Infer of a model not
    /// registered yet passes: a pending RegisterModel may register it first. Run it after <see cref="CheckStateless"/>:
    /// admission of a model is the expensive check and should be spent on signed transactions only.
    /// </summary>
    public Rejection? CheckBody(Transaction tx, ILedgerView ledger)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(ledger);
        switch (tx.Body)
        {
            case RegisterModelBody register:
                var check = ModelRegistry.Check(register.ModelBytes.Span, tx.SenderAddress, register.Name, ledger.Height.Value + 1);
                return check.Accepted ? null
                    : new(RejectCode.ModelRejected, $"modelBytes: expected a model that admission accepts, model {check.ModelId} is refused: {OneLine(check.Refusal ?? "")}");
            case InferBody infer:
                var verdict = CheckInfer(infer, ledger.GetModel);
                return verdict.Status switch
                {
                    ReceiptStatus.Success or ReceiptStatus.UnknownModel => null,
                    ReceiptStatus.OutOfGas => new(RejectCode.OutOfGas, verdict.Reason!),
                    _ => new(RejectCode.InvalidInput, verdict.Reason!),
                };
            default:
                // Staking kinds: the full check against the committed staking state (null for every other kind).
                return CheckStaking(tx, ledger.GetAccount(tx.SenderAddress), ledger.Staking, ledger.Height.Value + 1);
        }
    }

    /// <summary>
    /// The state-dependent checks of an Infer before its model runs, in the order execution applies them: maxGas below
    /// the intrinsic gas → OutOfGas (gas used: maxGas); model not registered → UnknownModel (intrinsic); input not a
    /// canonical tensor of the model's input type and shape → InvalidInput (intrinsic); intrinsic + model gas above
    /// maxGas → OutOfGas (maxGas). Success carries the decoded input and the total gas. <paramref name="models"/> is
    /// asked only when the intrinsic gas is covered. Used by the state machine, mempool admission and pre-execution.
    /// </summary>
    public InferCheck CheckInfer(InferBody body, Func<Hash32, ModelInfo?> models)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(models);
        ulong intrinsic = Gas.InferIntrinsic(body, parameters);
        if (body.MaxGas < intrinsic)
            return new(ReceiptStatus.OutOfGas, body.MaxGas, null, null,
                $"maxGas: expected at least the intrinsic gas {intrinsic} (infer gas + {body.Input.Length} input bytes), got {body.MaxGas}");
        var model = models(body.ModelId);
        if (model is null) return new(ReceiptStatus.UnknownModel, intrinsic, null, null, $"modelId: model {body.ModelId} is not registered");
        if (!Canonical.TryDecode<Tensor>(body.Input, out var input, out var error) || input is null)
            return new(ReceiptStatus.InvalidInput, intrinsic, model, null,
                $"input: the input is not a canonical tensor: {OneLine(error?.Message ?? "")}; model {body.ModelId} takes {model.Input}");
        if (!model.Input.Matches(input))
            return new(ReceiptStatus.InvalidInput, intrinsic, model, null, $"input: the input is {input}; model {body.ModelId} takes {model.Input}");
        ulong total = Gas.Add(intrinsic, model.Gas);
        if (total > body.MaxGas)
            return new(ReceiptStatus.OutOfGas, body.MaxGas, model, null,
                $"maxGas: expected at least {total} (intrinsic {intrinsic} + model {body.ModelId} gas {model.Gas}), got {body.MaxGas}");
        return new(ReceiptStatus.Success, total, model, input, null);
    }

    private bool VerifySignature(SignedTransaction signed, out string reason)
    {
        bool cached = false;
        bool ok = signatures?.Verify(signed, chainId, out reason, out cached) ?? signed.Verify(chainId, out reason);
        Interlocked.Increment(ref cached ? ref _signatureHits : ref _signatureMisses);
        return ok;
    }

    /// <summary>A message on one line: line breaks become spaces.</summary>
    public static string OneLine(string message) =>
        string.Join(' ', (message ?? "").Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>
/// The verdict of <see cref="TransactionRules.CheckInfer"/>: <paramref name="Status"/> Success (with the decoded
/// <paramref name="Input"/>, and <paramref name="GasUsed"/> the total the receipt will show) or the receipt status
/// and gas of the failure, with a one-line <paramref name="Reason"/>.
/// </summary>
public sealed record InferCheck(ReceiptStatus Status, ulong GasUsed, ModelInfo? Model, Tensor? Input, string? Reason);
