using Chain.Core;
using Chain.Storage;
using Chain.Core.Merkle;

namespace Chain.State;

/// <summary>
/// Authenticated state: a 16-ary sparse Merkle tree over 256-bit keys with path compression, in the manner of
/// Aptos' Jellyfish Merkle Tree, versioned per block height (docs/state.md). Nodes are immutable and stored under
/// (version, nibble path), so every committed version stays readable and provable until pruned. The tree reads
/// from a store and any pending (uncommitted) updates layered with <see cref="With"/>; it never writes.
/// </summary>
public sealed class SparseMerkleTree
{
    /// <summary>Largest value a key can hold: a registered model's ONNX bytes plus headroom (values sit in leaf records; proofs carry only their hash).</summary>
    public const int MaxValueSize = Chain.Core.Protocol.ProtocolLimits.MaxRegisterModelBytes + 64 * 1024;

    /// <summary>Deepest possible leaf: one level per nibble of a 256-bit key.</summary>
    public const int MaxDepth = NibblePath.MaxLength;

    private readonly IKeyValueReader _store;
    private readonly StateUpdate[] _pending; // oldest first; searched newest first

    public SparseMerkleTree(IKeyValueReader store) : this(store, [])
    {
    }

    private SparseMerkleTree(IKeyValueReader store, StateUpdate[] pending)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _pending = pending;
    }

    /// <summary>
    /// A view that also sees <paramref name="pending"/>'s nodes, so a proposer can read, prove and build the next
    /// speculative version on top of one that is not committed yet.
    /// </summary>
    public SparseMerkleTree With(StateUpdate pending)
    {
        ArgumentNullException.ThrowIfNull(pending);
        return new SparseMerkleTree(_store, [.. _pending, pending]);
    }

    /// <summary>True when a root for <paramref name="version"/> is stored (or pending in this view).</summary>
    public bool HasVersion(ulong version) => TryLoad(NodeKeys.Node(version, NibblePath.Root)) is not null;

    /// <summary>The state root at <paramref name="version"/>; <see cref="StateHash.Empty"/> for an empty tree.</summary>
    public Hash32 Root(ulong version) => LoadRoot(version).Hash;

    /// <summary>The value of <paramref name="key"/> at <paramref name="version"/>, or null when absent.</summary>
    public byte[]? Get(Hash32 key, ulong version)
    {
        Node node = LoadRoot(version);
        var path = NibblePath.Root;
        while (true)
        {
            switch (node)
            {
                case LeafNode leaf:
                    return leaf.Key == key ? (byte[])leaf.Value.Clone() : null;
                case InternalNode internalNode:
                    int nibble = NibblePath.Nibble(key, path.Length);
                    if (internalNode[nibble] is not { } child) return null;
                    path = path.Append(nibble);
                    node = Load(child.Version, path);
                    break;
                default:
                    return null;
            }
        }
    }

    /// <summary>
    /// A proof of <paramref name="key"/>'s value at <paramref name="version"/>: inclusion when present, otherwise
    /// non-inclusion (the path ends in an empty slot or at another key's leaf).
    /// </summary>
    public StateProof Prove(Hash32 key, ulong version)
    {
        Node node = LoadRoot(version);
        var path = NibblePath.Root;
        var levels = new List<StateProof.Level>();
        Span<Hash32> siblings = stackalloc Hash32[15];
        while (true)
        {
            switch (node)
            {
                case LeafNode leaf:
                    return new StateProof(levels, new StateProof.LeafRecord(leaf.Key, leaf.ValueHash));
                case InternalNode internalNode:
                {
                    int nibble = NibblePath.Nibble(key, path.Length);
                    ushort bitmap = 0;
                    int count = 0;
                    for (int i = 0; i < 16; i++)
                    {
                        if (i == nibble || internalNode[i] is not { } sibling) continue;
                        bitmap |= (ushort)(1 << i);
                        siblings[count++] = sibling.Hash;
                    }
                    levels.Add(new StateProof.Level(bitmap, siblings[..count].ToArray()));
                    if (internalNode[nibble] is not { } child) return new StateProof(levels, null);
                    path = path.Append(nibble);
                    node = Load(child.Version, path);
                    break;
                }
                default:
                    return new StateProof(levels, null);
            }
        }
    }

    /// <summary>
    /// Applies <paramref name="changes"/> (a null value deletes) to the tree at <paramref name="baseVersion"/> (null:
    /// the empty tree) and returns version <paramref name="newVersion"/> in memory. The result depends only on the
    /// set of changes, not their order; a key may appear once. Deleting an absent key is a no-op.
    /// </summary>
    public StateUpdate Apply(ulong? baseVersion, ulong newVersion, IEnumerable<(Hash32 Key, byte[]? Value)> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (baseVersion is { } b && newVersion <= b)
            throw new ArgumentException($"new version {newVersion} must be above the base version {b}", nameof(newVersion));
        if (HasVersion(newVersion))
            throw new InvalidOperationException($"version {newVersion} already exists; nodes are immutable");

        var sorted = changes.Select(c => new Change(c.Key, c.Value)).ToArray();
        Array.Sort(sorted, static (x, y) => x.Key.CompareTo(y.Key));
        for (int i = 0; i < sorted.Length; i++)
        {
            if (i > 0 && sorted[i].Key == sorted[i - 1].Key)
                throw new ArgumentException($"key {sorted[i].Key} appears more than once in one update", nameof(changes));
            if (sorted[i].Value is { Length: > MaxValueSize } v)
                throw new ArgumentException($"value of {v.Length} bytes for key {sorted[i].Key} exceeds the limit of {MaxValueSize}", nameof(changes));
        }

        var updater = new Updater(this, newVersion);
        return updater.Run(baseVersion, sorted);
    }

    /// <summary>
    /// Queues into <paramref name="batch"/> the deletion of every node that no version at or above
    /// <paramref name="version"/> references, with their stale-index entries; versions below it become unreadable.
    /// Stops after <paramref name="maxNodes"/> nodes (call again after writing to continue). Returns the count queued.
    /// Requires the committed versions to form one chain (each applied on the previous committed one).
    /// </summary>
    public static int PruneBelow(IKeyValueReader store, ulong version, StoreBatch batch, int maxNodes = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(batch);
        // Nodes stale since s are needed only by versions below s: all of them go once s <= version.
        byte[]? to = version == ulong.MaxValue ? Keys.PrefixEnd([NodeKeys.StalePrefix]) : NodeKeys.StaleBound(version + 1);
        int pruned = 0;
        foreach (var (key, _) in store.Iterate(Column.State, NodeKeys.StaleBound(0), to))
        {
            if (pruned >= maxNodes) break;
            batch.Delete(Column.State, key.AsSpan(9));
            batch.Delete(Column.State, key);
            pruned++;
        }
        return pruned;
    }

    private Node LoadRoot(ulong version) =>
        TryLoad(NodeKeys.Node(version, NibblePath.Root)) ?? throw new StateVersionNotFoundException(version);

    internal Node Load(ulong version, in NibblePath path)
    {
        var key = NodeKeys.Node(version, path);
        return TryLoad(key) ?? throw new StoreCorruptedException(Column.State, key,
            $"tree node (version {version}, path '{path}') is missing: the store is damaged or the version was pruned");
    }

    private Node? TryLoad(byte[] key)
    {
        for (int i = _pending.Length - 1; i >= 0; i--)
            if (_pending[i].TryGetNode(key, out var node)) return node;
        return _store.TryGet(Column.State, key, span => Node.Decode(span, key), out var stored) ? stored : null;
    }

    private readonly record struct Change(Hash32 Key, byte[]? Value);

    // A subtree as the update sees it: empty, a leaf that may still move up or down, or a placed internal node.
    private abstract class Sub;

    private sealed class EmptySub : Sub
    {
        public static readonly EmptySub Instance = new();
    }

    private sealed class LeafSub : Sub
    {
        private LeafNode? _node;

        public LeafSub(LeafNode node)
        {
            _node = node;
            Hash = node.Hash;
        }

        public LeafSub(ulong version, NibblePath path, Hash32 hash, LeafNode? node = null)
        {
            OriginVersion = version;
            OriginPath = path;
            Hash = hash;
            _node = node;
        }

        public Hash32 Hash { get; }
        public ulong? OriginVersion { get; }
        public NibblePath OriginPath { get; }

        public LeafNode Node(SparseMerkleTree tree) =>
            _node ??= tree.Load(OriginVersion!.Value, OriginPath) as LeafNode
                ?? throw new StoreCorruptedException(Column.State, NodeKeys.Node(OriginVersion!.Value, OriginPath), "expected a leaf node");
    }

    private sealed class InternalSub(ulong version, NibblePath path, Hash32 hash) : Sub
    {
        public ulong Version => version;
        public NibblePath Path => path;
        public Hash32 Hash => hash;
    }

    private sealed class Updater(SparseMerkleTree tree, ulong newVersion)
    {
        private readonly Dictionary<byte[], Node> _writes = new(ByteArrayComparer.Instance);
        private readonly HashSet<byte[]> _stale = new(ByteArrayComparer.Instance);

        public StateUpdate Run(ulong? baseVersion, Change[] changes)
        {
            Sub root = EmptySub.Instance;
            if (baseVersion is { } b)
            {
                root = tree.LoadRoot(b) switch
                {
                    LeafNode leaf => new LeafSub(b, NibblePath.Root, leaf.Hash, leaf),
                    InternalNode node => new InternalSub(b, NibblePath.Root, node.Hash),
                    _ => EmptySub.Instance,
                };
                // Every version has its own root record, so the base's is superseded whatever happens below.
                Stale(b, NibblePath.Root);
            }

            var result = Update(NibblePath.Root, root, changes);
            Hash32 rootHash;
            switch (result)
            {
                case LeafSub leaf:
                    if (leaf.OriginVersion is { } v) Stale(v, leaf.OriginPath);
                    Write(NibblePath.Root, leaf.Node(tree));
                    rootHash = leaf.Hash;
                    break;
                case InternalSub node:
                    // Unchanged root: copy it under the new version so the version has a root record.
                    if (node.Version != newVersion) Write(NibblePath.Root, tree.Load(node.Version, NibblePath.Root));
                    rootHash = node.Hash;
                    break;
                default:
                    Write(NibblePath.Root, NullNode.Instance);
                    rootHash = StateHash.Empty;
                    break;
            }
            return new StateUpdate(baseVersion, newVersion, rootHash, _writes, [.. _stale]);
        }

        private Sub Update(NibblePath path, Sub existing, ReadOnlySpan<Change> changes)
        {
            if (changes.IsEmpty) return existing;
            switch (existing)
            {
                case LeafSub current:
                {
                    var leaf = current.Node(tree);
                    var items = new List<LeafSub>();
                    bool kept = true;
                    foreach (var c in changes)
                    {
                        if (c.Key == leaf.Key)
                        {
                            if (c.Value is not null && c.Value.AsSpan().SequenceEqual(leaf.Value)) continue;
                            kept = false;
                            if (c.Value is not null) items.Add(new LeafSub(new LeafNode(c.Key, c.Value)));
                        }
                        else if (c.Value is not null)
                        {
                            items.Add(new LeafSub(new LeafNode(c.Key, c.Value)));
                        }
                    }
                    if (kept)
                    {
                        if (items.Count == 0) return current;
                        items.Add(current);
                        items.Sort((x, y) => KeyOf(x).CompareTo(KeyOf(y)));
                    }
                    else
                    {
                        Stale(current.OriginVersion!.Value, current.OriginPath);
                    }
                    return BuildLeaves(path, items);
                }
                case InternalSub current:
                {
                    if (tree.Load(current.Version, current.Path) is not InternalNode node)
                        throw new StoreCorruptedException(Column.State, NodeKeys.Node(current.Version, current.Path), "expected an internal node");
                    var subs = new Sub[16];
                    bool changed = false;
                    int start = 0;
                    for (int nibble = 0; nibble < 16; nibble++)
                    {
                        int end = start;
                        while (end < changes.Length && NibblePath.Nibble(changes[end].Key, path.Length) == nibble) end++;
                        Sub child = EmptySub.Instance;
                        NibblePath childPath = default;
                        if (node[nibble] is { } c)
                        {
                            childPath = path.Append(nibble);
                            child = c.IsLeaf ? new LeafSub(c.Version, childPath, c.Hash) : new InternalSub(c.Version, childPath, c.Hash);
                        }
                        if (end > start)
                        {
                            if (node[nibble] is null) childPath = path.Append(nibble);
                            var updated = Update(childPath, child, changes[start..end]);
                            changed |= !ReferenceEquals(updated, child);
                            child = updated;
                        }
                        subs[nibble] = child;
                        start = end;
                    }
                    if (!changed) return current;
                    Stale(current.Version, current.Path);
                    return Combine(path, subs);
                }
                default:
                {
                    var items = new List<LeafSub>();
                    foreach (var c in changes)
                        if (c.Value is not null) items.Add(new LeafSub(new LeafNode(c.Key, c.Value)));
                    return BuildLeaves(path, items);
                }
            }
        }

        private Hash32 KeyOf(LeafSub leaf) => leaf.Node(tree).Key;

        // Leaves (sorted by key, all under path) arranged into the canonical subtree: one leaf sits at the
        // shortest unique prefix, several split by the next nibble.
        private Sub BuildLeaves(NibblePath path, List<LeafSub> items)
        {
            if (items.Count == 0) return EmptySub.Instance;
            if (items.Count == 1) return items[0];
            if (path.Length >= MaxDepth) throw new InvalidOperationException("two leaves share a full 256-bit key");
            var subs = new Sub[16];
            int start = 0;
            for (int nibble = 0; nibble < 16; nibble++)
            {
                int end = start;
                while (end < items.Count && NibblePath.Nibble(KeyOf(items[end]), path.Length) == nibble) end++;
                subs[nibble] = end > start ? BuildLeaves(path.Append(nibble), items.GetRange(start, end - start)) : EmptySub.Instance;
                start = end;
            }
            return Combine(path, subs);
        }

        // Places the children under path. A lone leaf is passed up instead (path compression), so deleting
        // collapses the tree back to exactly the shape it would have had without the deleted keys.
        private Sub Combine(NibblePath path, Sub[] subs)
        {
            int count = 0;
            Sub? only = null;
            foreach (var s in subs)
            {
                if (s is EmptySub) continue;
                count++;
                only = s;
            }
            if (count == 0) return EmptySub.Instance;
            if (count == 1 && only is LeafSub) return only;

            var children = new Child?[16];
            for (int nibble = 0; nibble < 16; nibble++)
            {
                switch (subs[nibble])
                {
                    case InternalSub node:
                        children[nibble] = new Child(node.Version, node.Hash, IsLeaf: false);
                        break;
                    case LeafSub leaf:
                        children[nibble] = new Child(Place(leaf, path.Append(nibble)), leaf.Hash, IsLeaf: true);
                        break;
                }
            }
            var internalNode = new InternalNode(children);
            Write(path, internalNode);
            return new InternalSub(newVersion, path, internalNode.Hash);
        }

        // A leaf that ends where it already was is referenced as is; one that moved is rewritten.
        private ulong Place(LeafSub leaf, NibblePath at)
        {
            if (leaf.OriginVersion is { } v)
            {
                if (leaf.OriginPath.Length == at.Length) return v;
                var node = leaf.Node(tree);
                Stale(v, leaf.OriginPath);
                Write(at, node);
                return newVersion;
            }
            Write(at, leaf.Node(tree));
            return newVersion;
        }

        private void Write(NibblePath path, Node node) => _writes[NodeKeys.Node(newVersion, path)] = node;

        private void Stale(ulong version, NibblePath path) => _stale.Add(NodeKeys.Node(version, path));
    }
}
