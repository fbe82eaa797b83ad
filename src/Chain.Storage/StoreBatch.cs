namespace Chain.Storage;

/// <summary>One queued change: a put (<see cref="Value"/> set) or a delete (<see cref="Value"/> null).</summary>
public readonly record struct StoreOperation(Column Column, byte[] Key, byte[]? Value)
{
    public bool IsDelete => Value is null;
}

/// <summary>
/// Changes applied together by <see cref="IKeyValueStore.Write"/>: all of them or none. Keys and values
/// are copied in, so callers may reuse their buffers. Every batch has explicit limits on its operation
/// count and byte size (keys plus values); an operation that would exceed them is refused with
/// <see cref="BatchLimitException"/> and the batch is left as it was, so memory use is bounded by design.
/// </summary>
public sealed class StoreBatch
{
    /// <summary>Default operation limit: far above one block's writes (a few per transaction).</summary>
    public const int DefaultMaxOperations = 100_000;

    /// <summary>Default byte limit: room for the largest block, its receipts and index entries.</summary>
    public const long DefaultMaxBytes = 256L << 20;

    private readonly List<StoreOperation> _operations = [];

    public StoreBatch(int maxOperations = DefaultMaxOperations, long maxBytes = DefaultMaxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxOperations);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        MaxOperations = maxOperations;
        MaxBytes = maxBytes;
    }

    public int MaxOperations { get; }
    public long MaxBytes { get; }

    /// <summary>Number of queued operations.</summary>
    public int Count => _operations.Count;

    /// <summary>Total bytes of keys and values queued.</summary>
    public long ByteCount { get; private set; }

    public IReadOnlyList<StoreOperation> Operations => _operations;

    public StoreBatch Put(Column column, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        Add(column, key, value.Length);
        _operations.Add(new StoreOperation(column, key.ToArray(), value.ToArray()));
        return this;
    }

    public StoreBatch Delete(Column column, ReadOnlySpan<byte> key)
    {
        Add(column, key, 0);
        _operations.Add(new StoreOperation(column, key.ToArray(), null));
        return this;
    }

    /// <summary>Empties the batch so it can be reused.</summary>
    public void Clear()
    {
        _operations.Clear();
        ByteCount = 0;
    }

    // Checks limits before anything is added, so a refused operation leaves the batch unchanged.
    private void Add(Column column, ReadOnlySpan<byte> key, int valueLength)
    {
        Columns.Validate(column);
        if (_operations.Count >= MaxOperations)
            throw new BatchLimitException($"batch is full: {MaxOperations} operations is its limit");
        long bytes = (long)key.Length + valueLength;
        if (ByteCount + bytes > MaxBytes)
            throw new BatchLimitException($"batch would hold {ByteCount + bytes} bytes, over its limit of {MaxBytes}");
        ByteCount += bytes;
    }
}
