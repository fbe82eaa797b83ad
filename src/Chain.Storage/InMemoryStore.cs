using System.Collections.Immutable;

namespace Chain.Storage;

/// <summary>
/// An in-memory <see cref="IKeyValueStore"/> with the same semantics as <see cref="RocksDbStore"/>:
/// byte-lexicographic order per column, atomic batches, isolated snapshots. FOR TESTS ONLY: nothing is
/// durable and iteration is linear in the column's size.
/// </summary>
public sealed class InMemoryStore : IKeyValueStore
{
    private static readonly ImmutableSortedDictionary<byte[], byte[]> EmptyColumn =
        ImmutableSortedDictionary.Create<byte[], byte[]>(Keys.Comparer);

    private readonly Lock _writeLock = new();
    // One immutable map per column, swapped as a whole by each write: a reader that took the array
    // sees one consistent state, which is what makes batches atomic and snapshots free.
    private ImmutableSortedDictionary<byte[], byte[]>[] _columns;
    private volatile bool _disposed;

    public InMemoryStore()
    {
        _columns = new ImmutableSortedDictionary<byte[], byte[]>[Columns.All.Count];
        Array.Fill(_columns, EmptyColumn);
    }

    public byte[]? Get(Column column, ReadOnlySpan<byte> key) => View.Get(column, key);

    public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value) =>
        View.TryGet(column, key, decode, out value);

    public bool Contains(Column column, ReadOnlySpan<byte> key) => View.Contains(column, key);

    public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null) =>
        View.Iterate(column, from, to);

    public (byte[] Key, byte[] Value)? Last(Column column) => View.Last(column);

    public void Write(StoreBatch batch, bool sync = true)
    {
        ArgumentNullException.ThrowIfNull(batch);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var builders = new ImmutableSortedDictionary<byte[], byte[]>.Builder?[_columns.Length];
            foreach (var op in batch.Operations)
            {
                var builder = builders[(int)op.Column] ??= _columns[(int)op.Column].ToBuilder();
                if (op.Value is null) builder.Remove(op.Key);
                else builder[op.Key] = op.Value;
            }
            var next = (ImmutableSortedDictionary<byte[], byte[]>[])_columns.Clone();
            for (int i = 0; i < next.Length; i++)
                if (builders[i] is { } builder) next[i] = builder.ToImmutable();
            Volatile.Write(ref _columns, next);
        }
    }

    public IStoreSnapshot Snapshot() => new SnapshotView(this, View.Columns);

    public void Dispose() => _disposed = true;

    private SnapshotView View
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return new SnapshotView(this, Volatile.Read(ref _columns));
        }
    }

    private sealed class SnapshotView(InMemoryStore owner, ImmutableSortedDictionary<byte[], byte[]>[] columns) : IStoreSnapshot
    {
        private volatile bool _disposed;

        public ImmutableSortedDictionary<byte[], byte[]>[] Columns => columns;

        public byte[]? Get(Column column, ReadOnlySpan<byte> key) =>
            Find(column, key) is { } value ? (byte[])value.Clone() : null;

        public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value)
        {
            ArgumentNullException.ThrowIfNull(decode);
            if (Find(column, key) is { } stored)
            {
                value = decode(stored);
                return true;
            }
            value = default!;
            return false;
        }

        public bool Contains(Column column, ReadOnlySpan<byte> key) => Find(column, key) is not null;

        public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null)
        {
            var map = Map(column);
            return Enumerate(map, from, to);
        }

        public (byte[] Key, byte[] Value)? Last(Column column)
        {
            var map = Map(column);
            if (map.IsEmpty) return null;
            var (key, value) = map.Last();
            return ((byte[])key.Clone(), (byte[])value.Clone());
        }

        public void Dispose() => _disposed = true;

        private IEnumerable<(byte[] Key, byte[] Value)> Enumerate(ImmutableSortedDictionary<byte[], byte[]> map, byte[]? from, byte[]? to)
        {
            foreach (var (key, value) in map)
            {
                CheckOpen();
                if (from is not null && Keys.Compare(key, from) < 0) continue;
                if (to is not null && Keys.Compare(key, to) >= 0) yield break;
                yield return ((byte[])key.Clone(), (byte[])value.Clone());
            }
        }

        private byte[]? Find(Column column, ReadOnlySpan<byte> key) =>
            Map(column).TryGetValue(key.ToArray(), out var value) ? value : null;

        private ImmutableSortedDictionary<byte[], byte[]> Map(Column column)
        {
            Storage.Columns.Validate(column);
            CheckOpen();
            return columns[(int)column];
        }

        private void CheckOpen()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ObjectDisposedException.ThrowIf(owner._disposed, owner);
        }
    }
}
