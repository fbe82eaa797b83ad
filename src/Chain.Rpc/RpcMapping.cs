using Chain.Core.Protocol;
using Chain.Execution;

namespace Chain.Rpc;

/// <summary>Protocol objects to their JSON shapes.</summary>
internal static class RpcMapping
{
    public static string B64(ReadOnlyMemory<byte> bytes) => Convert.ToBase64String(bytes.Span);

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static HeaderJson Header(BlockHeader h) => new(
        h.Hash.ToString(), h.Version, h.ChainId.Value, h.Height.Value, h.TimeMs,
        h.LastBlockHash.ToString(), h.LastCommitHash.ToString(), h.TransactionsRoot.ToString(), h.ReceiptsRoot.ToString(), h.StateRoot.ToString(),
        h.ValidatorsHash.ToString(), h.NextValidatorsHash.ToString(), h.EvidenceRoot.ToString(), h.Proposer.ToString());

    public static ParamsJson Params(ExecutionParameters p) =>
        new(p.GasPrice, p.BlockGasLimit, p.MaxTxBytes, p.TransferGas, p.RegisterModelGas, p.ModelByteGas, p.InferGas, p.InputByteGas);

    public static TransactionJson Transaction(SignedTransaction signed)
    {
        var t = signed.Transaction;
        var json = new TransactionJson(signed.Hash.ToString(), t.Body.Kind.ToString(), t.ChainId.Value, t.SenderAddress.ToString(),
            Hex(t.Sender.Bytes), t.Nonce, t.Fee, Hex(signed.Signature.Bytes));
        return t.Body switch
        {
            TransferBody b => json with { Recipient = b.Recipient.ToString(), Amount = b.Amount },
            RegisterModelBody b => json with { ModelName = b.Name, ModelId = b.ModelId.ToString(), ModelBytes = b.ModelBytes.Length },
            BeginModelUploadBody b => json with { ModelName = b.Name, ModelId = b.ModelId.ToString(), ModelBytes = b.TotalBytes },
            UploadModelChunkBody b => json with { ModelId = b.ModelId.ToString(), ModelBytes = b.Bytes.Length },
            SealModelBody b => json with { ModelId = b.ModelId.ToString() },
            InferBody b => json with { ModelId = b.ModelId.ToString(), InputBytes = b.Input.Length, MaxGas = b.MaxGas },
            _ => json,
        };
    }

    public static BlockResponse Block(Block block) => new(
        Header(block.Header), block.Transactions.Select(Transaction).ToArray(), block.LastCommit?.Hash.ToString(),
        B64(block.Encoded), B64(block.Header.Encoded));

    public static CommitResponse Commit(Commit commit, bool canonical) => new(
        commit.Height.Value, commit.Round.Value, commit.BlockHash.ToString(), commit.Hash.ToString(),
        commit.Signatures.Select(s => new CommitSignatureJson(s.Validator.ToString(), s.TimestampMs, Hex(s.Signature.Bytes))).ToArray(),
        B64(commit.Encoded), canonical);

    public static ValidatorsResponse Validators(ulong height, ValidatorSet set) => new(
        height, set.Hash.ToString(), set.TotalPower,
        set.Validators.Select(v => new ValidatorJson(v.Address.ToString(), Hex(v.PublicKey.Bytes), v.Power)).ToArray(),
        B64(set.Encoded));

    public static ReceiptJson Receipt(Receipt r) => new(
        r.TransactionHash.ToString(), r.Status.ToString(), r.GasUsed,
        r.Inference is { } i
            ? new InferenceJson(i.ModelId.ToString(), i.SemanticsVersion, i.InputHash.ToString(), i.OutputHash.ToString(), B64(i.Output))
            : null,
        r.Hash.ToString());

    public static TensorSignatureJson Tensor(TensorSignature s) =>
        new(Chain.Inference.TensorElementTypes.Name(s.ElementType), s.Shape);
}
