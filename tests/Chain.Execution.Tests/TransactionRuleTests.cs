using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;
using Chain.Core.State;

namespace Chain.Execution.Tests;

/// <summary>Every failure mode: the right code, and no state change beyond fee and nonce (or none at all for rejections).</summary>
public class TransactionRuleTests
{
    private sealed class Harness
    {
        public readonly InMemoryStateBackend State = new();
        public readonly ChainExecutor Executor;

        public Harness(ExecutionParameters? parameters = null) =>
            Executor = new ChainExecutor(Fixture.Genesis(parameters), new InMemoryStore(), State, Runner());

        /// <summary>Runs one block with <paramref name="tx"/>; returns the proposal and the state keys that changed.</summary>
        public (Proposal Proposal, Dictionary<Hash32, (byte[]? Before, byte[]? After)> Diff) Run(SignedTransaction tx)
        {
            var before = State.Snapshot();
            var (proposal, _) = Step(Executor, [tx], null);
            var after = State.Snapshot();
            var diff = new Dictionary<Hash32, (byte[]?, byte[]?)>();
            foreach (var key in before.Keys.Union(after.Keys))
            {
                before.TryGetValue(key, out var b);
                after.TryGetValue(key, out var a);
                if (!(a ?? []).AsSpan().SequenceEqual(b ?? []) || (a is null) != (b is null)) diff[key] = (b, a);
            }
            return (proposal, diff);
        }
    }

    private static Account Decode(byte[]? bytes) => bytes is null ? Account.Empty : Canonical.Decode<Account>(bytes);

    /// <summary>An included failure: exactly two accounts change, by the fee and the nonce.</summary>
    private static void AssertOnlyFeeAndNonce(SignedTransaction tx, Dictionary<Hash32, (byte[]? Before, byte[]? After)> diff)
    {
        var sender = tx.Transaction.SenderAddress;
        var proposer = ProposerAt(1);
        Assert.Equal(new[] { StateKeys.Account(sender), StateKeys.Account(proposer) }.OrderBy(k => k), diff.Keys.OrderBy(k => k));
        var (sb, sa) = diff[StateKeys.Account(sender)];
        Assert.Equal(Decode(sb).Balance - tx.Transaction.Fee, Decode(sa).Balance);
        Assert.Equal(Decode(sb).Nonce + 1, Decode(sa).Nonce);
        var (pb, pa) = diff[StateKeys.Account(proposer)];
        Assert.Equal(Decode(pb).Balance + tx.Transaction.Fee, Decode(pa).Balance);
    }

    private static void AssertFailedReceipt(SignedTransaction tx, ReceiptStatus status, ExecutionParameters? parameters = null)
    {
        var h = new Harness(parameters);
        var (proposal, diff) = h.Run(tx);
        Assert.Empty(proposal.Skipped);
        var receipt = Assert.Single(proposal.Receipts);
        Assert.Equal(tx.Hash, receipt.TransactionHash);
        Assert.Equal(status, receipt.Status);
        Assert.Null(receipt.Inference);
        AssertOnlyFeeAndNonce(tx, diff);
    }

    private static void AssertRejected(SignedTransaction tx, RejectCode code, VerifyFailureKind kind = VerifyFailureKind.UnincludableTransaction)
    {
        var h = new Harness();
        var rootBefore = h.Executor.StateRoot;
        var (proposal, diff) = h.Run(tx);
        Assert.Empty(proposal.Block.Transactions);
        Assert.Equal(code, Assert.Single(proposal.Skipped).Reason.Code);
        Assert.Empty(diff);
        Assert.Equal(rootBefore, h.Executor.StateRoot);

        // A validator refuses a block that carries it anyway, naming the transaction.
        var v = new Harness();
        var bad = new Block(new BlockHeader(Fixture.Chain, new Height(1), GenesisTime, Hash32.Zero, Hash32.Zero,
            Block.ComputeTransactionsRoot([tx]), Hash32.Zero, Hash32.Zero, proposal.Block.Header.ValidatorsHash,
            proposal.Block.Header.NextValidatorsHash, proposal.Block.Header.EvidenceRoot, ProposerAt(1)), [tx], null);
        var verdict = v.Executor.VerifyProposal(bad);
        Assert.False(verdict.Accepted);
        Assert.Equal(kind, verdict.Failure!.Kind);
        if (kind == VerifyFailureKind.InvalidBlock) return; // caught by the stateless block checks
        Assert.Equal(0, verdict.Failure.TransactionIndex);
        Assert.Equal(tx.Hash, verdict.Failure.TransactionHash);
        if (kind == VerifyFailureKind.UnincludableTransaction) Assert.Equal(code.ToString(), verdict.Failure.Actual);
    }

    [Fact]
    public void Transfer_moves_value_and_pays_the_proposer()
    {
        var h = new Harness();
        var tx = Transfer(User(1), 0, User(2).Address, 12_345);
        var (proposal, diff) = h.Run(tx);
        Assert.Equal(ReceiptStatus.Success, Assert.Single(proposal.Receipts).Status);
        Assert.Equal(Params.TransferGas, proposal.Receipts[0].GasUsed);
        Assert.Equal(new Account(InitialBalance - 12_345 - 1_000, 1), h.Executor.GetAccount(User(1).Address));
        Assert.Equal(new Account(InitialBalance + 12_345, 0), h.Executor.GetAccount(User(2).Address));
        Assert.Equal(new Account(1_000, 0), h.Executor.GetAccount(ProposerAt(1)));
        Assert.Equal(3, diff.Count);
    }

    [Fact]
    public void Bad_signature_is_rejected()
    {
        var good = Transfer(User(1), 0, User(2).Address, 5);
        var other = Transfer(User(1), 0, User(2).Address, 6);
        AssertRejected(new SignedTransaction(good.Transaction, other.Signature), RejectCode.InvalidSignature);
    }

    [Fact]
    public void Wrong_chain_id_is_rejected() =>
        AssertRejected(Transfer(User(1), 0, User(2).Address, 5, chain: new ChainId("other-chain")), RejectCode.WrongChainId, VerifyFailureKind.InvalidBlock);

    [Theory]
    [InlineData(1UL)]
    [InlineData(7UL)]
    public void Nonce_gap_is_rejected(ulong nonce) => AssertRejected(Transfer(User(1), nonce, User(2).Address, 5), RejectCode.BadNonce);

    [Fact]
    public void Replayed_nonce_is_rejected()
    {
        var h = new Harness();
        var first = Transfer(User(1), 0, User(2).Address, 5);
        var (_, commit) = Step(h.Executor, [first], null);
        var replay = Transfer(User(1), 0, User(2).Address, 6);
        var proposal = h.Executor.BuildBlock(Context(h.Executor, commit), [replay, first]);
        Assert.Empty(proposal.Block.Transactions);
        Assert.All(proposal.Skipped, s => Assert.Equal(RejectCode.BadNonce, s.Reason.Code));
    }

    [Fact]
    public void Sender_who_cannot_pay_the_fee_is_rejected() =>
        AssertRejected(Transfer(Key("pauper"), 0, User(2).Address, 0), RejectCode.InsufficientFunds);

    [Fact]
    public void Fee_below_the_minimum_is_rejected() =>
        AssertRejected(Transfer(User(1), 0, User(2).Address, 5, fee: Params.TransferGas - 1), RejectCode.FeeTooLow);

    [Fact]
    public void A_zero_gas_infer_is_not_free() =>
        AssertRejected(Infer(User(1), 0, GenesisModelId, Input(1), maxGas: 0, fee: 0), RejectCode.FeeTooLow);

    [Fact]
    public void Oversized_transaction_is_rejected() =>
        AssertRejected(Register(User(1), 0, "big", MatMulModel(3, 256, 256)), RejectCode.TooLarge);

    [Fact]
    public void Gas_limit_over_the_block_limit_is_rejected() =>
        AssertRejected(Infer(User(1), 0, GenesisModelId, Input(1), maxGas: Params.BlockGasLimit + 1), RejectCode.GasLimitTooHigh, VerifyFailureKind.BlockGasLimit);

    [Fact]
    public void Transfer_beyond_the_balance_fails_with_fee_charged() =>
        AssertFailedReceipt(Transfer(User(1), 0, User(2).Address, InitialBalance), ReceiptStatus.InsufficientFunds);

    [Fact]
    public void Unknown_model_fails_with_fee_charged() =>
        AssertFailedReceipt(Infer(User(1), 0, Core.Hashing.DomainHash.Sha256("nope"u8), Input(1)), ReceiptStatus.UnknownModel);

    [Fact]
    public void Input_of_the_wrong_shape_fails_with_fee_charged() =>
        AssertFailedReceipt(Infer(User(1), 0, GenesisModelId, Input(1, k: K + 1)), ReceiptStatus.InvalidInput);

    [Fact]
    public void Input_of_the_wrong_type_fails_with_fee_charged() =>
        AssertFailedReceipt(Infer(User(1), 0, GenesisModelId, Tensor.Create(TensorElementType.Int8, [1, K], new byte[K]).Encoded.ToArray()), ReceiptStatus.InvalidInput);

    [Fact]
    public void Input_that_is_not_a_canonical_tensor_fails_with_fee_charged() =>
        AssertFailedReceipt(Infer(User(1), 0, GenesisModelId, [0x93, 0x02, 0x90]), ReceiptStatus.InvalidInput);

    [Fact]
    public void Max_gas_below_the_intrinsic_cost_is_out_of_gas() =>
        AssertFailedReceipt(Infer(User(1), 0, GenesisModelId, Input(1), maxGas: Params.InferGas), ReceiptStatus.OutOfGas);

    [Fact]
    public void Max_gas_below_the_model_cost_is_out_of_gas()
    {
        var input = Input(1);
        ulong intrinsic = Params.InferGas + Params.InputByteGas * (ulong)input.Length;
        AssertFailedReceipt(Infer(User(1), 0, GenesisModelId, input, maxGas: intrinsic + 1), ReceiptStatus.OutOfGas);
    }

    [Fact]
    public void Model_refused_by_admission_fails_with_fee_charged() =>
        AssertFailedReceipt(Register(User(1), 0, "bad", RefusedModel()), ReceiptStatus.ModelRejected);

    [Fact]
    public void Registering_a_registered_model_fails_with_fee_charged() =>
        AssertFailedReceipt(Register(User(1), 0, "again", GenesisModelBytes), ReceiptStatus.ModelRejected);

    [Fact]
    public void Garbage_model_bytes_fail_with_fee_charged() =>
        AssertFailedReceipt(Register(User(1), 0, "junk", [1, 2, 3, 4, 5]), ReceiptStatus.ModelRejected);

    [Fact]
    public void Registered_model_is_stored_content_addressed_with_metadata()
    {
        var h = new Harness();
        var bytes = MatMulModel(42);
        var (proposal, diff) = h.Run(Register(User(3), 0, "mine", bytes));
        Assert.Equal(ReceiptStatus.Success, Assert.Single(proposal.Receipts).Status);
        var id = Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, bytes);
        Assert.Equal(bytes, h.Executor.GetModelCode(id));
        var info = h.Executor.GetModel(id)!;
        Assert.Equal(User(3).Address, info.Owner);
        Assert.Equal("mine", info.Name);
        Assert.Equal(1UL, info.RegisteredAt);
        Assert.Equal(new[] { 1, K }, info.Input.Shape);
        Assert.Equal(TensorElementType.Int32, info.Output.ElementType);
        Assert.Equal((ulong)(K * N), info.Macs);
        Assert.Equal(4, diff.Count); // sender, proposer, metadata, bytes
    }

    [Fact]
    public void Infer_receipt_carries_the_canonical_output()
    {
        var h = new Harness();
        var input = Input(9);
        var (proposal, _) = h.Run(Infer(User(1), 0, GenesisModelId, input));
        var receipt = Assert.Single(proposal.Receipts);
        Assert.Equal(ReceiptStatus.Success, receipt.Status);
        var result = receipt.Inference!;
        var tensor = Canonical.Decode<Tensor>(input);
        var expected = CanonicalExecutor.Load(GenesisModelBytes).Run([new NamedTensor("x", tensor)])[0].Value;
        Assert.Equal(GenesisModelId, result.ModelId);
        Assert.Equal(ExecutionParameters.SemanticsVersion, result.SemanticsVersion);
        Assert.Equal(tensor.Hash, result.InputHash);
        Assert.Equal(expected.Hash, result.OutputHash);
        Assert.Equal(expected.Encoded.ToArray(), result.Output.ToArray());
        var model = h.Executor.GetModel(GenesisModelId)!;
        Assert.Equal(Params.InferGas + Params.InputByteGas * (ulong)input.Length + model.Gas, receipt.GasUsed);
    }

    [Fact]
    public void A_failed_body_inside_a_block_leaves_earlier_and_later_transactions_intact()
    {
        var h = new Harness();
        var txs = new[]
        {
            Transfer(User(1), 0, User(2).Address, 100),
            Transfer(User(1), 1, User(2).Address, InitialBalance), // fails: funds
            Transfer(User(1), 2, User(2).Address, 200),
        };
        var (proposal, _) = Step(h.Executor, txs, null);
        Assert.Equal([ReceiptStatus.Success, ReceiptStatus.InsufficientFunds, ReceiptStatus.Success], proposal.Receipts.Select(r => r.Status));
        Assert.Equal(new Account(InitialBalance - 300 - 3_000, 3), h.Executor.GetAccount(User(1).Address));
        Assert.Equal(InitialBalance + 300, h.Executor.GetAccount(User(2).Address).Balance);
    }
}
