using Chain.Core;
using Chain.Storage;

namespace Chain.State.Tests;

public class PersistenceTests
{
    private static List<List<(Hash32 Key, byte[]? Value)>> Batches(int seed, int count)
    {
        var gen = new Gen(seed);
        var model = new Dictionary<Hash32, byte[]>();
        var batches = new List<List<(Hash32, byte[]?)>>();
        for (int i = 0; i < count; i++)
        {
            var batch = gen.Batch(model, 30);
            Gen.ApplyToModel(model, batch);
            batches.Add(batch);
        }
        return batches;
    }

    [Fact]
    public void RocksDbRunMatchesInMemoryAcrossReopenAndRestart()
    {
        const int versions = 50;
        var batches = Batches(61, versions + 20);
        using var directory = new TempDirectory();

        // Uninterrupted in-memory run: the expected roots.
        using var memory = new InMemoryStore();
        var expected = new List<Hash32>();
        for (int v = 1; v <= versions + 20; v++)
            expected.Add(memory.Commit(v == 1 ? null : (ulong)(v - 1), (ulong)v, batches[v - 1]).Root);

        // First process: 50 versions on RocksDB.
        using (var rocks = RocksDbStore.Open(directory.Path))
        {
            for (int v = 1; v <= versions; v++)
                Assert.Equal(expected[v - 1], rocks.Commit(v == 1 ? null : (ulong)(v - 1), (ulong)v, batches[v - 1]).Root);
        }

        // Second process: the same roots and values, then carries on as if never stopped.
        using (var rocks = RocksDbStore.Open(directory.Path))
        {
            var reopened = new SparseMerkleTree(rocks);
            var reference = new SparseMerkleTree(memory);
            var model = new Dictionary<Hash32, byte[]>();
            for (int v = 1; v <= versions; v++)
            {
                Assert.Equal(expected[v - 1], reopened.Root((ulong)v));
                Gen.ApplyToModel(model, batches[v - 1]);
            }
            foreach (var key in batches.Take(versions).SelectMany(b => b).Select(c => c.Key).Distinct())
            {
                Assert.Equal(reference.Get(key, versions), reopened.Get(key, versions));
                Assert.Equal(model.GetValueOrDefault(key), reopened.Get(key, versions));
                Assert.True(reopened.Prove(key, versions).Verify(expected[versions - 1], key, model.GetValueOrDefault(key)));
            }
            for (int v = versions + 1; v <= versions + 20; v++)
                Assert.Equal(expected[v - 1], rocks.Commit((ulong)(v - 1), (ulong)v, batches[v - 1]).Root);
        }
    }

    [Fact]
    public void UncommittedUpdatesLeaveNoTraceAfterRestart()
    {
        var batches = Batches(62, 3);
        using var directory = new TempDirectory();
        Hash32 root2;
        using (var rocks = RocksDbStore.Open(directory.Path))
        {
            rocks.Commit(null, 1, batches[0]);
            root2 = rocks.Commit(1, 2, batches[1]).Root;
            // Computed but never written, as for a block that did not commit.
            new SparseMerkleTree(rocks).Apply(2, 3, batches[2]);
        }
        using (var rocks = RocksDbStore.Open(directory.Path))
        {
            var tree = new SparseMerkleTree(rocks);
            Assert.False(tree.HasVersion(3));
            Assert.Equal(root2, tree.Root(2));
        }
    }
}
