using Chain.Storage;

namespace Chain.Execution;

/// <summary>
/// Lets the state writes ride in the same batch as <see cref="BlockStore.Save"/>'s block writes: the next
/// <see cref="Write"/> first runs the staged action, which appends to that batch, and then writes it once.
/// So a block and the state it produces reach disk together or not at all, and the state is only advanced
/// after BlockStore has accepted the block (its checks run before it writes).
/// </summary>
internal sealed class PiggybackStore(IKeyValueStore inner) : IKeyValueStore
{
    private Action<StoreBatch>? _staged;

    public void Stage(Action<StoreBatch> addWrites) => _staged = addWrites;

    public void Unstage() => _staged = null;

    public void Write(StoreBatch batch, bool sync = true)
    {
        var staged = _staged;
        _staged = null;
        staged?.Invoke(batch);
        inner.Write(batch, sync);
    }

    public byte[]? Get(Column column, ReadOnlySpan<byte> key) => inner.Get(column, key);
    public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value) => inner.TryGet(column, key, decode, out value);
    public bool Contains(Column column, ReadOnlySpan<byte> key) => inner.Contains(column, key);
    public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null) => inner.Iterate(column, from, to);
    public (byte[] Key, byte[] Value)? Last(Column column) => inner.Last(column);
    public IStoreSnapshot Snapshot() => inner.Snapshot();

    // The caller owns the inner store.
    public void Dispose() { }
}
