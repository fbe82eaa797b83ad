using Chain.Core.Codec;
using Chain.Core.Hashing;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>The outcome of a transaction included in a block. Values are part of consensus; never renumber.</summary>
public enum ReceiptStatus : ushort
{
    Success = 0,
    InvalidSignature = 1,
    WrongChainId = 2,
    BadNonce = 3,
    InsufficientFunds = 4,
    UnknownModel = 5,
    InvalidInput = 6,
    OutOfGas = 7,
    ModelRejected = 8,
    InferenceFailed = 9,
}

/// <summary>
/// What an Infer transaction computed: the model, the version of the integer semantics that ran it,
/// and the hashes of the canonical input and output tensors, plus the output itself.
/// Encoding: <c>[modelId: bin32, semanticsVersion: uint, inputHash: bin32, outputHash: bin32, output: bin]</c>.
/// </summary>
public sealed class InferenceResult
{
    private readonly byte[] _output;

    public InferenceResult(Hash32 modelId, uint semanticsVersion, Hash32 inputHash, Hash32 outputHash, ReadOnlySpan<byte> output)
    {
        if (output.Length > ProtocolLimits.MaxTensorBytes)
            throw new ArgumentException($"output of {output.Length} bytes exceeds {ProtocolLimits.MaxTensorBytes}", nameof(output));
        ModelId = modelId;
        SemanticsVersion = semanticsVersion;
        InputHash = inputHash;
        OutputHash = outputHash;
        _output = output.ToArray();
    }

    public Hash32 ModelId { get; }
    public uint SemanticsVersion { get; }
    public Hash32 InputHash { get; }
    public Hash32 OutputHash { get; }
    public ReadOnlyMemory<byte> Output => _output;

    internal void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(5);
        writer.Write(ModelId);
        writer.Write(SemanticsVersion);
        writer.Write(InputHash);
        writer.Write(OutputHash);
        writer.Write(_output);
    }

    internal static InferenceResult ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(5, "inference result");
        return new InferenceResult(
            reader.ReadHash32("model id"),
            reader.ReadUInt32("semantics version"),
            reader.ReadHash32("input hash"),
            reader.ReadHash32("output hash"),
            reader.ReadBytes("output tensor", ProtocolLimits.MaxTensorBytes));
    }
}

/// <summary>
/// The receipt of one transaction. Encoding: <c>[txHash: bin32, status: uint, gasUsed: uint, inference: InferenceResult | nil]</c>.
/// </summary>
public sealed class Receipt : CanonicalObject<Receipt>, ICanonicalObject<Receipt>
{
    public Receipt(Hash32 transactionHash, ReceiptStatus status, ulong gasUsed, InferenceResult? inference = null)
    {
        if (!Enum.IsDefined(status)) throw new ArgumentOutOfRangeException(nameof(status), $"unknown receipt status {status}");
        TransactionHash = transactionHash;
        Status = status;
        GasUsed = gasUsed;
        Inference = inference;
    }

    public Hash32 TransactionHash { get; }
    public ReceiptStatus Status { get; }
    public ulong GasUsed { get; }
    public InferenceResult? Inference { get; }

    public Hash32 Hash => DomainHash.Compute(HashDomain.Receipt, Encoded.Span);

    public static string KindName => "receipt";
    public static int MaxEncodedSize => ProtocolLimits.MaxReceiptBytes;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(TransactionHash);
        writer.Write((ushort)Status);
        writer.Write(GasUsed);
        if (Inference is null) writer.WriteNil();
        else Inference.WriteTo(ref writer);
    }

    public static Receipt ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(4, "receipt");
        var txHash = reader.ReadHash32("transaction hash");
        long at = reader.Offset;
        ushort status = reader.ReadUInt16("status");
        if (!Enum.IsDefined((ReceiptStatus)status))
            throw reader.Error(DecodeError.InvalidValue, $"unknown receipt status {status}", at);
        ulong gas = reader.ReadUInt64("gas used");
        var inference = reader.TryReadNil() ? null : InferenceResult.ReadFrom(ref reader);
        return new Receipt(txHash, (ReceiptStatus)status, gas, inference);
    }
}
