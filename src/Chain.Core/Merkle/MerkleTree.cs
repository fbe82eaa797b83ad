using System.Buffers;
using System.Security.Cryptography;

namespace Chain.Core.Merkle;

/// <summary>
/// Binary Merkle trees exactly as RFC 6962 / RFC 9162 §2.1 define them, so any third party can
/// recompute roots and check proofs with a plain SHA-256:
/// <list type="bullet">
/// <item>empty tree: SHA-256 of the empty string;</item>
/// <item>leaf: SHA-256(0x00 || leaf bytes);</item>
/// <item>node: SHA-256(0x01 || left || right), where the left subtree holds the largest power of two
/// strictly smaller than the number of leaves.</item>
/// </list>
/// The 0x00/0x01 prefixes keep a leaf from ever being mistaken for an inner node (second-preimage
/// resistance). See docs/merkle.md.
/// </summary>
public static class MerkleTree
{
    /// <summary>A proof never has more steps than a tree of 2^64 leaves is deep.</summary>
    public const int MaxProofLength = 64;

    /// <summary>Root of the tree with no leaves: SHA-256("").</summary>
    public static Hash32 EmptyRoot { get; } = new(SHA256.HashData(ReadOnlySpan<byte>.Empty));

    public static Hash32 HashLeaf(ReadOnlySpan<byte> leaf)
    {
        Span<byte> digest = stackalloc byte[Hash32.Size];
        if (leaf.Length <= 256)
        {
            Span<byte> buffer = stackalloc byte[leaf.Length + 1];
            buffer[0] = 0x00;
            leaf.CopyTo(buffer[1..]);
            SHA256.HashData(buffer, digest);
        }
        else
        {
            // Large leaves (transactions carrying models) are streamed rather than copied.
            using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hasher.AppendData([0x00]);
            hasher.AppendData(leaf);
            hasher.GetHashAndReset(digest);
        }
        return new Hash32(digest);
    }

    public static Hash32 HashNode(in Hash32 left, in Hash32 right)
    {
        Span<byte> buffer = stackalloc byte[1 + 2 * Hash32.Size];
        buffer[0] = 0x01;
        left.CopyTo(buffer.Slice(1, Hash32.Size));
        right.CopyTo(buffer.Slice(1 + Hash32.Size));
        Span<byte> digest = stackalloc byte[Hash32.Size];
        SHA256.HashData(buffer, digest);
        return new Hash32(digest);
    }

    /// <summary>The root over the given leaves (their bytes, which this hashes as leaves).</summary>
    public static Hash32 ComputeRoot(IReadOnlyList<ReadOnlyMemory<byte>> leaves)
    {
        if (leaves.Count == 0) return EmptyRoot;
        var hashes = ArrayPool<Hash32>.Shared.Rent(leaves.Count);
        try
        {
            for (int i = 0; i < leaves.Count; i++) hashes[i] = HashLeaf(leaves[i].Span);
            return ReduceInPlace(hashes.AsSpan(0, leaves.Count));
        }
        finally
        {
            ArrayPool<Hash32>.Shared.Return(hashes);
        }
    }

    /// <summary>The root over leaves given by their leaf hashes (already 0x00-prefixed and hashed).</summary>
    public static Hash32 ComputeRootFromLeafHashes(ReadOnlySpan<Hash32> leafHashes)
    {
        if (leafHashes.IsEmpty) return EmptyRoot;
        var scratch = ArrayPool<Hash32>.Shared.Rent(leafHashes.Length);
        try
        {
            leafHashes.CopyTo(scratch);
            return ReduceInPlace(scratch.AsSpan(0, leafHashes.Length));
        }
        finally
        {
            ArrayPool<Hash32>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Level-by-level reduction: pair neighbours, carry an unpaired last node up unchanged. This builds
    /// the same tree as RFC 6962's largest-power-of-two split (the left subtrees are always complete),
    /// without recursion and in place.
    /// </summary>
    private static Hash32 ReduceInPlace(Span<Hash32> level)
    {
        int count = level.Length;
        while (count > 1)
        {
            int next = 0;
            for (int i = 0; i + 1 < count; i += 2) level[next++] = HashNode(level[i], level[i + 1]);
            if ((count & 1) == 1) level[next++] = level[count - 1];
            count = next;
        }
        return level[0];
    }

    /// <summary>The audit path proving that leaf <paramref name="index"/> is in the tree over <paramref name="leaves"/>.</summary>
    public static InclusionProof CreateProof(IReadOnlyList<ReadOnlyMemory<byte>> leaves, int index)
    {
        var hashes = new Hash32[leaves.Count];
        for (int i = 0; i < hashes.Length; i++) hashes[i] = HashLeaf(leaves[i].Span);
        return CreateProofFromLeafHashes(hashes, index);
    }

    public static InclusionProof CreateProofFromLeafHashes(ReadOnlySpan<Hash32> leafHashes, int index)
    {
        if ((uint)index >= (uint)leafHashes.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"leaf {index} is outside a tree of {leafHashes.Length} leaves");
        // Walk the same level-by-level reduction as the root, recording the sibling of the node that
        // holds our leaf at each level (none when that node is the unpaired last one).
        var level = leafHashes.ToArray();
        var path = new List<Hash32>();
        int count = level.Length, position = index;
        while (count > 1)
        {
            int sibling = position ^ 1;
            if (sibling < count) path.Add(level[sibling]);
            int next = 0;
            for (int i = 0; i + 1 < count; i += 2) level[next++] = HashNode(level[i], level[i + 1]);
            if ((count & 1) == 1) level[next++] = level[count - 1];
            count = next;
            position >>= 1;
        }
        return new InclusionProof((ulong)index, (ulong)leafHashes.Length, path);
    }
}
