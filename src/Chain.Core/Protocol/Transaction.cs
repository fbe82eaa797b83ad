using System.Buffers;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>The kind tag of a transaction body; its value is the first item of the body array.</summary>
public enum TransactionKind : byte
{
    Transfer = 1,
    RegisterModel = 2,
    Infer = 3,
    /// <summary>Staking (docs/staking.md): the sender becomes a validator's operator.</summary>
    CreateValidator = 4,
    Bond = 5,
    Unbond = 6,
    Unjail = 7,
    /// <summary>Chunked registration (docs/execution.md): a manifest, its chunks, and the seal that registers the model.</summary>
    BeginModelUpload = 8,
    UploadModelChunk = 9,
    SealModel = 10,
}

/// <summary>
/// The unsigned part of a transaction: who sends it (the Ed25519 public key, from which the address
/// derives), on which chain, with which nonce and fee, and what it does.
/// Encoding: <c>[chainId: str, sender: bin32, nonce: uint, fee: uint, body: array]</c>.
/// </summary>
public sealed class Transaction : CanonicalObject<Transaction>, ICanonicalObject<Transaction>
{
    public Transaction(ChainId chainId, PublicKey sender, ulong nonce, ulong fee, TransactionBody body)
    {
        if (chainId.Value is null) throw new ArgumentException("chain id is not set", nameof(chainId));
        ChainId = chainId;
        Sender = sender;
        Nonce = nonce;
        Fee = fee;
        Body = body ?? throw new ArgumentNullException(nameof(body));
    }

    public ChainId ChainId { get; }
    public PublicKey Sender { get; }
    public Address SenderAddress => Sender.Address;
    public ulong Nonce { get; }
    public ulong Fee { get; }
    public TransactionBody Body { get; }

    public static string KindName => "transaction";
    public static int MaxEncodedSize => ProtocolLimits.MaxTransactionBytes;

    /// <summary>The bytes the sender signs: tx tag, chain id, and this encoding.</summary>
    public byte[] SignBytes() => Crypto.SignBytes.Build(SignDomain.Transaction, ChainId, Encoded.Span);

    public SignedTransaction Sign(PrivateKey key)
    {
        if (key.PublicKey != Sender)
            throw new ArgumentException($"key {key.Address} is not the sender {SenderAddress}", nameof(key));
        return new SignedTransaction(this, key.Sign(SignBytes()));
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(5);
        writer.Write(ChainId.Value);
        writer.Write(Sender);
        writer.Write(Nonce);
        writer.Write(Fee);
        Body.WriteTo(ref writer);
    }

    public static Transaction ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(5, "transaction");
        var chainId = reader.ReadChainId("chain id");
        var sender = reader.ReadPublicKey("sender");
        ulong nonce = reader.ReadUInt64("nonce");
        ulong fee = reader.ReadUInt64("fee");
        var body = TransactionBody.ReadFrom(ref reader);
        return new Transaction(chainId, sender, nonce, fee, body);
    }
}

/// <summary>What a transaction does. Encoding: <c>[kind: uint, ...fields]</c> with a fixed arity per kind.</summary>
public abstract class TransactionBody
{
    private protected TransactionBody() { }

    public abstract TransactionKind Kind { get; }

    internal abstract int FieldCount { get; }

    internal void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(FieldCount + 1);
        writer.Write((byte)Kind);
        WriteFields(ref writer);
    }

    private protected abstract void WriteFields(ref MessagePackWriter writer);

    internal static TransactionBody ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("transaction body", 8);
        if (count == 0) throw reader.Error(DecodeError.WrongArity, "transaction body is empty", at);
        long kindAt = reader.Offset;
        byte kind = reader.ReadByte("body kind");
        int expected = kind switch
        {
            (byte)TransactionKind.Transfer => TransferBody.Fields,
            (byte)TransactionKind.RegisterModel => RegisterModelBody.Fields,
            (byte)TransactionKind.Infer => InferBody.Fields,
            (byte)TransactionKind.CreateValidator => CreateValidatorBody.Fields,
            (byte)TransactionKind.Bond => BondBody.Fields,
            (byte)TransactionKind.Unbond => UnbondBody.Fields,
            (byte)TransactionKind.Unjail => UnjailBody.Fields,
            (byte)TransactionKind.BeginModelUpload => BeginModelUploadBody.Fields,
            (byte)TransactionKind.UploadModelChunk => UploadModelChunkBody.Fields,
            (byte)TransactionKind.SealModel => SealModelBody.Fields,
            _ => throw reader.Error(DecodeError.InvalidValue, $"unknown transaction kind {kind}", kindAt),
        };
        if (count != expected + 1)
            throw reader.Error(DecodeError.WrongArity,
                $"{(TransactionKind)kind} body has {count} item(s), expected {expected + 1}", at);
        return (TransactionKind)kind switch
        {
            TransactionKind.Transfer => new TransferBody(reader.ReadAddress("recipient"), reader.ReadUInt64("amount")),
            TransactionKind.RegisterModel => new RegisterModelBody(
                reader.ReadString("model name", ProtocolLimits.MaxModelNameBytes),
                reader.ReadBytesSpan("model bytes", ProtocolLimits.MaxRegisterModelBytes)),
            TransactionKind.Infer => new InferBody(
                reader.ReadHash32("model id"),
                reader.ReadBytesSpan("input tensor", ProtocolLimits.MaxTensorBytes),
                reader.ReadUInt64("max gas")),
            TransactionKind.CreateValidator => new CreateValidatorBody(reader.ReadPublicKey("consensus key"), reader.ReadUInt64("self bond")),
            TransactionKind.Bond => new BondBody(reader.ReadAddress("validator"), reader.ReadUInt64("amount")),
            TransactionKind.Unbond => new UnbondBody(reader.ReadAddress("validator"), reader.ReadUInt64("amount")),
            TransactionKind.Unjail => new UnjailBody(),
            TransactionKind.BeginModelUpload => ReadManifest(ref reader),
            TransactionKind.UploadModelChunk => ReadChunk(ref reader),
            _ => ReadSeal(ref reader),
        };
    }

    private static SealModelBody ReadSeal(ref CanonicalReader reader)
    {
        var id = reader.ReadHash32("model id");
        long at = reader.Offset;
        ulong chunks = reader.ReadUInt64("chunk count");
        if (chunks is 0 or > ProtocolLimits.MaxModelChunks)
            throw reader.Error(DecodeError.InvalidValue, $"chunk count {chunks}: expected 1 to {ProtocolLimits.MaxModelChunks}", at);
        return new SealModelBody(id, (int)chunks);
    }

    // Field values outside the constructors' ranges are decode errors at the field, like an oversized byte string.
    private static BeginModelUploadBody ReadManifest(ref CanonicalReader reader)
    {
        var name = reader.ReadString("model name", ProtocolLimits.MaxModelNameBytes);
        var id = reader.ReadHash32("model id");
        long at = reader.Offset;
        ulong total = reader.ReadUInt64("total bytes");
        if (total is 0 or > ProtocolLimits.MaxModelBytes)
            throw reader.Error(DecodeError.InvalidValue, $"total bytes {total}: expected 1 to {ProtocolLimits.MaxModelBytes}", at);
        at = reader.Offset;
        ulong chunks = reader.ReadUInt64("chunk count");
        if (chunks != (ulong)BeginModelUploadBody.ChunksFor((int)total))
            throw reader.Error(DecodeError.InvalidValue, $"chunk count {chunks}: {total} bytes make {BeginModelUploadBody.ChunksFor((int)total)} chunks of {ProtocolLimits.ModelChunkBytes}", at);
        return new BeginModelUploadBody(name, id, (int)total);
    }

    private static UploadModelChunkBody ReadChunk(ref CanonicalReader reader)
    {
        var id = reader.ReadHash32("model id");
        long at = reader.Offset;
        ulong index = reader.ReadUInt64("chunk index");
        if (index >= ProtocolLimits.MaxModelChunks)
            throw reader.Error(DecodeError.InvalidValue, $"chunk index {index}: expected below {ProtocolLimits.MaxModelChunks}", at);
        at = reader.Offset;
        var bytes = reader.ReadBytesSpan("chunk bytes", ProtocolLimits.ModelChunkBytes); // the constructor's copy is the only one
        if (bytes.Length == 0) throw reader.Error(DecodeError.InvalidValue, "chunk bytes: a chunk holds at least 1 byte", at);
        return new UploadModelChunkBody(id, (int)index, bytes);
    }
}

/// <summary>Moves <see cref="Amount"/> from the sender to <see cref="Recipient"/>.</summary>
public sealed class TransferBody(Address recipient, ulong amount) : TransactionBody
{
    internal const int Fields = 2;
    public Address Recipient { get; } = recipient;
    public ulong Amount { get; } = amount;
    public override TransactionKind Kind => TransactionKind.Transfer;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(Recipient);
        writer.Write(Amount);
    }
}

/// <summary>Registers an ONNX model; its id is the model-domain hash of <see cref="ModelBytes"/>.</summary>
public sealed class RegisterModelBody : TransactionBody
{
    internal const int Fields = 2;
    private readonly byte[] _modelBytes;

    public RegisterModelBody(string name, ReadOnlySpan<byte> modelBytes)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > ProtocolLimits.MaxModelNameBytes)
            throw new ArgumentException($"model name longer than {ProtocolLimits.MaxModelNameBytes} bytes", nameof(name));
        if (modelBytes.Length > ProtocolLimits.MaxRegisterModelBytes)
            throw new ArgumentException($"model of {modelBytes.Length} bytes exceeds {ProtocolLimits.MaxRegisterModelBytes} (larger models are registered in chunks)", nameof(modelBytes));
        Name = name;
        _modelBytes = modelBytes.ToArray();
    }

    public string Name { get; }
    public ReadOnlyMemory<byte> ModelBytes => _modelBytes;
    public Hash32 ModelId => Hashing.DomainHash.Compute(Hashing.HashDomain.Model, _modelBytes);
    public override TransactionKind Kind => TransactionKind.RegisterModel;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(Name);
        writer.Write(_modelBytes);
    }
}

/// <summary>Runs model <see cref="ModelId"/> on <see cref="Input"/> (a canonical tensor encoding), paying at most <see cref="MaxGas"/>.</summary>
public sealed class InferBody : TransactionBody
{
    internal const int Fields = 3;
    private readonly byte[] _input;

    public InferBody(Hash32 modelId, ReadOnlySpan<byte> input, ulong maxGas)
    {
        if (input.Length > ProtocolLimits.MaxTensorBytes)
            throw new ArgumentException($"input of {input.Length} bytes exceeds {ProtocolLimits.MaxTensorBytes}", nameof(input));
        ModelId = modelId;
        _input = input.ToArray();
        MaxGas = maxGas;
    }

    public Hash32 ModelId { get; }
    public ReadOnlyMemory<byte> Input => _input;
    public ulong MaxGas { get; }
    public override TransactionKind Kind => TransactionKind.Infer;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ModelId);
        writer.Write(_input);
        writer.Write(MaxGas);
    }
}

/// <summary>
/// Makes the sender the operator of a new validator whose votes are signed with <see cref="ConsensusKey"/>, bonding
/// <see cref="SelfBond"/> of the sender's balance to it (docs/staking.md). Encoding: <c>[4, consensusKey: bin32, selfBond: uint]</c>.
/// </summary>
public sealed class CreateValidatorBody(PublicKey consensusKey, ulong selfBond) : TransactionBody
{
    internal const int Fields = 2;
    public PublicKey ConsensusKey { get; } = consensusKey;
    public ulong SelfBond { get; } = selfBond;
    public override TransactionKind Kind => TransactionKind.CreateValidator;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ConsensusKey);
        writer.Write(SelfBond);
    }
}

/// <summary>Delegates <see cref="Amount"/> of the sender's balance to the validator whose operator is <see cref="Validator"/>. Encoding: <c>[5, validator: bin20, amount: uint]</c>.</summary>
public sealed class BondBody(Address validator, ulong amount) : TransactionBody
{
    internal const int Fields = 2;
    public Address Validator { get; } = validator;
    public ulong Amount { get; } = amount;
    public override TransactionKind Kind => TransactionKind.Bond;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(Validator);
        writer.Write(Amount);
    }
}

/// <summary>
/// Starts unbonding <see cref="Amount"/> tokens of the sender's delegation to <see cref="Validator"/>; they are paid out
/// after the unbonding period. Encoding: <c>[6, validator: bin20, amount: uint]</c>.
/// </summary>
public sealed class UnbondBody(Address validator, ulong amount) : TransactionBody
{
    internal const int Fields = 2;
    public Address Validator { get; } = validator;
    public ulong Amount { get; } = amount;
    public override TransactionKind Kind => TransactionKind.Unbond;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(Validator);
        writer.Write(Amount);
    }
}

/// <summary>Lets the sender's jailed validator back into the set once its jail period is over. Encoding: <c>[7]</c>.</summary>
public sealed class UnjailBody : TransactionBody
{
    internal const int Fields = 0;
    public override TransactionKind Kind => TransactionKind.Unjail;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
    }
}

/// <summary>
/// Starts a chunked registration of the model whose id (model-domain hash of the whole) is <see cref="ModelId"/>: its
/// <see cref="TotalBytes"/> arrive in <see cref="ChunkCount"/> chunks of <see cref="ProtocolLimits.ModelChunkBytes"/> (the last
/// holds the rest). Encoding: <c>[8, name: str, modelId: bin32, totalBytes: uint, chunkCount: uint]</c>; the chunk count must be
/// the one the size implies.
/// </summary>
public sealed class BeginModelUploadBody : TransactionBody
{
    internal const int Fields = 4;

    public BeginModelUploadBody(string name, Hash32 modelId, int totalBytes)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > ProtocolLimits.MaxModelNameBytes)
            throw new ArgumentException($"model name longer than {ProtocolLimits.MaxModelNameBytes} bytes", nameof(name));
        if (totalBytes is <= 0 or > ProtocolLimits.MaxModelBytes)
            throw new ArgumentOutOfRangeException(nameof(totalBytes), $"total bytes {totalBytes}: expected 1 to {ProtocolLimits.MaxModelBytes}");
        Name = name;
        ModelId = modelId;
        TotalBytes = totalBytes;
    }

    public string Name { get; }
    public Hash32 ModelId { get; }
    public int TotalBytes { get; }
    public int ChunkCount => ChunksFor(TotalBytes);
    public override TransactionKind Kind => TransactionKind.BeginModelUpload;
    internal override int FieldCount => Fields;

    /// <summary>Chunks of <see cref="ProtocolLimits.ModelChunkBytes"/> that <paramref name="totalBytes"/> make (the last may be short).</summary>
    public static int ChunksFor(int totalBytes) => (int)((totalBytes + (long)ProtocolLimits.ModelChunkBytes - 1) / ProtocolLimits.ModelChunkBytes);

    /// <summary>The length chunk <paramref name="index"/> of a <paramref name="totalBytes"/>-byte model must have.</summary>
    public static int ChunkLength(int totalBytes, int index) =>
        Math.Min(ProtocolLimits.ModelChunkBytes, totalBytes - index * ProtocolLimits.ModelChunkBytes);

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(Name);
        writer.Write(ModelId);
        writer.Write((ulong)TotalBytes);
        writer.Write((ulong)ChunkCount);
    }
}

/// <summary>
/// Chunk <see cref="Index"/> of the sender's upload of <see cref="ModelId"/>. Encoding: <c>[9, modelId: bin32, index: uint, bytes: bin]</c>
/// (index below <see cref="ProtocolLimits.MaxModelChunks"/>, 1 to <see cref="ProtocolLimits.ModelChunkBytes"/> bytes).
/// </summary>
public sealed class UploadModelChunkBody : TransactionBody
{
    internal const int Fields = 3;
    private readonly byte[] _bytes;

    public UploadModelChunkBody(Hash32 modelId, int index, ReadOnlySpan<byte> bytes)
    {
        if (index is < 0 or >= ProtocolLimits.MaxModelChunks)
            throw new ArgumentOutOfRangeException(nameof(index), $"chunk index {index}: expected 0 to {ProtocolLimits.MaxModelChunks - 1}");
        if (bytes.Length is 0 or > ProtocolLimits.ModelChunkBytes)
            throw new ArgumentException($"chunk of {bytes.Length} bytes: expected 1 to {ProtocolLimits.ModelChunkBytes}", nameof(bytes));
        ModelId = modelId;
        Index = index;
        _bytes = bytes.ToArray();
    }

    public Hash32 ModelId { get; }
    public int Index { get; }
    public ReadOnlyMemory<byte> Bytes => _bytes;
    public override TransactionKind Kind => TransactionKind.UploadModelChunk;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ModelId);
        writer.Write((ulong)Index);
        writer.Write(_bytes);
    }
}

/// <summary>
/// Seals the sender's upload of <see cref="ModelId"/>: assembles the chunks, checks their hash and runs admission, and registers
/// the model under that id. <see cref="ChunkCount"/> repeats the manifest's (it must match) so that the seal's gas, which pays
/// for admission per chunk, is known from the transaction alone. Encoding: <c>[10, modelId: bin32, chunkCount: uint]</c>.
/// </summary>
public sealed class SealModelBody : TransactionBody
{
    internal const int Fields = 2;

    public SealModelBody(Hash32 modelId, int chunkCount)
    {
        if (chunkCount is <= 0 or > ProtocolLimits.MaxModelChunks)
            throw new ArgumentOutOfRangeException(nameof(chunkCount), $"chunk count {chunkCount}: expected 1 to {ProtocolLimits.MaxModelChunks}");
        ModelId = modelId;
        ChunkCount = chunkCount;
    }

    public Hash32 ModelId { get; }
    public int ChunkCount { get; }
    public override TransactionKind Kind => TransactionKind.SealModel;
    internal override int FieldCount => Fields;

    private protected override void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ModelId);
        writer.Write((ulong)ChunkCount);
    }
}

/// <summary>
/// A transaction with its sender's signature. Encoding: <c>[transaction, signature: bin64]</c>.
/// Its hash (the tx id) covers the signature too; Ed25519 signatures as verified here are not malleable.
/// </summary>
public sealed class SignedTransaction : CanonicalObject<SignedTransaction>, ICanonicalObject<SignedTransaction>
{
    private Hash32? _hash;

    public SignedTransaction(Transaction transaction, Signature signature)
    {
        Transaction = transaction ?? throw new ArgumentNullException(nameof(transaction));
        Signature = signature;
    }

    public Transaction Transaction { get; }
    public Signature Signature { get; }

    public Hash32 Hash => _hash ??= Hashing.DomainHash.Compute(Hashing.HashDomain.Transaction, Encoded.Span);

    public static string KindName => "signed transaction";
    public static int MaxEncodedSize => ProtocolLimits.MaxTransactionBytes;

    /// <summary>
    /// Checks the chain id and the signature. Returns false with a reason a user can act on;
    /// the chain id is checked first so that a transaction for another chain says so.
    /// </summary>
    public bool Verify(ChainId expectedChainId, out string reason)
    {
        if (Transaction.ChainId != expectedChainId)
        {
            reason = $"wrong chain id: transaction is for '{Transaction.ChainId}', this chain is '{expectedChainId}'";
            return false;
        }
        if (!VerifySignature())
        {
            reason = $"bad signature from {Transaction.SenderAddress}";
            return false;
        }
        reason = "";
        return true;
    }

    // The sign bytes of a chunk transaction are over 1 MiB: built in a pooled buffer, not a new one per verification.
    private bool VerifySignature()
    {
        var payload = Transaction.Encoded.Span;
        int length = Crypto.SignBytes.Length(SignDomain.Transaction, Transaction.ChainId, payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var message = buffer.AsSpan(0, length);
            Crypto.SignBytes.Write(SignDomain.Transaction, Transaction.ChainId, payload, message);
            return Ed25519.Verify(Transaction.Sender, message, Signature);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        Transaction.WriteTo(ref writer);
        writer.Write(Signature);
    }

    public static SignedTransaction ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "signed transaction");
        var tx = Transaction.ReadFrom(ref reader);
        var signature = reader.ReadSignature("signature");
        return new SignedTransaction(tx, signature);
    }
}
