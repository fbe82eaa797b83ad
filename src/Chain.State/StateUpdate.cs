using Chain.Core;
using Chain.Storage;

namespace Chain.State;

/// <summary>
/// The result of <see cref="SparseMerkleTree.Apply"/>: the new root and the nodes that produce it, held in
/// memory until the caller writes them. Nothing touches the store until <see cref="WriteTo"/> goes into a batch
/// that the caller commits with its block; dropping the object discards the speculative version.
/// </summary>
public sealed class StateUpdate
{
    private readonly Dictionary<byte[], Node> _nodes;
    private readonly List<byte[]> _stale;

    internal StateUpdate(ulong? baseVersion, ulong version, Hash32 root, Dictionary<byte[], Node> nodes, List<byte[]> stale)
    {
        BaseVersion = baseVersion;
        Version = version;
        Root = root;
        _nodes = nodes;
        _stale = stale;
    }

    /// <summary>The version the changes were applied to, or null when applied to the empty tree.</summary>
    public ulong? BaseVersion { get; }

    /// <summary>The version (block height) this update creates.</summary>
    public ulong Version { get; }

    /// <summary>The state root at <see cref="Version"/>.</summary>
    public Hash32 Root { get; }

    /// <summary>Number of new node records.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Number of nodes of earlier versions that this version no longer references.</summary>
    public int StaleCount => _stale.Count;

    internal bool TryGetNode(byte[] key, out Node node) => _nodes.TryGetValue(key, out node!);

    /// <summary>
    /// Adds the new nodes and the stale-node index entries to <paramref name="batch"/>, in key order so the
    /// batch is identical on every node. May throw <see cref="BatchLimitException"/> if the batch is too small.
    /// </summary>
    public void WriteTo(StoreBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var keys = _nodes.Keys.ToArray();
        Array.Sort(keys, Keys.Comparer);
        foreach (var key in keys) batch.Put(Column.State, key, _nodes[key].Encode());
        var stale = _stale.ToArray();
        Array.Sort(stale, Keys.Comparer);
        foreach (var nodeKey in stale) batch.Put(Column.State, NodeKeys.Stale(Version, nodeKey), []);
    }
}
