using System.Buffers.Binary;
using Chain.Core;
using Chain.Core.Hashing;
using Chain.Core.Merkle;
using Chain.Storage;

namespace Chain.Execution;

/// <summary>
/// A simple but real state commitment: the RFC 6962 Merkle root over the leaves
/// <c>key (32 bytes) || SHA-256(value) (32 bytes)</c> in ascending key order. Any change to any key or
/// value changes the root. Every root computation is O(n), fine for tests and small devnets; the
/// Jellyfish tree replaces it in production. Persisted in <see cref="Column.State"/> under
/// <c>"mem/" || key</c> with its version in <see cref="Column.Meta"/>, so a node can restart on it.
/// </summary>
public sealed class InMemoryStateBackend : IStateBackend
{
    private static readonly byte[] Prefix = "mem/"u8.ToArray();

    /// <summary>Meta key holding the committed version (8 bytes, big-endian).</summary>
    public static ReadOnlySpan<byte> VersionKey => "state/mem/version"u8;

    private readonly SortedDictionary<Hash32, byte[]> _values = [];
    private readonly Lock _lock = new();
    private Hash32 _root = MerkleTree.EmptyRoot;

    public ulong? Version { get; private set; }

    public Hash32 Root
    {
        get { lock (_lock) return _root; }
    }

    public int Count
    {
        get { lock (_lock) return _values.Count; }
    }

    /// <summary>Reopens the state persisted in <paramref name="store"/> (empty, version null, when none is there).</summary>
    public static InMemoryStateBackend Load(IKeyValueReader store)
    {
        var backend = new InMemoryStateBackend();
        if (store.Get(Column.Meta, VersionKey) is not { } version) return backend;
        if (version.Length != 8) throw new StoreCorruptedException(Column.Meta, VersionKey, $"state version record is {version.Length} bytes, expected 8");
        foreach (var (key, value) in store.IteratePrefix(Column.State, Prefix))
        {
            if (key.Length != Prefix.Length + Hash32.Size) throw new StoreCorruptedException(Column.State, key, "state key is not prefix + 32 bytes");
            backend._values[new Hash32(key.AsSpan(Prefix.Length))] = value;
        }
        backend.Version = BinaryPrimitives.ReadUInt64BigEndian(version);
        backend._root = ComputeRoot(backend._values);
        return backend;
    }

    /// <summary>A copy of every committed entry (tests diff states with it).</summary>
    internal Dictionary<Hash32, byte[]> Snapshot()
    {
        lock (_lock) return _values.ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    public byte[]? Get(Hash32 key)
    {
        lock (_lock) return _values.TryGetValue(key, out var v) ? (byte[])v.Clone() : null;
    }

    public Hash32 ComputeRoot(IReadOnlyDictionary<Hash32, byte[]?> changes)
    {
        lock (_lock)
        {
            if (changes.Count == 0) return _root;
            var merged = new SortedDictionary<Hash32, byte[]>(_values);
            Apply(merged, changes);
            return ComputeRoot(merged);
        }
    }

    public void Commit(ulong version, IReadOnlyDictionary<Hash32, byte[]?> changes, StoreBatch batch)
    {
        lock (_lock)
        {
            if (Version is { } current && version <= current)
                throw new InvalidOperationException($"state version {version} does not advance the committed version {current}");
            // Sorted so the batch (and so the bytes on disk) do not depend on dictionary order.
            foreach (var (key, value) in changes.OrderBy(c => c.Key))
            {
                var storeKey = Keys.Concat(Prefix, key.Bytes);
                if (value is null) batch.Delete(Column.State, storeKey);
                else batch.Put(Column.State, storeKey, value);
            }
            batch.Put(Column.Meta, VersionKey, Keys.Height(version));
            Apply(_values, changes);
            _root = ComputeRoot(_values);
            Version = version;
        }
    }

    private static void Apply(SortedDictionary<Hash32, byte[]> target, IReadOnlyDictionary<Hash32, byte[]?> changes)
    {
        foreach (var (key, value) in changes)
        {
            if (value is null) target.Remove(key);
            else target[key] = value;
        }
    }

    private static Hash32 ComputeRoot(SortedDictionary<Hash32, byte[]> values)
    {
        var leaves = new Hash32[values.Count];
        Span<byte> leaf = stackalloc byte[2 * Hash32.Size];
        int i = 0;
        foreach (var (key, value) in values)
        {
            key.CopyTo(leaf);
            DomainHash.Sha256(value).CopyTo(leaf[Hash32.Size..]);
            leaves[i++] = MerkleTree.HashLeaf(leaf);
        }
        return MerkleTree.ComputeRootFromLeafHashes(leaves);
    }
}
