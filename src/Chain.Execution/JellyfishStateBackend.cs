using System.Buffers.Binary;
using Chain.Core;
using Chain.State;
using Chain.Storage;
using Chain.Core.Merkle;

namespace Chain.Execution;

/// <summary>
/// The production state backend: the versioned sparse Merkle tree of <see cref="SparseMerkleTree"/>
/// (docs/state.md), one tree version per height, so every header's state root is provable with
/// inclusion and non-inclusion proofs. The committed version is recorded in <see cref="Column.Meta"/>
/// in the same batch as the tree nodes and the block, so a restart finds exactly the state of the
/// last committed block.
/// </summary>
public sealed class JellyfishStateBackend : IStateBackend
{
    /// <summary>Meta key holding the committed tree version (8 bytes, big-endian).</summary>
    public static ReadOnlySpan<byte> VersionKey => "state/jmt/version"u8;

    private readonly IKeyValueStore _store;
    private readonly Lock _lock = new();
    private SparseMerkleTree _tree;
    private Hash32 _root = StateHash.Empty;

    private JellyfishStateBackend(IKeyValueStore store)
    {
        _store = store;
        _tree = new SparseMerkleTree(store);
    }

    /// <summary>Opens the tree in <paramref name="store"/> at its committed version (version null when nothing is committed).</summary>
    public static JellyfishStateBackend Open(IKeyValueStore store)
    {
        var backend = new JellyfishStateBackend(store);
        if (store.Get(Column.Meta, VersionKey) is { } raw)
        {
            if (raw.Length != 8) throw new StoreCorruptedException(Column.Meta, VersionKey, $"state version record is {raw.Length} bytes, expected 8");
            var version = BinaryPrimitives.ReadUInt64BigEndian(raw);
            if (!backend._tree.HasVersion(version))
                throw new StoreCorruptedException(Column.Meta, VersionKey, $"state version {version} is recorded but its tree root is missing");
            backend.Version = version;
            backend._root = backend._tree.Root(version);
        }
        return backend;
    }

    public ulong? Version { get; private set; }

    public Hash32 Root
    {
        get { lock (_lock) return _root; }
    }

    public byte[]? Get(Hash32 key)
    {
        lock (_lock) return Version is { } v ? _tree.Get(key, v) : null;
    }

    /// <summary>A proof for <paramref name="key"/> against the committed root (inclusion, or absence when the key is unset).</summary>
    public StateProof Prove(Hash32 key)
    {
        lock (_lock)
            return Version is { } v ? _tree.Prove(key, v) : throw new InvalidOperationException("no state has been committed yet");
    }

    public Hash32 ComputeRoot(IReadOnlyDictionary<Hash32, byte[]?> changes)
    {
        lock (_lock)
        {
            if (changes.Count == 0) return _root;
            // A speculative version above the committed one: computed in memory, never written.
            return _tree.Apply(Version, NextVersion(), changes.Select(c => (c.Key, c.Value))).Root;
        }
    }

    public void Commit(ulong version, IReadOnlyDictionary<Hash32, byte[]?> changes, StoreBatch batch)
    {
        lock (_lock)
        {
            if (Version is { } current && version <= current)
                throw new InvalidOperationException($"state version {version} is not above the committed version {current}");
            var update = _tree.Apply(Version, version, changes.Select(c => (c.Key, c.Value)));
            update.WriteTo(batch);
            Span<byte> raw = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(raw, version);
            batch.Put(Column.Meta, VersionKey, raw);
            // Reads see the new version at once; until the caller writes the batch they come from the update.
            _tree = new SparseMerkleTree(_store).With(update);
            Version = version;
            _root = update.Root;
        }
    }

    private ulong NextVersion() => Version is { } v ? v + 1 : 0;
}
