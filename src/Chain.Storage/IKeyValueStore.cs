namespace Chain.Storage;

/// <summary>Turns a value's bytes into an object without first copying them into an array.</summary>
public delegate T ValueDecoder<out T>(ReadOnlySpan<byte> value);

/// <summary>
/// Read access to a store. Within a column keys are ordered byte-lexicographically (see <see cref="Keys"/>).
/// Returned arrays belong to the caller.
/// </summary>
public interface IKeyValueReader
{
    /// <summary>The value under <paramref name="key"/>, or null when absent.</summary>
    byte[]? Get(Column column, ReadOnlySpan<byte> key);

    /// <summary>
    /// Decodes the value under <paramref name="key"/> straight from the store's buffer (no copy where the
    /// backend allows it). False when absent. The span passed to <paramref name="decode"/> is only valid during the call.
    /// </summary>
    bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value);

    bool Contains(Column column, ReadOnlySpan<byte> key);

    /// <summary>
    /// Entries with <paramref name="from"/> &lt;= key &lt; <paramref name="to"/> in ascending key order; a null
    /// bound is open. Lazy: enumerate inside a <c>foreach</c> (or dispose the enumerator) to release the cursor.
    /// </summary>
    IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null);

    /// <summary>The entry with the greatest key in <paramref name="column"/>, or null when the column is empty.</summary>
    (byte[] Key, byte[] Value)? Last(Column column);
}

/// <summary>A consistent, read-only view of a store as it was when taken; later writes are invisible to it.</summary>
public interface IStoreSnapshot : IKeyValueReader, IDisposable
{
}

/// <summary>
/// A durable, ordered key-value store with atomic batches. Implementations are safe for concurrent use;
/// after <see cref="IDisposable.Dispose"/> every call throws <see cref="ObjectDisposedException"/>.
/// </summary>
public interface IKeyValueStore : IKeyValueReader, IDisposable
{
    /// <summary>
    /// Applies every operation of <paramref name="batch"/> atomically, in order: readers and a restart after a
    /// crash see all of it or none. With <paramref name="sync"/> the call returns only once the batch is on
    /// stable storage (it survives power loss); without, it survives a process crash but maybe not power loss.
    /// </summary>
    void Write(StoreBatch batch, bool sync = true);

    /// <summary>A point-in-time view; dispose it to let the store reclaim what it pins.</summary>
    IStoreSnapshot Snapshot();
}

/// <summary>Conveniences built on <see cref="IKeyValueReader"/>.</summary>
public static class KeyValueReaderExtensions
{
    /// <summary>Entries whose key starts with <paramref name="prefix"/>, in ascending key order.</summary>
    public static IEnumerable<(byte[] Key, byte[] Value)> IteratePrefix(this IKeyValueReader reader, Column column, byte[] prefix)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(prefix);
        return reader.Iterate(column, prefix, Keys.PrefixEnd(prefix));
    }
}
