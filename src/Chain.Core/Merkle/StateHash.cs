using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Chain.Core;
using Chain.Core.Hashing;

namespace Chain.Core.Merkle;

/// <summary>
/// The hashes of the state tree (docs/state.md §2). All use the <see cref="HashDomain.State"/> tag followed
/// by one kind byte, so a leaf, an internal node and a value can never collide with each other or with any
/// other protocol object.
/// </summary>
public static class StateHash
{
    public const byte LeafKind = 0x00;
    public const byte InternalKind = 0x01;
    public const byte ValueKind = 0x02;

    /// <summary>The hash of an empty subtree, and the root of the empty tree.</summary>
    public static Hash32 Empty => Hash32.Zero;

    /// <summary>H(tag || 0x02 || value).</summary>
    public static Hash32 Value(ReadOnlySpan<byte> value)
    {
        var tag = DomainHash.Tag(HashDomain.State);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hasher.AppendData(tag);
        hasher.AppendData([ValueKind]);
        hasher.AppendData(value);
        Span<byte> digest = stackalloc byte[Hash32.Size];
        hasher.GetHashAndReset(digest);
        return new Hash32(digest);
    }

    /// <summary>H(tag || 0x00 || key || valueHash).</summary>
    public static Hash32 Leaf(in Hash32 key, in Hash32 valueHash)
    {
        var tag = DomainHash.Tag(HashDomain.State);
        Span<byte> buffer = stackalloc byte[tag.Length + 1 + 2 * Hash32.Size];
        tag.CopyTo(buffer);
        buffer[tag.Length] = LeafKind;
        key.CopyTo(buffer.Slice(tag.Length + 1, Hash32.Size));
        valueHash.CopyTo(buffer.Slice(tag.Length + 1 + Hash32.Size, Hash32.Size));
        return Digest(buffer);
    }

    /// <summary>H(tag || 0x01 || child0 || ... || child15), an empty child contributing <see cref="Empty"/>.</summary>
    public static Hash32 Internal(ReadOnlySpan<Hash32> children)
    {
        if (children.Length != 16) throw new ArgumentException($"an internal node has 16 children, got {children.Length}", nameof(children));
        var tag = DomainHash.Tag(HashDomain.State);
        // One contiguous stack buffer: this is the hot path of every update and every proof check.
        Span<byte> buffer = stackalloc byte[tag.Length + 1 + 16 * Hash32.Size];
        tag.CopyTo(buffer);
        buffer[tag.Length] = InternalKind;
        MemoryMarshal.AsBytes(children).CopyTo(buffer[(tag.Length + 1)..]);
        return Digest(buffer);
    }

    private static Hash32 Digest(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Hash32.Size];
        SHA256.HashData(data, digest);
        return new Hash32(digest);
    }
}
