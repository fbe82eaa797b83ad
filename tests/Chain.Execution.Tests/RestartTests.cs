using Chain.Core;
using Chain.Core.Protocol;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>Executing, persisting to RocksDB, reopening and continuing gives the chain an uninterrupted run gives.</summary>
public sealed class RestartTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-exec-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static List<Hash32> Run(ChainExecutor executor, IEnumerable<List<SignedTransaction>> blocks, Commit? last)
    {
        var hashes = new List<Hash32>();
        foreach (var txs in blocks)
        {
            var (proposal, commit) = Step(executor, txs, last);
            last = commit;
            hashes.Add(proposal.Block.Hash);
        }
        return hashes;
    }

    [Fact]
    public void Reopened_node_continues_with_the_same_roots()
    {
        var stream = DeterminismTests.Stream(77, 8);

        var reference = Executor();
        var expected = Run(reference, stream, null);

        List<Hash32> first;
        Hash32 rootAtRestart;
        using (var store = RocksDbStore.Open(_dir))
        {
            var executor = new ChainExecutor(Fixture.Genesis(), store, InMemoryStateBackend.Load(store), Runner());
            first = Run(executor, stream.Take(5), null);
            rootAtRestart = executor.StateRoot;
        }
        using (var store = RocksDbStore.Open(_dir))
        {
            var state = InMemoryStateBackend.Load(store);
            Assert.Equal(5UL, state.Version);
            Assert.Equal(rootAtRestart, state.Root);
            var executor = new ChainExecutor(Fixture.Genesis(), store, state, Runner());
            Assert.Equal(new Height(5), executor.Height);
            var rest = Run(executor, stream.Skip(5), executor.Blocks.LoadCommit(new Height(5)));
            Assert.Equal(expected, first.Concat(rest));
            Assert.Equal(reference.StateRoot, executor.StateRoot);
            for (ulong h = 1; h <= 8; h++)
                Assert.Equal(reference.Blocks.LoadReceipts(new Height(h)).Select(r => r.Hash), executor.Blocks.LoadReceipts(new Height(h)).Select(r => r.Hash));
        }
    }

    [Fact]
    public void A_store_refuses_a_different_genesis()
    {
        using (var store = RocksDbStore.Open(_dir))
            _ = new ChainExecutor(Fixture.Genesis(), store, InMemoryStateBackend.Load(store), Runner());
        using (var store = RocksDbStore.Open(_dir))
        {
            var other = Fixture.Genesis(Params with { GasPrice = 2 });
            var error = Assert.Throws<InvalidOperationException>(() => new ChainExecutor(other, store, InMemoryStateBackend.Load(store), Runner()));
            Assert.Contains("genesis", error.Message);
        }
    }

    [Fact]
    public void A_store_refuses_a_state_backend_that_is_not_its_own()
    {
        using var store = RocksDbStore.Open(_dir);
        var executor = new ChainExecutor(Fixture.Genesis(), store, InMemoryStateBackend.Load(store), Runner());
        Step(executor, [Transfer(User(1), 0, User(2).Address, 1)], null);
        // A fresh, empty backend against a store with blocks: refused rather than silently re-genesised.
        Assert.Throws<InvalidOperationException>(() => new ChainExecutor(Fixture.Genesis(), store, new InMemoryStateBackend(), Runner()));
    }

    [Fact]
    public void Block_and_state_reach_the_store_in_one_batch()
    {
        var inner = new InMemoryStore();
        var counting = new CountingStore(inner);
        var executor = new ChainExecutor(Fixture.Genesis(), counting, new InMemoryStateBackend(), Runner());
        int before = counting.Writes;
        Step(executor, [Transfer(User(1), 0, User(2).Address, 1)], null);
        Assert.Equal(before + 1, counting.Writes);
        Assert.Contains(counting.LastBatch!.Operations, o => o.Column == Column.State);
        Assert.Contains(counting.LastBatch.Operations, o => o.Column == Column.Blocks);
        Assert.True(counting.LastSync);
    }

    [Fact]
    public void A_failed_block_write_stops_the_executor_until_reopened()
    {
        var inner = new InMemoryStore();
        var store = new CountingStore(inner);
        var executor = new ChainExecutor(Fixture.Genesis(), store, new InMemoryStateBackend(), Runner());
        var proposal = executor.BuildBlock(Context(executor, null), [Transfer(User(1), 0, User(2).Address, 1)]);
        store.FailNext = true;
        Assert.Throws<StorageException>(() => executor.Commit(proposal.Block, CommitFor(proposal.Block)));
        Assert.Null(inner.Get(Column.Headers, Keys.Height(1)));
        var error = Assert.Throws<InvalidOperationException>(() => executor.BuildBlock(Context(executor, null), []));
        Assert.Contains("reopen", error.Message);

        // Reopened from what is on disk (genesis only), the node is consistent and can commit the block.
        var reopened = new ChainExecutor(Fixture.Genesis(), inner, InMemoryStateBackend.Load(inner), Runner());
        Assert.Equal(Executor().StateRoot, reopened.StateRoot);
        reopened.Commit(proposal.Block, CommitFor(proposal.Block));
        Assert.Equal(proposal.Block.Header.StateRoot, reopened.StateRoot);
    }

    private sealed class CountingStore(IKeyValueStore inner) : IKeyValueStore
    {
        public bool FailNext;
        public int Writes;
        public StoreBatch? LastBatch;
        public bool LastSync;

        public void Write(StoreBatch batch, bool sync = true)
        {
            if (FailNext)
            {
                FailNext = false;
                throw new StorageException("injected write failure");
            }
            Writes++;
            LastBatch = batch;
            LastSync = sync;
            inner.Write(batch, sync);
        }

        public byte[]? Get(Column column, ReadOnlySpan<byte> key) => inner.Get(column, key);
        public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value) => inner.TryGet(column, key, decode, out value);
        public bool Contains(Column column, ReadOnlySpan<byte> key) => inner.Contains(column, key);
        public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null) => inner.Iterate(column, from, to);
        public (byte[] Key, byte[] Value)? Last(Column column) => inner.Last(column);
        public IStoreSnapshot Snapshot() => inner.Snapshot();
        public void Dispose() => inner.Dispose();
    }
}
