using Chain.Core;
using Chain.Storage;

namespace Chain.State.Tests;

public class TreeTests
{
    public static TheoryData<int> Seeds => [1, 2, 3, 4, 5];

    [Fact]
    public void EmptyTreeHasZeroRootAndProvesAbsence()
    {
        using var store = new InMemoryStore();
        var update = store.Commit(null, 1, []);
        var tree = new SparseMerkleTree(store);
        var key = new Gen(0).RandomKey();
        Assert.Equal(Hash32.Zero, update.Root);
        Assert.Equal(Hash32.Zero, tree.Root(1));
        Assert.Null(tree.Get(key, 1));
        var proof = tree.Prove(key, 1);
        Assert.Empty(proof.Levels);
        Assert.True(proof.Verify(Hash32.Zero, key, null));
        Assert.False(proof.Verify(Hash32.Zero, key, []));
    }

    [Fact]
    public void SingleKeyRootIsItsLeaf()
    {
        using var store = new InMemoryStore();
        var key = new Gen(9).RandomKey();
        var update = store.Commit(null, 1, [(key, [1, 2, 3])]);
        Assert.Equal(Reference.LeafHash(key, [1, 2, 3]), update.Root);
        Assert.Equal(new byte[] { 1, 2, 3 }, new SparseMerkleTree(store).Get(key, 1));
    }

    [Theory, MemberData(nameof(Seeds))]
    public void RandomBatchesMatchTheReferenceModel(int seed)
    {
        var gen = new Gen(seed);
        using var store = new InMemoryStore();
        var tree = new SparseMerkleTree(store);
        var model = new Dictionary<Hash32, byte[]>();
        ulong? previous = null;
        for (ulong version = 1; version <= 25; version++)
        {
            var batch = gen.Batch(model, gen.Random.Next(0, 30));
            var update = store.Commit(previous, version, batch);
            Gen.ApplyToModel(model, batch);
            Assert.Equal(Reference.Root(model), update.Root);
            Assert.Equal(update.Root, tree.Root(version));
            // Every value at the last version; a sample at the others keeps the run short.
            foreach (var (k, v) in version == 25 ? model : model.Take(25)) Assert.Equal(v, tree.Get(k, version));
            for (int i = 0; i < 20; i++)
            {
                var absent = gen.Key(model.Keys.ToList());
                if (!model.ContainsKey(absent)) Assert.Null(tree.Get(absent, version));
            }
            previous = version;
        }
    }

    [Theory, MemberData(nameof(Seeds))]
    public void RootDependsOnlyOnTheFinalSet(int seed)
    {
        var gen = new Gen(seed);
        var keys = new List<Hash32>();
        for (int i = 0; i < 60; i++) keys.Add(gen.Key(keys));
        keys = keys.Distinct().ToList();
        var entries = keys.Select(k => (Key: k, Value: (byte[]?)gen.Value())).ToList();
        var model = entries.ToDictionary(e => e.Key, e => e.Value!);

        // One batch, in two different orders.
        using var a = new InMemoryStore();
        var one = a.Commit(null, 1, entries).Root;
        using var b = new InMemoryStore();
        var shuffled = entries.ToArray();
        gen.Random.Shuffle(shuffled);
        Assert.Equal(one, b.Commit(null, 1, shuffled).Root);

        // Key by key in a random order, with detours through values that are later overwritten or deleted.
        using var c = new InMemoryStore();
        ulong? v = null;
        ulong next = 1;
        foreach (var (key, value) in shuffled)
        {
            c.Commit(v, next, [(key, gen.Value())]);
            v = next++;
            var extra = gen.RandomKey();
            c.Commit(v, next, [(key, value), (extra, gen.Value())]);
            v = next++;
            c.Commit(v, next, [(extra, null)]);
            v = next++;
        }
        Assert.Equal(one, new SparseMerkleTree(c).Root(v!.Value));
        Assert.Equal(Reference.Root(model), one);
    }

    [Theory, MemberData(nameof(Seeds))]
    public void DeletingRestoresThePreviousRootExactly(int seed)
    {
        var gen = new Gen(seed);
        using var store = new InMemoryStore();
        var model = new Dictionary<Hash32, byte[]>();
        var batch = gen.Batch(model, 80);
        Gen.ApplyToModel(model, batch);
        var baseRoot = store.Commit(null, 1, batch).Root;
        ulong version = 1;
        for (int round = 0; round < 10; round++)
        {
            // Neighbours of existing keys force splits deep in the tree; deleting them must collapse it again.
            var added = new List<(Hash32, byte[]?)>();
            var keys = model.Keys.ToList();
            while (added.Count < 5)
            {
                var k = gen.Key(keys);
                if (!model.ContainsKey(k) && added.All(a => a.Item1 != k)) added.Add((k, gen.Value()));
            }
            var grown = store.Commit(version, version + 1, added);
            Assert.NotEqual(baseRoot, grown.Root);
            var shrunk = store.Commit(version + 1, version + 2, added.Select(a => (a.Item1, (byte[]?)null)));
            Assert.Equal(baseRoot, shrunk.Root);
            version += 2;
        }
        var tree = new SparseMerkleTree(store);
        foreach (var (k, v) in model) Assert.True(tree.Prove(k, version).Verify(baseRoot, k, v));

        var empty = store.Commit(version, version + 1, model.Keys.Select(k => (k, (byte[]?)null)));
        Assert.Equal(Hash32.Zero, empty.Root);
    }

    [Fact]
    public void NoOpChangesKeepTheRootAndWriteOnlyTheRootRecord()
    {
        var gen = new Gen(11);
        using var store = new InMemoryStore();
        var model = new Dictionary<Hash32, byte[]>();
        var batch = gen.Batch(model, 50);
        Gen.ApplyToModel(model, batch);
        var first = store.Commit(null, 1, batch);
        var same = model.Select(e => (e.Key, (byte[]?)e.Value)).Take(10)
            .Append((gen.RandomKey(), null)).ToList();
        var second = store.Commit(1, 2, same);
        Assert.Equal(first.Root, second.Root);
        Assert.Equal(1, second.NodeCount);
    }

    [Theory, MemberData(nameof(Seeds))]
    public void EarlierVersionsStayReadableAndProvable(int seed)
    {
        var gen = new Gen(seed);
        using var store = new InMemoryStore();
        var tree = new SparseMerkleTree(store);
        var model = new Dictionary<Hash32, byte[]>();
        var history = new List<(Hash32 Root, Dictionary<Hash32, byte[]> State)>();
        ulong? previous = null;
        for (ulong version = 1; version <= 15; version++)
        {
            var batch = gen.Batch(model, 20);
            Gen.ApplyToModel(model, batch);
            history.Add((store.Commit(previous, version, batch).Root, new Dictionary<Hash32, byte[]>(model)));
            previous = version;
        }
        for (int i = 0; i < history.Count; i++)
        {
            ulong version = (ulong)i + 1;
            var (root, state) = history[i];
            Assert.Equal(root, tree.Root(version));
            foreach (var (k, v) in state)
            {
                Assert.Equal(v, tree.Get(k, version));
                Assert.True(tree.Prove(k, version).Verify(root, k, v));
            }
        }
    }

    [Fact]
    public void SpeculativeUpdatesWriteNothingUntilCommitted()
    {
        var gen = new Gen(21);
        using var store = new InMemoryStore();
        var model = new Dictionary<Hash32, byte[]>();
        var b1 = gen.Batch(model, 40);
        Gen.ApplyToModel(model, b1);
        store.Commit(null, 1, b1);
        int before = store.Iterate(Column.State).Count();

        var tree = new SparseMerkleTree(store);
        var b2 = gen.Batch(model, 30);
        var u2 = tree.Apply(1, 2, b2);
        var speculative = tree.With(u2);
        var b3 = gen.Batch(model, 30);
        var u3 = speculative.Apply(2, 3, b3);
        Assert.Equal(before, store.Iterate(Column.State).Count());
        Assert.False(tree.HasVersion(2));
        Assert.True(speculative.HasVersion(2));

        Gen.ApplyToModel(model, b2);
        foreach (var (k, v) in model) Assert.Equal(v, speculative.Get(k, 2));
        Gen.ApplyToModel(model, b3);
        Assert.Equal(Reference.Root(model), u3.Root);

        var batch = new StoreBatch();
        u2.WriteTo(batch);
        u3.WriteTo(batch);
        store.Write(batch);
        Assert.Equal(u3.Root, tree.Root(3));
        foreach (var (k, v) in model) Assert.True(tree.Prove(k, 3).Verify(u3.Root, k, v));
    }

    [Fact]
    public void PruningDropsOnlyVersionsBelowTheCut()
    {
        var gen = new Gen(31);
        using var store = new InMemoryStore();
        var tree = new SparseMerkleTree(store);
        var model = new Dictionary<Hash32, byte[]>();
        var states = new Dictionary<ulong, (Hash32, Dictionary<Hash32, byte[]>)>();
        for (ulong version = 1; version <= 20; version++)
        {
            var batch = gen.Batch(model, 25);
            Gen.ApplyToModel(model, batch);
            states[version] = (store.Commit(version == 1 ? null : version - 1, version, batch).Root, new(model));
        }
        int recordsBefore = store.Iterate(Column.State).Count();
        var prune = new StoreBatch();
        int pruned = SparseMerkleTree.PruneBelow(store, 10, prune);
        store.Write(prune);
        Assert.True(pruned > 0);
        Assert.Equal(recordsBefore - 2 * pruned, store.Iterate(Column.State).Count());

        for (ulong version = 1; version < 10; version++)
            Assert.Throws<StateVersionNotFoundException>(() => tree.Root(version));
        for (ulong version = 10; version <= 20; version++)
        {
            var (root, state) = states[version];
            Assert.Equal(root, tree.Root(version));
            foreach (var (k, v) in state) Assert.True(tree.Prove(k, version).Verify(root, k, v));
        }
        // The chain goes on from the pruned store.
        var more = gen.Batch(model, 25);
        Gen.ApplyToModel(model, more);
        Assert.Equal(Reference.Root(model), store.Commit(20, 21, more).Root);
    }

    [Fact]
    public void BadUpdatesAreRefused()
    {
        var gen = new Gen(41);
        using var store = new InMemoryStore();
        var key = gen.RandomKey();
        store.Commit(null, 5, [(key, [1])]);
        var tree = new SparseMerkleTree(store);
        Assert.Throws<ArgumentException>(() => tree.Apply(5, 6, [(key, new byte[SparseMerkleTree.MaxValueSize + 1])]));
        Assert.Throws<ArgumentException>(() => tree.Apply(5, 6, [(key, [1]), (key, [2])]));
        Assert.Throws<ArgumentException>(() => tree.Apply(5, 5, [(key, [2])]));
        Assert.Throws<InvalidOperationException>(() => tree.Apply(null, 5, [(key, [2])]));
        Assert.Throws<StateVersionNotFoundException>(() => tree.Apply(4, 6, [(key, [2])]));
        Assert.Throws<StateVersionNotFoundException>(() => tree.Get(key, 7));
        // The largest allowed value goes through.
        Assert.NotEqual(Hash32.Zero, tree.Apply(5, 6, [(key, new byte[SparseMerkleTree.MaxValueSize])]).Root);
    }

    [Fact]
    public void DamagedNodesAreReportedNotGuessed()
    {
        var gen = new Gen(51);
        using var store = new InMemoryStore();
        var model = new Dictionary<Hash32, byte[]>();
        var batch = gen.Batch(model, 40);
        store.Commit(null, 1, batch);
        var tree = new SparseMerkleTree(store);
        var present = batch.First(b => b.Value is not null).Key;
        // Corrupt every non-root node of version 1.
        var damage = new StoreBatch();
        foreach (var (k, v) in store.Iterate(Column.State))
            if (k[0] == (byte)'n' && k[9] > 0) damage.Put(Column.State, k, [0x02, 0xff]);
        store.Write(damage);
        Assert.Throws<StoreCorruptedException>(() => tree.Get(present, 1));
    }
}
