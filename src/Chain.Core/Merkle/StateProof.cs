using System.Numerics;
using Chain.Core;
using Chain.Core.Codec;
using MessagePack;

namespace Chain.Core.Merkle;

/// <summary>
/// A proof that a key has a given value, or no value, under a state root (docs/state.md §4). It lists, from the
/// root down, the siblings of the key's path at each internal node (a 16-bit map of which of the 16 slots are
/// non-empty, then their hashes in slot order; the path's own slot is never listed), and ends at either
/// an empty slot or a leaf. Canonical encoding:
/// <c>[[[bitmap: uint16, [Hash32 ...]] ...], nil | [leafKey: Hash32, leafValueHash: Hash32]]</c>.
/// </summary>
public sealed class StateProof : CanonicalObject<StateProof>, ICanonicalObject<StateProof>
{
    /// <summary>One internal node on the path: which sibling slots are occupied and their hashes, in slot order.</summary>
    public sealed record Level
    {
        public Level(ushort bitmap, Hash32[] siblings)
        {
            ArgumentNullException.ThrowIfNull(siblings);
            if (BitOperations.PopCount(bitmap) != siblings.Length)
                throw new ArgumentException($"bitmap 0x{bitmap:x4} marks {BitOperations.PopCount(bitmap)} siblings, {siblings.Length} given");
            if (siblings.Length > 15) throw new ArgumentException("at most 15 siblings: the path's own slot is not listed");
            if (siblings.Any(h => h == StateHash.Empty)) throw new ArgumentException("an empty sibling is marked absent, not listed");
            Bitmap = bitmap;
            Siblings = [.. siblings];
        }

        public ushort Bitmap { get; }
        public IReadOnlyList<Hash32> Siblings { get; }
    }

    /// <summary>The leaf the path ends at: the key itself (inclusion) or another key (non-inclusion).</summary>
    public readonly record struct LeafRecord(Hash32 Key, Hash32 ValueHash);

    /// <summary>The deepest a path goes: 64 nibbles of a 256-bit key (the tree's <c>MaxDepth</c>).</summary>
    public const int MaxDepth = 64;

    private readonly Level[] _levels;

    /// <summary>Nibble <paramref name="index"/> of a key, high nibble of each byte first (docs/state.md §1).</summary>
    private static int Nibble(in Hash32 key, int index) =>
        (index & 1) == 0 ? key.Bytes[index >> 1] >> 4 : key.Bytes[index >> 1] & 0x0f;


    public StateProof(IReadOnlyCollection<Level> levels, LeafRecord? leaf)
    {
        ArgumentNullException.ThrowIfNull(levels);
        if (levels.Count > MaxDepth)
            throw new ArgumentException($"a proof has at most {MaxDepth} levels, got {levels.Count}");
        _levels = [.. levels];
        Leaf = leaf;
    }

    /// <summary>Internal nodes on the key's path, root first.</summary>
    public IReadOnlyList<Level> Levels => _levels;

    /// <summary>The leaf at the end of the path, or null when the path ends in an empty slot.</summary>
    public LeafRecord? Leaf { get; }

    /// <summary>
    /// True when, under <paramref name="root"/>, <paramref name="key"/> holds <paramref name="expectedValue"/>
    /// (inclusion), or, for a null <paramref name="expectedValue"/>, holds nothing (non-inclusion).
    /// </summary>
    public bool Verify(Hash32 root, Hash32 key, byte[]? expectedValue) =>
        VerifyValueHash(root, key, expectedValue is null ? null : StateHash.Value(expectedValue));

    /// <summary>As <see cref="Verify(Hash32, Hash32, byte[])"/>, given the value's hash (null: absent).</summary>
    public bool VerifyValueHash(Hash32 root, Hash32 key, Hash32? expectedValueHash)
    {
        int depth = _levels.Length;
        if (depth > MaxDepth) return false;
        Hash32 current;
        if (Leaf is { } leaf)
        {
            // The leaf must sit on the key's path, as every leaf of a well-formed tree sits on its own key's path.
            for (int i = 0; i < depth; i++)
                if (Nibble(leaf.Key, i) != Nibble(key, i)) return false;
            if (expectedValueHash is { } expected)
            {
                if (leaf.Key != key || leaf.ValueHash != expected) return false;
            }
            else if (leaf.Key == key)
            {
                return false;
            }
            current = StateHash.Leaf(leaf.Key, leaf.ValueHash);
        }
        else
        {
            if (expectedValueHash is not null) return false;
            current = StateHash.Empty;
        }

        Span<Hash32> children = stackalloc Hash32[16];
        for (int level = depth - 1; level >= 0; level--)
        {
            int nibble = Nibble(key, level);
            var l = _levels[level];
            if ((l.Bitmap & (1 << nibble)) != 0) return false;
            int next = 0;
            for (int i = 0; i < 16; i++)
                children[i] = i == nibble ? current : (l.Bitmap & (1 << i)) != 0 ? l.Siblings[next++] : StateHash.Empty;
            current = StateHash.Internal(children);
        }
        return current == root;
    }

    /// <summary>
    /// Standalone verifier over the encoded proof: strict canonical decoding, then <see cref="Verify(Hash32, Hash32, byte[])"/>.
    /// Malformed or oversized encodings verify as false.
    /// </summary>
    public static bool Verify(ReadOnlyMemory<byte> encodedProof, Hash32 root, Hash32 key, byte[]? expectedValue) =>
        Canonical.TryDecode<StateProof>(encodedProof, out var proof, out _) && proof!.Verify(root, key, expectedValue);

    public static string KindName => "state proof";

    // Root array + levels array + 64 full levels (array, bitmap, sibling array, 15 hashes) + a leaf record.
    public static int MaxEncodedSize => 1 + 3 + MaxDepth * (1 + 3 + 1 + 15 * (2 + Hash32.Size)) + 1 + 2 * (2 + Hash32.Size);

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.WriteArrayHeader(_levels.Length);
        foreach (var level in _levels)
        {
            writer.WriteArrayHeader(2);
            writer.Write(level.Bitmap);
            writer.WriteArrayHeader(level.Siblings.Count);
            foreach (var h in level.Siblings) writer.Write(h);
        }
        if (Leaf is { } leaf)
        {
            writer.WriteArrayHeader(2);
            writer.Write(leaf.Key);
            writer.Write(leaf.ValueHash);
        }
        else
        {
            writer.WriteNil();
        }
    }

    public static StateProof ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "state proof");
        int count = reader.ReadArrayCount("proof levels", MaxDepth);
        var levels = new Level[count];
        for (int i = 0; i < count; i++)
        {
            reader.ReadArrayHeader(2, "proof level");
            long at = reader.Offset;
            ushort bitmap = reader.ReadUInt16("sibling bitmap");
            int marked = BitOperations.PopCount(bitmap);
            if (marked > 15)
                throw reader.Error(DecodeError.InvalidValue, "sibling bitmap marks all 16 slots, but the path's own slot is never a sibling", at);
            at = reader.Offset;
            int n = reader.ReadArrayCount("siblings", 15);
            if (n != marked)
                throw reader.Error(DecodeError.WrongArity, $"sibling bitmap 0x{bitmap:x4} marks {marked} siblings but {n} are listed", at);
            var siblings = new Hash32[n];
            for (int j = 0; j < n; j++)
            {
                at = reader.Offset;
                siblings[j] = reader.ReadHash32("sibling hash");
                if (siblings[j] == StateHash.Empty)
                    throw reader.Error(DecodeError.NonCanonical, "an empty sibling must be left out of the bitmap, not listed", at);
            }
            levels[i] = new Level(bitmap, siblings);
        }
        LeafRecord? leaf = null;
        if (!reader.TryReadNil())
        {
            reader.ReadArrayHeader(2, "proof leaf");
            var key = reader.ReadHash32("leaf key");
            var valueHash = reader.ReadHash32("leaf value hash");
            leaf = new LeafRecord(key, valueHash);
        }
        return new StateProof(levels, leaf);
    }
}
