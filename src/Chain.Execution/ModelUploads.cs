using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Core.State;
using MessagePack;

namespace Chain.Execution;

/// <summary>
/// An unsealed chunked upload, under <see cref="StateKeys.ModelUpload"/> (owner and model id are its key).
/// Encoding: <c>[name: str, totalBytes: uint, expiresAt: uint]</c>; the chunk count follows from the size.
/// </summary>
public sealed class ModelUpload : CanonicalObject<ModelUpload>, ICanonicalObject<ModelUpload>
{
    public ModelUpload(string name, int totalBytes, ulong expiresAt)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        if (totalBytes is <= 0 or > ProtocolLimits.MaxModelBytes)
            throw new ArgumentOutOfRangeException(nameof(totalBytes), $"total bytes {totalBytes}: expected 1 to {ProtocolLimits.MaxModelBytes}");
        TotalBytes = totalBytes;
        ExpiresAt = expiresAt;
    }

    public string Name { get; }
    public int TotalBytes { get; }
    public int ChunkCount => BeginModelUploadBody.ChunksFor(TotalBytes);

    /// <summary>The first height at which the upload no longer takes chunks or a seal; that height's end-block step deletes it.</summary>
    public ulong ExpiresAt { get; }

    public static string KindName => "model upload";
    public static int MaxEncodedSize => 128;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Name);
        writer.Write((ulong)TotalBytes);
        writer.Write(ExpiresAt);
    }

    public static ModelUpload ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "model upload");
        var name = reader.ReadString("name", ProtocolLimits.MaxModelNameBytes);
        long at = reader.Offset;
        ulong total = reader.ReadUInt64("total bytes");
        if (total is 0 or > ProtocolLimits.MaxModelBytes)
            throw reader.Error(DecodeError.InvalidValue, $"total bytes {total}: expected 1 to {ProtocolLimits.MaxModelBytes}", at);
        return new ModelUpload(name, (int)total, reader.ReadUInt64("expires at"));
    }
}

/// <summary>One unsealed upload in the expiry queue.</summary>
public readonly record struct PendingUpload(ulong ExpiresAt, Address Owner, Hash32 ModelId);

/// <summary>
/// The unsealed uploads in expiry order (appended with expiresAt = height + <see cref="ProtocolLimits.ModelUploadExpiryHeights"/>),
/// under <see cref="StateKeys.ModelUploads"/>; bounded by <see cref="ProtocolLimits.MaxPendingModelUploads"/>.
/// Encoding: <c>[[expiresAt: uint, owner: Address, modelId: bin32], ...]</c>, expiresAt non-decreasing.
/// </summary>
public sealed class ModelUploadQueue : CanonicalObject<ModelUploadQueue>, ICanonicalObject<ModelUploadQueue>
{
    private readonly PendingUpload[] _entries;

    public ModelUploadQueue(IEnumerable<PendingUpload> entries)
    {
        _entries = entries.ToArray();
        if (_entries.Length > ProtocolLimits.MaxPendingModelUploads)
            throw new ArgumentException($"{_entries.Length} uploads, the limit is {ProtocolLimits.MaxPendingModelUploads}", nameof(entries));
        for (int i = 1; i < _entries.Length; i++)
            if (_entries[i].ExpiresAt < _entries[i - 1].ExpiresAt) throw new ArgumentException("uploads are not in expiry order", nameof(entries));
    }

    public static ModelUploadQueue Empty { get; } = new([]);
    public IReadOnlyList<PendingUpload> Entries => _entries;
    public static string KindName => "model upload queue";
    public static int MaxEncodedSize => 8 + ProtocolLimits.MaxPendingModelUploads * (Address.Size + Hash32.Size + 16);

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(_entries.Length);
        foreach (var e in _entries)
        {
            writer.WriteArrayHeader(3);
            writer.Write(e.ExpiresAt);
            writer.Write(e.Owner);
            writer.Write(e.ModelId);
        }
    }

    public static ModelUploadQueue ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("model upload queue", ProtocolLimits.MaxPendingModelUploads);
        var entries = new PendingUpload[count];
        for (int i = 0; i < count; i++)
        {
            reader.ReadArrayHeader(3, "pending upload");
            entries[i] = new PendingUpload(reader.ReadUInt64("expires at"), reader.ReadAddress("owner"), reader.ReadHash32("model id"));
            if (i > 0 && entries[i].ExpiresAt < entries[i - 1].ExpiresAt)
                throw reader.Error(DecodeError.InvalidValue, "model upload queue is not in expiry order", at);
        }
        return new ModelUploadQueue(entries);
    }
}

/// <summary>
/// Chunked registration (docs/execution.md, "Chunked registration"): the rules of BeginModelUpload, UploadModelChunk and
/// SealModel over the state, the end-block expiry, and reading a model's bytes whichever way it was registered. Every refusal
/// is a one-line reason; the caller turns it into a ModelRejected receipt (the body's changes are dropped).
/// </summary>
internal sealed class ModelUploads(Func<Hash32, byte[]?> get, Action<Hash32, byte[]?> set)
{
    /// <summary>Records the manifest of <paramref name="owner"/>'s upload in block <paramref name="height"/>; the refusal, or null.</summary>
    public string? Begin(Address owner, BeginModelUploadBody body, ulong height)
    {
        var id = body.ModelId;
        if (get(StateKeys.Model(id)) is not null) return $"modelId: model {id} is already registered";
        if (get(StateKeys.ModelUpload(owner, id)) is not null) return $"modelId: {owner} already has an upload of model {id}";
        var queue = Queue();
        if (queue.Entries.Count >= ProtocolLimits.MaxPendingModelUploads)
            return $"uploads: the chain already holds the maximum of {ProtocolLimits.MaxPendingModelUploads} unsealed uploads";
        if (queue.Entries.Count(e => e.Owner == owner) >= ProtocolLimits.MaxPendingModelUploadsPerSender)
            return $"uploads: {owner} already has {ProtocolLimits.MaxPendingModelUploadsPerSender} unsealed uploads, the most one sender may";
        ulong expiresAt = Gas.Add(height, ProtocolLimits.ModelUploadExpiryHeights);
        set(StateKeys.ModelUpload(owner, id), new ModelUpload(body.Name, body.TotalBytes, expiresAt).Encoded.ToArray());
        set(StateKeys.ModelUploads, new ModelUploadQueue([.. queue.Entries, new PendingUpload(expiresAt, owner, id)]).Encoded.ToArray());
        return null;
    }

    /// <summary>Stores one chunk of the sender's live upload; the refusal, or null.</summary>
    public string? Chunk(Address owner, UploadModelChunkBody body, ulong height)
    {
        var id = body.ModelId;
        if (Live(owner, id, height, out var refusal) is not { } upload) return refusal;
        if (body.Index >= upload.ChunkCount)
            return $"index: chunk {body.Index} is beyond the upload's {upload.ChunkCount} chunks";
        int expected = BeginModelUploadBody.ChunkLength(upload.TotalBytes, body.Index);
        if (body.Bytes.Length != expected)
            return $"bytes: chunk {body.Index} must be {expected} bytes, got {body.Bytes.Length}";
        var key = StateKeys.ModelChunk(owner, id, (uint)body.Index);
        if (get(key) is not null) return $"index: chunk {body.Index} of model {id} was already uploaded";
        set(key, body.Bytes.ToArray());
        return null;
    }

    /// <summary>
    /// Seals the sender's live upload: the seal's chunk count is the upload's, every chunk present, the assembled bytes hash to the model id, the model is not registered
    /// yet and admission accepts it. On success the model is registered (its chunks stay, its layout is recorded) and the upload
    /// leaves the queue. A refusal sets <paramref name="free"/> when the assembled bytes were judged (a wrong hash, a model
    /// registered meanwhile, an admission refusal): the caller then frees the upload (<see cref="Free"/>). A seal with missing
    /// chunks frees nothing: the owner may still complete it.
    /// </summary>
    public string? Seal(Address owner, SealModelBody body, ulong height, out bool free)
    {
        free = false;
        var id = body.ModelId;
        if (Live(owner, id, height, out var refusal) is not { } upload) return refusal;
        if (body.ChunkCount != upload.ChunkCount)
            return $"chunkCount: the upload of model {id} has {upload.ChunkCount} chunks, the seal says {body.ChunkCount}";
        var bytes = new byte[upload.TotalBytes];
        for (int i = 0; i < upload.ChunkCount; i++)
        {
            if (get(StateKeys.ModelChunk(owner, id, (uint)i)) is not { } chunk)
                return $"chunks: chunk {i} of {upload.ChunkCount} of model {id} has not been uploaded";
            chunk.CopyTo(bytes, i * ProtocolLimits.ModelChunkBytes);
        }
        free = true;
        var actual = DomainHash.Compute(HashDomain.Model, bytes);
        if (actual != id) return $"modelId: the assembled {bytes.Length} bytes hash to {actual}, not {id}";
        if (get(StateKeys.Model(id)) is not null) return $"modelId: model {id} is already registered";
        var check = ModelRegistry.Check(bytes, owner, upload.Name, height);
        if (check.Info is null) return $"model {id}: {TransactionRules.OneLine(check.Refusal ?? "")}";
        free = false;
        set(StateKeys.Model(id), check.Info.Encoded.ToArray());
        set(StateKeys.ModelLayout(id), new ModelLayout(owner, upload.TotalBytes).Encoded.ToArray());
        set(StateKeys.ModelUpload(owner, id), null);
        Dequeue(owner, id);
        return null;
    }

    /// <summary>Deletes the upload of <paramref name="modelId"/> by <paramref name="owner"/>: its chunks, its record, its queue entry.</summary>
    public void Free(Address owner, Hash32 modelId)
    {
        var key = StateKeys.ModelUpload(owner, modelId);
        if (get(key) is not { } encoded) return;
        var upload = Canonical.Decode<ModelUpload>(encoded);
        for (int i = 0; i < upload.ChunkCount; i++)
        {
            var chunk = StateKeys.ModelChunk(owner, modelId, (uint)i);
            if (get(chunk) is not null) set(chunk, null);
        }
        set(key, null);
        Dequeue(owner, modelId);
    }

    /// <summary>The end-block step of block <paramref name="height"/>: frees every upload that expires at or before it.</summary>
    public void ExpireDue(ulong height)
    {
        foreach (var due in Queue().Entries.TakeWhile(e => e.ExpiresAt <= height).ToList()) Free(due.Owner, due.ModelId);
    }

    /// <summary>The bytes of a registered model: one state value (RegisterModel, genesis) or its sealed chunks; null if unknown.</summary>
    public static byte[]? LoadCode(Func<Hash32, byte[]?> get, Hash32 modelId)
    {
        if (get(StateKeys.ModelCode(modelId)) is { } whole) return whole;
        if (get(StateKeys.ModelLayout(modelId)) is not { } encoded) return null;
        var layout = Canonical.Decode<ModelLayout>(encoded);
        var bytes = new byte[layout.TotalBytes];
        for (int i = 0; i < layout.ChunkCount; i++)
        {
            var chunk = get(layout.ChunkKey(modelId, i)) ?? throw new InvalidOperationException($"model {modelId} is sealed but its chunk {i} is not in state");
            chunk.CopyTo(bytes, i * ProtocolLimits.ModelChunkBytes);
        }
        return bytes;
    }

    // The sender's upload if it can still take chunks or a seal at `height`.
    private ModelUpload? Live(Address owner, Hash32 id, ulong height, out string? refusal)
    {
        refusal = null;
        if (get(StateKeys.ModelUpload(owner, id)) is not { } encoded)
        {
            refusal = $"modelId: {owner} has no upload of model {id} (no manifest, sealed, expired or freed)";
            return null;
        }
        var upload = Canonical.Decode<ModelUpload>(encoded);
        if (height >= upload.ExpiresAt)
        {
            refusal = $"modelId: the upload of model {id} expired at height {upload.ExpiresAt}";
            return null;
        }
        return upload;
    }

    private ModelUploadQueue Queue() => get(StateKeys.ModelUploads) is { } b ? Canonical.Decode<ModelUploadQueue>(b) : ModelUploadQueue.Empty;

    private void Dequeue(Address owner, Hash32 id)
    {
        var rest = Queue().Entries.Where(e => e.Owner != owner || e.ModelId != id).ToList();
        set(StateKeys.ModelUploads, rest.Count == 0 ? null : new ModelUploadQueue(rest).Encoded.ToArray());
    }
}

/// <summary>Blocks that carried model bytes (a chunk, a seal, a whole small model): after one commits, its copies of those bytes are garbage.</summary>
public static class ModelUploadBlocks
{
    public static bool Carries(Block block) =>
        block.Transactions.Any(t => t.Transaction.Body is UploadModelChunkBody or SealModelBody or RegisterModelBody);
}
