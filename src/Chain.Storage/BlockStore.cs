using System.Buffers.Binary;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Storage;

/// <summary>
/// The finalized chain on disk: blocks, headers, commits, receipts and the transaction index.
/// Each block is written with its commit and receipts in ONE synced batch, so after a crash a height
/// is either wholly present or absent. Heights are contiguous from 1. Everything read back is decoded
/// strictly, so damaged bytes surface as <see cref="StoreCorruptedException"/>, never as wrong data.
/// Commit signatures are NOT checked here (that needs the validator set): callers verify first.
/// Key layouts are in docs/storage.md.
/// </summary>
public sealed class BlockStore
{
    /// <summary>Meta key of the highest stored height (8 bytes, big-endian).</summary>
    public static ReadOnlySpan<byte> LatestHeightKey => "block_store/latest_height"u8;

    /// <summary>Meta key of the chain id (ASCII), fixed by the first block saved.</summary>
    public static ReadOnlySpan<byte> ChainIdKey => "block_store/chain_id"u8;

    private readonly IKeyValueStore _store;
    private readonly Lock _writeLock = new();
    private Height? _latest;
    private ChainId? _chainId;

    public BlockStore(IKeyValueStore store)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        if (_store.Get(Column.Meta, LatestHeightKey) is { } latest)
        {
            if (latest.Length != 8)
                throw new StoreCorruptedException(Column.Meta, LatestHeightKey, $"latest height record is {latest.Length} bytes, expected 8");
            _latest = new Height(BinaryPrimitives.ReadUInt64BigEndian(latest));
        }
        if (_store.Get(Column.Meta, ChainIdKey) is { } chain)
        {
            var value = System.Text.Encoding.ASCII.GetString(chain);
            if (!Core.ChainId.IsValid(value, out var reason))
                throw new StoreCorruptedException(Column.Meta, ChainIdKey, $"stored chain id is invalid: {reason}");
            _chainId = new ChainId(value);
        }
        if (_latest is not null && _chainId is null)
            throw new StoreCorruptedException(Column.Meta, ChainIdKey, "blocks are stored but the chain id is missing");
    }

    /// <summary>The highest stored height, or null for an empty store.</summary>
    public Height? LatestHeight
    {
        get { lock (_writeLock) return _latest; }
    }

    /// <summary>The chain these blocks belong to, fixed by the first block saved.</summary>
    public ChainId? ChainId
    {
        get { lock (_writeLock) return _chainId; }
    }

    /// <summary>
    /// Appends <paramref name="block"/> with the commit that finalized it and its receipts, atomically and durably.
    /// Refuses (with <see cref="BlockStoreException"/>, writing nothing) a block that does not extend the stored chain.
    /// </summary>
    public void Save(Block block, Commit commit, IReadOnlyList<Receipt> receipts)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentNullException.ThrowIfNull(receipts);
        lock (_writeLock)
        {
            var height = block.Height;
            ulong expected = (_latest?.Value ?? 0) + 1;
            if (height.Value != expected)
                throw new BlockStoreException($"block at height {height} does not extend the store (next height is {expected})");
            if (_chainId is { } chain && block.Header.ChainId != chain)
                throw new BlockStoreException($"block is for chain '{block.Header.ChainId}', the store holds chain '{chain}'");
            if (!block.ValidateBasic(block.Header.ChainId, out var invalid))
                throw new BlockStoreException($"block {height} is invalid: {invalid}");
            if (height.Value > 1)
            {
                var parent = LoadHeader(new Height(height.Value - 1))
                    ?? throw new StoreCorruptedException(Column.Headers, Keys.Height(height.Value - 1), "header is missing below the latest height");
                if (block.Header.LastBlockHash != parent.Hash)
                    throw new BlockStoreException($"block {height} links to {block.Header.LastBlockHash}, but the stored block {height.Value - 1} is {parent.Hash}");
            }
            if (commit.Height != height || commit.BlockHash != block.Hash)
                throw new BlockStoreException($"commit is for block {commit.BlockHash} at height {commit.Height}, not block {block.Hash} at {height}");
            if (receipts.Count != block.Transactions.Count)
                throw new BlockStoreException($"{receipts.Count} receipts for {block.Transactions.Count} transactions");
            for (int i = 0; i < receipts.Count; i++)
                if (receipts[i].TransactionHash != block.Transactions[i].Hash)
                    throw new BlockStoreException($"receipt {i} is for transaction {receipts[i].TransactionHash}, not {block.Transactions[i].Hash}");
            var receiptsRoot = Block.ComputeReceiptsRoot(receipts);
            if (receiptsRoot != block.Header.ReceiptsRoot)
                throw new BlockStoreException($"receipts root {receiptsRoot} does not match the header's {block.Header.ReceiptsRoot}");

            var key = Keys.Height(height.Value);
            var batch = new StoreBatch()
                .Put(Column.Headers, key, block.Header.Encoded.Span)
                .Put(Column.Blocks, key, block.Encoded.Span)
                .Put(Column.Commits, key, commit.Encoded.Span);
            for (int i = 0; i < receipts.Count; i++)
            {
                var location = Keys.HeightIndex(height.Value, (uint)i);
                batch.Put(Column.Receipts, location, receipts[i].Encoded.Span);
                batch.Put(Column.TxIndex, block.Transactions[i].Hash.Bytes, location);
            }
            batch.Put(Column.Meta, LatestHeightKey, key);
            if (_chainId is null) batch.Put(Column.Meta, ChainIdKey, System.Text.Encoding.ASCII.GetBytes(block.Header.ChainId.Value));
            _store.Write(batch, sync: true);
            _latest = height;
            _chainId ??= block.Header.ChainId;
        }
    }

    public Block? LoadBlock(Height height) => Load<Block>(Column.Blocks, Keys.Height(height.Value));

    public BlockHeader? LoadHeader(Height height) => Load<BlockHeader>(Column.Headers, Keys.Height(height.Value));

    /// <summary>The commit that finalized the block at <paramref name="height"/>.</summary>
    public Commit? LoadCommit(Height height) => Load<Commit>(Column.Commits, Keys.Height(height.Value));

    public Receipt? LoadReceipt(Height height, int index) =>
        index < 0 ? null : Load<Receipt>(Column.Receipts, Keys.HeightIndex(height.Value, (uint)index));

    /// <summary>All receipts of a block, in transaction order.</summary>
    public IReadOnlyList<Receipt> LoadReceipts(Height height)
    {
        var receipts = new List<Receipt>();
        foreach (var (key, value) in _store.IteratePrefix(Column.Receipts, Keys.Height(height.Value)))
        {
            if (key.Length != 12 || Keys.ReadHeightIndex(key).Index != receipts.Count)
                throw new StoreCorruptedException(Column.Receipts, key, $"receipt key out of sequence (expected index {receipts.Count} of height {height})");
            receipts.Add(Decode<Receipt>(Column.Receipts, key, value));
        }
        return receipts;
    }

    /// <summary>Where a transaction was finalized, or null if this store has not seen it.</summary>
    public (Height Height, int Index)? FindTransaction(Hash32 transactionHash)
    {
        var value = _store.Get(Column.TxIndex, transactionHash.Bytes);
        if (value is null) return null;
        if (value.Length != 12)
            throw new StoreCorruptedException(Column.TxIndex, transactionHash.Bytes, $"tx index entry is {value.Length} bytes, expected 12");
        var (height, index) = Keys.ReadHeightIndex(value);
        return (new Height(height), (int)index);
    }

    private T? Load<T>(Column column, byte[] key) where T : class, ICanonicalObject<T>
    {
        var value = _store.Get(column, key);
        return value is null ? null : Decode<T>(column, key, value);
    }

    private static T Decode<T>(Column column, byte[] key, byte[] value) where T : ICanonicalObject<T>
    {
        try
        {
            return Canonical.Decode<T>(value);
        }
        catch (Exception e) when (e is CanonicalEncodingException or ArgumentException)
        {
            // ArgumentException: well-formed bytes that an object constructor still refuses.
            throw new StoreCorruptedException(column, key, $"stored {T.KindName} does not decode: {e.Message}", e);
        }
    }
}

/// <summary>A block, commit or receipt set that does not fit the stored chain; nothing was written.</summary>
public sealed class BlockStoreException(string message) : Exception(message);
