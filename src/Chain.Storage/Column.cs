namespace Chain.Storage;

/// <summary>
/// The tables of a store. In RocksDB each is its own column family, tuned for how it is read
/// (see docs/storage.md). Values are persisted by name, never by number, so the order here is free.
/// </summary>
public enum Column
{
    /// <summary>Full blocks by height.</summary>
    Blocks,
    /// <summary>Block headers by height (small, read far more often than whole blocks).</summary>
    Headers,
    /// <summary>The commit that finalized each height.</summary>
    Commits,
    /// <summary>Receipts by (height, index in block).</summary>
    Receipts,
    /// <summary>Transaction hash to (height, index in block).</summary>
    TxIndex,
    /// <summary>Application state: accounts, models and so on.</summary>
    State,
    /// <summary>Small bookkeeping records: schema version, latest height, chain id.</summary>
    Meta,
}

/// <summary>Names and enumeration helpers for <see cref="Column"/>.</summary>
public static class Columns
{
    /// <summary>Every column, in declaration order.</summary>
    public static IReadOnlyList<Column> All { get; } = Enum.GetValues<Column>();

    /// <summary>The stable on-disk name (the RocksDB column family name).</summary>
    public static string Name(Column column) => column switch
    {
        Column.Blocks => "blocks",
        Column.Headers => "headers",
        Column.Commits => "commits",
        Column.Receipts => "receipts",
        Column.TxIndex => "tx_index",
        Column.State => "state",
        Column.Meta => "meta",
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "unknown column"),
    };

    internal static void Validate(Column column)
    {
        if ((uint)column > (uint)Column.Meta)
            throw new ArgumentOutOfRangeException(nameof(column), column, "unknown column");
    }
}
