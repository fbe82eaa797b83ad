using System.Buffers.Binary;
using System.Numerics;
using Chain.Core;
using Chain.Storage;
using Chain.Core.Merkle;

namespace Chain.State;

/// <summary>A stored tree node. Nodes are immutable: a change writes new nodes under a new version.</summary>
internal abstract class Node
{
    public abstract Hash32 Hash { get; }

    public abstract byte[] Encode();

    // Storage encodings (docs/state.md §5). Not part of consensus, but decoded strictly: a node that does not
    // parse is a damaged store, and guessing would silently change roots.
    public const byte NullTag = 0x00, LeafTag = 0x01, InternalTag = 0x02;

    public static Node Decode(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> storageKey)
    {
        if (bytes.IsEmpty) throw Corrupt(storageKey, "empty node record");
        switch (bytes[0])
        {
            case NullTag:
                if (bytes.Length != 1) throw Corrupt(storageKey, "null node with trailing bytes");
                return NullNode.Instance;
            case LeafTag:
                if (bytes.Length < 1 + Hash32.Size) throw Corrupt(storageKey, "truncated leaf");
                if (bytes.Length - 1 - Hash32.Size > SparseMerkleTree.MaxValueSize) throw Corrupt(storageKey, "leaf value over the size limit");
                return new LeafNode(new Hash32(bytes.Slice(1, Hash32.Size)), bytes[(1 + Hash32.Size)..].ToArray());
            case InternalTag:
            {
                if (bytes.Length < 5) throw Corrupt(storageKey, "truncated internal node");
                ushort present = BinaryPrimitives.ReadUInt16BigEndian(bytes[1..]);
                ushort leaves = BinaryPrimitives.ReadUInt16BigEndian(bytes[3..]);
                int count = BitOperations.PopCount(present);
                if ((leaves & ~present) != 0) throw Corrupt(storageKey, "leaf bit set for an absent child");
                if (count == 0 || (count == 1 && leaves != 0)) throw Corrupt(storageKey, "internal node that path compression forbids");
                if (bytes.Length != 5 + count * (8 + Hash32.Size)) throw Corrupt(storageKey, "internal node of the wrong length");
                var children = new Child?[16];
                int at = 5;
                for (int i = 0; i < 16; i++)
                {
                    if ((present & (1 << i)) == 0) continue;
                    ulong version = BinaryPrimitives.ReadUInt64BigEndian(bytes[at..]);
                    var hash = new Hash32(bytes.Slice(at + 8, Hash32.Size));
                    if (hash == StateHash.Empty) throw Corrupt(storageKey, "child with the empty hash");
                    children[i] = new Child(version, hash, (leaves & (1 << i)) != 0);
                    at += 8 + Hash32.Size;
                }
                return new InternalNode(children);
            }
            default:
                throw Corrupt(storageKey, $"unknown node tag 0x{bytes[0]:x2}");
        }
    }

    private static StoreCorruptedException Corrupt(ReadOnlySpan<byte> key, string detail) => new(Column.State, key, detail);
}

/// <summary>The root of an empty tree (only ever stored at the root path).</summary>
internal sealed class NullNode : Node
{
    public static readonly NullNode Instance = new();

    public override Hash32 Hash => StateHash.Empty;

    public override byte[] Encode() => [NullTag];
}

internal sealed class LeafNode : Node
{
    private Hash32? _hash;
    private Hash32? _valueHash;

    public LeafNode(Hash32 key, byte[] value)
    {
        Key = key;
        Value = value;
    }

    public Hash32 Key { get; }
    public byte[] Value { get; }
    public Hash32 ValueHash => _valueHash ??= StateHash.Value(Value);

    public override Hash32 Hash => _hash ??= StateHash.Leaf(Key, ValueHash);

    public override byte[] Encode()
    {
        var bytes = new byte[1 + Hash32.Size + Value.Length];
        bytes[0] = LeafTag;
        Key.CopyTo(bytes.AsSpan(1));
        Value.CopyTo(bytes.AsSpan(1 + Hash32.Size));
        return bytes;
    }
}

/// <summary>A child reference: where the child node is stored (its version; the path is the parent's plus the nibble) and its hash.</summary>
internal readonly record struct Child(ulong Version, Hash32 Hash, bool IsLeaf);

internal sealed class InternalNode : Node
{
    private readonly Child?[] _children;
    private Hash32? _hash;

    public InternalNode(Child?[] children)
    {
        if (children.Length != 16) throw new ArgumentException("an internal node has 16 child slots");
        _children = children;
    }

    public Child? this[int nibble] => _children[nibble];

    public override Hash32 Hash => _hash ??= ComputeHash();

    private Hash32 ComputeHash()
    {
        Span<Hash32> hashes = stackalloc Hash32[16];
        for (int i = 0; i < 16; i++) hashes[i] = _children[i]?.Hash ?? StateHash.Empty;
        return StateHash.Internal(hashes);
    }

    public override byte[] Encode()
    {
        ushort present = 0, leaves = 0;
        int count = 0;
        for (int i = 0; i < 16; i++)
        {
            if (_children[i] is not { } c) continue;
            present |= (ushort)(1 << i);
            if (c.IsLeaf) leaves |= (ushort)(1 << i);
            count++;
        }
        var bytes = new byte[5 + count * (8 + Hash32.Size)];
        bytes[0] = InternalTag;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(1), present);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(3), leaves);
        int at = 5;
        for (int i = 0; i < 16; i++)
        {
            if (_children[i] is not { } c) continue;
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(at), c.Version);
            c.Hash.CopyTo(bytes.AsSpan(at + 8));
            at += 8 + Hash32.Size;
        }
        return bytes;
    }
}

/// <summary>Keys of the <see cref="Column.State"/> column used by the tree (docs/state.md §5).</summary>
internal static class NodeKeys
{
    /// <summary>Prefix of node records: 'n' || version (8, big-endian) || nibble count (1) || packed nibbles.</summary>
    public const byte NodePrefix = (byte)'n';

    /// <summary>Prefix of the stale-node index: 's' || stale-since version (8, big-endian) || node key.</summary>
    public const byte StalePrefix = (byte)'s';

    public static byte[] Node(ulong version, in NibblePath path)
    {
        var packed = path.Packed;
        var key = new byte[1 + 8 + 1 + packed.Length];
        key[0] = NodePrefix;
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(1), version);
        key[9] = (byte)path.Length;
        packed.CopyTo(key.AsSpan(10));
        return key;
    }

    public static byte[] Stale(ulong staleSince, ReadOnlySpan<byte> nodeKey)
    {
        var key = new byte[1 + 8 + nodeKey.Length];
        key[0] = StalePrefix;
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(1), staleSince);
        nodeKey.CopyTo(key.AsSpan(9));
        return key;
    }

    public static byte[] StaleBound(ulong staleSince)
    {
        var key = new byte[9];
        key[0] = StalePrefix;
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(1), staleSince);
        return key;
    }
}

/// <summary>Equality over byte arrays by content, for the pending-node overlay.</summary>
internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
