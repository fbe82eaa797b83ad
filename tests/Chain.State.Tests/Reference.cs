using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.State;
using Chain.Storage;

namespace Chain.State.Tests;

/// <summary>
/// An independent reading of docs/state.md: the root as a recursive definition over the sorted key set,
/// with the hashes spelled out from the spec (tag bytes, kind bytes) rather than taken from Chain.State.
/// </summary>
internal static class Reference
{
    private static readonly byte[] Tag = [.. new[] { (byte)"chain/v1/state".Length }, .. Encoding.ASCII.GetBytes("chain/v1/state")];

    private static Hash32 H(params byte[][] parts)
    {
        var all = new List<byte>(Tag);
        foreach (var p in parts) all.AddRange(p);
        return new Hash32(SHA256.HashData(all.ToArray()));
    }

    public static Hash32 ValueHash(byte[] value) => H([0x02], value);

    public static Hash32 LeafHash(Hash32 key, byte[] value) => H([0x00], key.ToArray(), ValueHash(value).ToArray());

    public static Hash32 Root(IReadOnlyDictionary<Hash32, byte[]> state) =>
        Subtree(state.OrderBy(e => e.Key).ToList(), 0);

    private static int Nibble(Hash32 key, int depth)
    {
        byte b = key.Bytes[depth / 2];
        return depth % 2 == 0 ? b >> 4 : b & 15;
    }

    // Empty: zero. One key: its leaf, wherever it is (path compression). More: split on the next nibble.
    private static Hash32 Subtree(List<KeyValuePair<Hash32, byte[]>> entries, int depth)
    {
        if (entries.Count == 0) return Hash32.Zero;
        if (entries.Count == 1) return LeafHash(entries[0].Key, entries[0].Value);
        var children = new List<byte[]> { new byte[] { 0x01 } };
        for (int n = 0; n < 16; n++)
            children.Add(Subtree(entries.Where(e => Nibble(e.Key, depth) == n).ToList(), depth + 1).ToArray());
        return H([.. children]);
    }
}

/// <summary>Seeded generators. Keys are drawn so that many share long prefixes, exercising deep paths and collapses.</summary>
internal sealed class Gen(int seed)
{
    private readonly Random _random = new(seed);

    public Random Random => _random;

    public Hash32 RandomKey()
    {
        var bytes = new byte[32];
        _random.NextBytes(bytes);
        return new Hash32(bytes);
    }

    /// <summary>A fresh key, or (often) a near neighbour of one in <paramref name="existing"/>: same first k nibbles.</summary>
    public Hash32 Key(IReadOnlyList<Hash32> existing)
    {
        if (existing.Count == 0 || _random.Next(3) == 0) return RandomKey();
        var bytes = existing[_random.Next(existing.Count)].ToArray();
        int keepNibbles = _random.Next(64);
        var fresh = RandomKey().ToArray();
        for (int i = keepNibbles; i < 64; i++)
        {
            int shift = i % 2 == 0 ? 4 : 0;
            bytes[i / 2] = (byte)((bytes[i / 2] & ~(0xf << shift)) | (fresh[i / 2] & (0xf << shift)));
        }
        return new Hash32(bytes);
    }

    public byte[] Value()
    {
        var v = new byte[_random.Next(0, 40)];
        _random.NextBytes(v);
        return v;
    }

    /// <summary>A batch of inserts, updates, deletes of present keys and deletes of absent keys, over <paramref name="model"/>.</summary>
    public List<(Hash32 Key, byte[]? Value)> Batch(Dictionary<Hash32, byte[]> model, int size)
    {
        var keys = model.Keys.ToList();
        var batch = new Dictionary<Hash32, byte[]?>();
        for (int i = 0; i < size; i++)
        {
            int kind = _random.Next(10);
            Hash32 key = kind < 5 || keys.Count == 0 ? Key(keys) : keys[_random.Next(keys.Count)];
            byte[]? value = kind is 8 or 9 ? null : Value();
            batch[key] = value;
        }
        return batch.Select(e => (e.Key, e.Value)).ToList();
    }

    public static void ApplyToModel(Dictionary<Hash32, byte[]> model, IEnumerable<(Hash32 Key, byte[]? Value)> batch)
    {
        foreach (var (k, v) in batch)
        {
            if (v is null) model.Remove(k);
            else model[k] = v;
        }
    }
}

internal static class TreeExtensions
{
    /// <summary>Applies and commits one version, as a block commit would.</summary>
    public static StateUpdate Commit(this IKeyValueStore store, ulong? baseVersion, ulong version, IEnumerable<(Hash32 Key, byte[]? Value)> changes, bool sync = false)
    {
        var update = new SparseMerkleTree(store).Apply(baseVersion, version, changes);
        var batch = new StoreBatch();
        update.WriteTo(batch);
        store.Write(batch, sync);
        return update;
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "chain-state-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
