using Chain.Node.Host;
using Chain.Storage;

namespace Chain.Node.Tests;

/// <summary>
/// A node's store whose reads from the proposal verifier's thread (<see cref="FullNode.VerifierThreadName"/>) wait while
/// the gate is closed: a re-execution as slow as the test wants, with every other reader (the loop, the mempool, sync)
/// untouched. Used through <see cref="FaultInjection.WrapStore"/>.
/// </summary>
internal sealed class GatedVerificationStore(IKeyValueStore inner) : IKeyValueStore
{
    private readonly ManualResetEventSlim _open = new(initialState: true);
    private int _waiting;

    /// <summary>Holds the gate's state for every store it wraps (one node's store, and the same again after a restart).</summary>
    public sealed class Gate
    {
        private readonly List<GatedVerificationStore> _stores = [];
        private bool _closed;

        public IKeyValueStore Wrap(IKeyValueStore store)
        {
            var gated = new GatedVerificationStore(store);
            lock (_stores)
            {
                if (_closed) gated._open.Reset();
                _stores.Add(gated);
            }
            return gated;
        }

        public void Close()
        {
            lock (_stores)
            {
                _closed = true;
                foreach (var s in _stores) s._open.Reset();
            }
        }

        public void Open()
        {
            lock (_stores)
            {
                _closed = false;
                foreach (var s in _stores) s._open.Set();
            }
        }

        /// <summary>True while a verifier read waits at the gate (a verification is in flight and stuck).</summary>
        public bool Holding
        {
            get
            {
                lock (_stores) return _stores.Any(s => Volatile.Read(ref s._waiting) > 0);
            }
        }
    }

    private void Pass()
    {
        if (Thread.CurrentThread.Name != FullNode.VerifierThreadName || _open.IsSet) return;
        Interlocked.Increment(ref _waiting);
        try
        {
            _open.Wait();
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    public void Write(StoreBatch batch, bool sync = true) => inner.Write(batch, sync);

    public IStoreSnapshot Snapshot()
    {
        Pass();
        return inner.Snapshot();
    }

    public byte[]? Get(Column column, ReadOnlySpan<byte> key)
    {
        Pass();
        return inner.Get(column, key);
    }

    public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value)
    {
        Pass();
        return inner.TryGet(column, key, decode, out value);
    }

    public bool Contains(Column column, ReadOnlySpan<byte> key)
    {
        Pass();
        return inner.Contains(column, key);
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null)
    {
        Pass();
        return inner.Iterate(column, from, to);
    }

    public (byte[] Key, byte[] Value)? Last(Column column)
    {
        Pass();
        return inner.Last(column);
    }

    public void Dispose() { } // the node disposes the RocksDB store itself
}
