using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>
/// The transaction rules (docs/execution.md, "Transaction rules"). <see cref="Apply"/> either rejects a
/// transaction (it cannot be in a block; nothing changes) or includes it: the fee moves to the proposer
/// and the nonce advances, then the body runs in its own layer, which is dropped if the body fails.
/// Deterministic: the result depends only on the state, the transaction, the proposer and the height (and the
/// inference outputs, which are canonical bytes wherever a disagreement is decided: see <see cref="InferencePass"/>).
/// </summary>
internal sealed class StateMachine(TransactionRules rules)
{
    public ExecutionParameters Parameters => rules.Parameters;
    public TransactionRules Rules => rules;

    /// <summary>
    /// The checks that make a transaction unincludable (<see cref="TransactionRules.CheckIncludable"/>), in this order: size,
    /// chain id, signature, gas limit vs block limit, fee vs minimum fee, nonce, ability to pay the fee.
    /// </summary>
    public Rejection? CheckIncludable(SignedTransaction signed, Account sender, bool checkSignature = true) =>
        rules.CheckIncludable(signed, sender, checkSignature);

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
        var staking = new StakingLedger(state.Get, Parameters.Staking, state.Set);
        if (TransactionRules.CheckStaking(tx, sender, staking, height) is { } refused) return (null, refused);

        // Fee and nonce first, in the block layer: they stick even when the body fails.
        state.SetAccount(senderAddress, new Account(sender.Balance - tx.Fee, sender.Nonce + 1));
        var beneficiary = state.GetAccount(proposer);
        // Cannot overflow: fees only move value and the total supply fits in 64 bits (Genesis checks it).
        state.SetAccount(proposer, new Account(beneficiary.Balance + tx.Fee, beneficiary.Nonce));

        state.BeginTransaction();
        var uploads = new ModelUploads(state.Get, state.Set);
        bool freeUpload = false;
        var (status, gasUsed, result) = tx.Body switch
        {
            BeginModelUploadBody begin => Chunked(uploads.Begin(senderAddress, begin, height), tx.Body),
            UploadModelChunkBody chunk => Chunked(uploads.Chunk(senderAddress, chunk, height), tx.Body),
            SealModelBody seal => Chunked(uploads.Seal(senderAddress, seal, height, out freeUpload), tx.Body),
            TransferBody t => Transfer(state, senderAddress, t),
            RegisterModelBody r => Register(state, senderAddress, r, height),
            InferBody i => Infer(state, i, inference),
            CreateValidatorBody or BondBody or UnbondBody or UnjailBody => Stake(state, staking, senderAddress, tx.Body, height),
            _ => throw new InvalidOperationException($"unknown transaction kind {tx.Body.Kind}"),
        };
        if (status == ReceiptStatus.Success) state.CommitTransaction();
        else state.RollbackTransaction();
        // A seal refused on its assembled bytes frees the upload: in the block layer, so the rollback keeps it.
        if (freeUpload) uploads.Free(senderAddress, ((SealModelBody)tx.Body).ModelId);
        return (new Receipt(signed.Hash, status, gasUsed, result), null);
    }

    private (ReceiptStatus, ulong, InferenceResult?) Transfer(StateOverlay state, Address from, TransferBody body)
    {
        ulong gas = Parameters.TransferGas;
        var sender = state.GetAccount(from);
        if (sender.Balance < body.Amount) return (ReceiptStatus.InsufficientFunds, gas, null);
        state.SetAccount(from, new Account(sender.Balance - body.Amount, sender.Nonce));
        var recipient = state.GetAccount(body.Recipient);
        state.SetAccount(body.Recipient, new Account(recipient.Balance + body.Amount, recipient.Nonce));
        return (ReceiptStatus.Success, gas, null);
    }

    // Checked by TransactionRules.CheckStaking before the fee was taken: cannot fail here.
    private (ReceiptStatus, ulong, InferenceResult?) Stake(StateOverlay state, StakingLedger staking, Address from, TransactionBody body, ulong height)
    {
        switch (body)
        {
            case CreateValidatorBody create:
                Debit(state, from, create.SelfBond);
                staking.CreateValidator(from, create.ConsensusKey, create.SelfBond);
                break;
            case BondBody bond:
                Debit(state, from, bond.Amount);
                staking.Bond(from, bond.Validator, bond.Amount);
                break;
            case UnbondBody unbond:
                staking.Unbond(from, unbond.Validator, unbond.Amount, height);
                break;
            default:
                staking.Unjail(from);
                break;
        }
        return (ReceiptStatus.Success, Parameters.TransferGas, null);
    }

    private static void Debit(StateOverlay state, Address from, ulong amount)
    {
        var account = state.GetAccount(from);
        state.SetAccount(from, new Account(checked(account.Balance - amount), account.Nonce));
    }

    private (ReceiptStatus, ulong, InferenceResult?) Register(StateOverlay state, Address owner, RegisterModelBody body, ulong height)
    {
        ulong gas = Gas.Register(body, Parameters);
        var id = body.ModelId;
        if (state.GetModel(id) is not null) return (ReceiptStatus.ModelRejected, gas, null);
        var check = ModelRegistry.Check(body.ModelBytes.Span, owner, body.Name, height);
        if (check.Info is null) return (ReceiptStatus.ModelRejected, gas, null);
        state.Set(StateKeys.Model(id), check.Info.Encoded.ToArray());
        state.Set(StateKeys.ModelCode(id), body.ModelBytes.ToArray());
        return (ReceiptStatus.Success, gas, null);
    }

    // A chunked-registration body: Success, or ModelRejected with its one-line refusal dropped (receipts carry no reason).
    private (ReceiptStatus, ulong, InferenceResult?) Chunked(string? refusal, TransactionBody body) =>
        (refusal is null ? ReceiptStatus.Success : ReceiptStatus.ModelRejected, Gas.Limit(body, Parameters), null);

    private (ReceiptStatus, ulong, InferenceResult?) Infer(StateOverlay state, InferBody body, InferencePass inference)
    {
        var check = rules.CheckInfer(body, state.GetModel);
        if (check.Status != ReceiptStatus.Success) return (check.Status, check.GasUsed, null);
        var input = check.Input!;
        ulong total = check.GasUsed;

        var outcome = inference.Run(body.ModelId, () => ModelUploads.LoadCode(state.Get, body.ModelId)
            ?? throw new InvalidOperationException($"model {body.ModelId} has metadata but no bytes in state"), input);
        if (outcome.Output is not { } output || output.Encoded.Length > ProtocolLimits.MaxTensorBytes)
            return (ReceiptStatus.InferenceFailed, total, null);
        var result = new InferenceResult(body.ModelId, ExecutionParameters.SemanticsVersion, input.Hash, output.Hash, output.Encoded.Span);
        return (ReceiptStatus.Success, total, result);
    }
}
