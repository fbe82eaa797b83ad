// TEMPORARY (replaced by the merkle branch before commit).
using System.Security.Cryptography;
namespace Chain.Core.Merkle;
public static class MerkleTree
{
    public static Hash32 ComputeRoot(IReadOnlyList<ReadOnlyMemory<byte>> leaves)
    {
        if (leaves.Count == 0) return new Hash32(SHA256.HashData(ReadOnlySpan<byte>.Empty));
        return Root(leaves, 0, leaves.Count);
    }
    private static Hash32 Root(IReadOnlyList<ReadOnlyMemory<byte>> l, int start, int n)
    {
        if (n == 1) return new Hash32(SHA256.HashData([0, .. l[start].Span]));
        int k = 1; while (k * 2 < n) k *= 2;
        var a = Root(l, start, k); var b = Root(l, start + k, n - k);
        return new Hash32(SHA256.HashData([1, .. a.Bytes, .. b.Bytes]));
    }
}
