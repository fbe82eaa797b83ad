using Chain.Core;
using Chain.Storage;

namespace Chain.State.Tests;

public class PruneTests
{
    // Counts the node records reachable from a version's root (the root record included).
    private static int Reachable(SparseMerkleTree tree, ulong version)
    {
        int count = 0;
        var stack = new Stack<(ulong Version, NibblePath Path)>();
        stack.Push((version, NibblePath.Root));
        while (stack.Count > 0)
        {
            var (v, path) = stack.Pop();
            count++;
            if (tree.Load(v, path) is InternalNode node)
                for (int i = 0; i < 16; i++)
                    if (node[i] is { } child) stack.Push((child.Version, path.Append(i)));
        }
        return count;
    }

    [Theory, InlineData(1), InlineData(2), InlineData(3)]
    public void PruningToTheLatestVersionLeavesExactlyItsNodes(int seed)
    {
        // If an update forgot to mark a superseded node stale, it would survive here; if it marked a live
        // node stale, the latest version would lose it and the walk would throw.
        var gen = new Gen(seed);
        using var store = new InMemoryStore();
        var tree = new SparseMerkleTree(store);
        var model = new Dictionary<Hash32, byte[]>();
        const ulong last = 30;
        for (ulong version = 1; version <= last; version++)
        {
            var batch = gen.Batch(model, 20);
            Gen.ApplyToModel(model, batch);
            store.Commit(version == 1 ? null : version - 1, version, batch);
        }
        // In slices, as a node would inside its batch limits.
        while (true)
        {
            var batch = new StoreBatch();
            int pruned = SparseMerkleTree.PruneBelow(store, last, batch, maxNodes: 50);
            store.Write(batch);
            if (pruned == 0) break;
        }
        int records = store.Iterate(Column.State).Count(e => e.Key[0] == (byte)'n');
        Assert.Equal(Reachable(tree, last), records);
        Assert.DoesNotContain(store.Iterate(Column.State), e => e.Key[0] == (byte)'s');
        Assert.Equal(Reference.Root(model), tree.Root(last));
        foreach (var (k, v) in model) Assert.Equal(v, tree.Get(k, last));
    }
}
