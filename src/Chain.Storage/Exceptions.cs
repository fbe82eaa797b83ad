namespace Chain.Storage;

/// <summary>A storage operation failed (I/O error, refused batch, unreadable store).</summary>
public class StorageException : Exception
{
    public StorageException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The store's directory is locked: another process (or another open handle in this process) holds it.
/// Two writers on one RocksDB directory would corrupt it, so opening is refused.
/// </summary>
public sealed class StoreInUseException : StorageException
{
    public StoreInUseException(string path, Exception? inner = null)
        : base($"the store at '{path}' is in use: another process (or another open handle in this process) holds its lock file '{System.IO.Path.Combine(path, "LOCK")}'", inner)
    {
        Path = path;
    }

    public string Path { get; }
}

/// <summary>Bytes on disk are not what was written: a damaged file, a torn record, or an undecodable value.</summary>
public sealed class StoreCorruptedException : StorageException
{
    public StoreCorruptedException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>A value under <paramref name="key"/> in <paramref name="column"/> cannot be decoded.</summary>
    public StoreCorruptedException(Column column, ReadOnlySpan<byte> key, string detail, Exception? inner = null)
        : base($"corrupted value in column '{Columns.Name(column)}' at key {Convert.ToHexStringLower(key)}: {detail}", inner)
    {
        Column = column;
        Key = key.ToArray();
    }

    /// <summary>The column of the damaged value, when one value is to blame.</summary>
    public Column? Column { get; }

    /// <summary>The key of the damaged value, when one value is to blame.</summary>
    public byte[]? Key { get; }
}

/// <summary>The store was written with a schema this code does not understand; it is not opened, so nothing is rewritten.</summary>
public sealed class SchemaVersionException : StorageException
{
    public SchemaVersionException(string path, uint found, uint supported)
        : base(found > supported
            ? $"the store at '{path}' has schema version {found}, written by a newer node; this node understands version {supported}"
            : $"the store at '{path}' has schema version {found}, which this node (version {supported}) cannot read")
    {
        Path = path;
        Found = found;
        Supported = supported;
    }

    public string Path { get; }
    public uint Found { get; }
    public uint Supported { get; }
}

/// <summary>A batch would grow past its operation or byte limit; the operation was not added.</summary>
public sealed class BatchLimitException : StorageException
{
    public BatchLimitException(string message) : base(message) { }
}
