using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;

namespace Chain.Execution;

/// <summary>
/// The transaction rules (docs/execution.md, "Transaction rules"). <see cref="Apply"/> either rejects a
/// transaction (it cannot be in a block; nothing changes) or includes it: the fee moves to the proposer
/// and the nonce advances, then the body runs in its own layer, which is dropped if the body fails.
/// Deterministic: the result depends only on the state, the transaction, the proposer and the height (and the
/// inference outputs, which are canonical bytes wherever a disagreement is decided: see <see cref="InferencePass"/>).
/// </summary>
internal sealed class StateMachine(ChainId chainId, ExecutionParameters parameters, TransactionSignatureCache? signatures = null)
{
    public ExecutionParameters Parameters => parameters;

    /// <summary>
    /// The checks that make a transaction unincludable, in this order: size, chain id, signature, gas
    /// limit vs block limit, fee vs minimum fee, nonce, ability to pay the fee.
    /// </summary>
    public Rejection? CheckIncludable(SignedTransaction signed, Account sender, bool checkSignature = true)
    {
        var tx = signed.Transaction;
        if (signed.Encoded.Length > parameters.MaxTxBytes)
            return new(RejectCode.TooLarge, $"transaction is {signed.Encoded.Length} bytes, the limit is {parameters.MaxTxBytes}");
        if (tx.ChainId != chainId)
            return new(RejectCode.WrongChainId, $"transaction is for chain '{tx.ChainId}', this chain is '{chainId}'");
        if (checkSignature && !(signatures?.Verify(signed, chainId, out var reason) ?? signed.Verify(chainId, out reason)))
            return new(RejectCode.InvalidSignature, reason);
        ulong limit = Gas.Limit(tx, parameters);
        if (limit > parameters.BlockGasLimit)
            return new(RejectCode.GasLimitTooHigh, $"gas limit {limit} exceeds the block gas limit {parameters.BlockGasLimit}");
        ulong minFee = Gas.MinFee(tx, parameters);
        if (tx.Fee < minFee)
            return new(RejectCode.FeeTooLow, $"fee {tx.Fee} is below the minimum {minFee} (gas limit {limit} × price {parameters.GasPrice})");
        if (tx.Nonce != sender.Nonce)
            return new(RejectCode.BadNonce, $"nonce {tx.Nonce} from {tx.SenderAddress}, expected {sender.Nonce}");
        if (sender.Balance < tx.Fee)
            return new(RejectCode.InsufficientFunds, $"{tx.SenderAddress} has {sender.Balance}, cannot pay fee {tx.Fee}");
        return null;
    }

    /// <summary>
    /// Applies <paramref name="signed"/> to <paramref name="state"/>, running inferences through <paramref name="inference"/>;
    /// returns its receipt, or the rejection (state untouched).
    /// </summary>
    public (Receipt? Receipt, Rejection? Rejection) Apply(SignedTransaction signed, StateOverlay state, Address proposer, ulong height, InferencePass inference)
    {
        var tx = signed.Transaction;
        var senderAddress = tx.SenderAddress;
        var sender = state.GetAccount(senderAddress);
        if (CheckIncludable(signed, sender) is { } rejection) return (null, rejection);

        // Fee and nonce first, in the block layer: they stick even when the body fails.
        state.SetAccount(senderAddress, new Account(sender.Balance - tx.Fee, sender.Nonce + 1));
        var beneficiary = state.GetAccount(proposer);
        // Cannot overflow: fees only move value and the total supply fits in 64 bits (Genesis checks it).
        state.SetAccount(proposer, new Account(beneficiary.Balance + tx.Fee, beneficiary.Nonce));

        state.BeginTransaction();
        var (status, gasUsed, result) = tx.Body switch
        {
            TransferBody t => Transfer(state, senderAddress, t),
            RegisterModelBody r => Register(state, senderAddress, r, height),
            InferBody i => Infer(state, i, inference),
            _ => throw new InvalidOperationException($"unknown transaction kind {tx.Body.Kind}"),
        };
        if (status == ReceiptStatus.Success) state.CommitTransaction();
        else state.RollbackTransaction();
        return (new Receipt(signed.Hash, status, gasUsed, result), null);
    }

    private (ReceiptStatus, ulong, InferenceResult?) Transfer(StateOverlay state, Address from, TransferBody body)
    {
        ulong gas = parameters.TransferGas;
        var sender = state.GetAccount(from);
        if (sender.Balance < body.Amount) return (ReceiptStatus.InsufficientFunds, gas, null);
        state.SetAccount(from, new Account(sender.Balance - body.Amount, sender.Nonce));
        var recipient = state.GetAccount(body.Recipient);
        state.SetAccount(body.Recipient, new Account(recipient.Balance + body.Amount, recipient.Nonce));
        return (ReceiptStatus.Success, gas, null);
    }

    private (ReceiptStatus, ulong, InferenceResult?) Register(StateOverlay state, Address owner, RegisterModelBody body, ulong height)
    {
        ulong gas = Gas.Register(body, parameters);
        var id = body.ModelId;
        if (state.GetModel(id) is not null) return (ReceiptStatus.ModelRejected, gas, null);
        var check = ModelRegistry.Check(body.ModelBytes.Span, owner, body.Name, height);
        if (check.Info is null) return (ReceiptStatus.ModelRejected, gas, null);
        state.Set(StateKeys.Model(id), check.Info.Encoded.ToArray());
        state.Set(StateKeys.ModelCode(id), body.ModelBytes.ToArray());
        return (ReceiptStatus.Success, gas, null);
    }

    private (ReceiptStatus, ulong, InferenceResult?) Infer(StateOverlay state, InferBody body, InferencePass inference)
    {
        ulong intrinsic = Gas.InferIntrinsic(body, parameters);
        if (body.MaxGas < intrinsic) return (ReceiptStatus.OutOfGas, body.MaxGas, null);
        var model = state.GetModel(body.ModelId);
        if (model is null) return (ReceiptStatus.UnknownModel, intrinsic, null);
        if (!Canonical.TryDecode<Tensor>(body.Input, out var input, out _) || input is null || !model.Input.Matches(input))
            return (ReceiptStatus.InvalidInput, intrinsic, null);
        ulong total = Gas.Add(intrinsic, model.Gas);
        if (total > body.MaxGas) return (ReceiptStatus.OutOfGas, body.MaxGas, null);

        var outcome = inference.Run(body.ModelId, () => state.Get(StateKeys.ModelCode(body.ModelId))
            ?? throw new InvalidOperationException($"model {body.ModelId} has metadata but no bytes in state"), input);
        if (outcome.Output is not { } output || output.Encoded.Length > ProtocolLimits.MaxTensorBytes)
            return (ReceiptStatus.InferenceFailed, total, null);
        var result = new InferenceResult(body.ModelId, ExecutionParameters.SemanticsVersion, input.Hash, output.Hash, output.Encoded.Span);
        return (ReceiptStatus.Success, total, result);
    }
}
