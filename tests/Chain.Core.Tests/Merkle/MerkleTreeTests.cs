using System.Security.Cryptography;
using Chain.Core.Codec;
using Chain.Core.Merkle;

namespace Chain.Core.Tests.Merkle;

public class MerkleTreeTests
{
    // The RFC 6962 test leaves used by Certificate Transparency implementations, with their roots
    // (cross-checked with an independent Python implementation of RFC 6962 §2.1).
    private static readonly byte[][] RfcLeaves =
        new[] { "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f" }
        .Select(Convert.FromHexString).ToArray();

    private static readonly string[] RfcRoots =
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    [Fact]
    public void Empty_tree_root_is_sha256_of_nothing() =>
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", MerkleTree.EmptyRoot.ToString());

    [Fact]
    public void Roots_match_rfc6962_known_answers()
    {
        for (int n = 1; n <= RfcLeaves.Length; n++)
            Assert.Equal(RfcRoots[n - 1], MerkleTree.ComputeRoot(Leaves(RfcLeaves.Take(n))).ToString());
    }

    [Fact]
    public void Root_proofs_and_paths_match_the_recursive_definition_for_1_to_257_leaves()
    {
        var random = new Random(6962);
        for (int n = 1; n <= 257; n++)
        {
            var leaves = RandomLeaves(random, n);
            var expectedRoot = ReferenceRoot(leaves, 0, n);
            Assert.Equal(expectedRoot, MerkleTree.ComputeRoot(leaves));
            var leafHashes = leaves.Select(l => MerkleTree.HashLeaf(l.Span)).ToArray();
            Assert.Equal(expectedRoot, MerkleTree.ComputeRootFromLeafHashes(leafHashes));
            for (int i = 0; i < n; i++)
            {
                var proof = MerkleTree.CreateProofFromLeafHashes(leafHashes, i);
                Assert.Equal(ReferencePath(leaves, i, 0, n), proof.Path);
                Assert.True(proof.Verify(expectedRoot, leaves[i].Span), $"n={n} i={i}");
                // A proof is bound to its leaf, index, size and root.
                Assert.False(proof.Verify(expectedRoot, leaves[(i + 1) % n].Span) && n > 1 && !leaves[(i + 1) % n].Span.SequenceEqual(leaves[i].Span));
                Assert.False(new InclusionProof((ulong)((i + 1) % n), (ulong)n, proof.Path.ToArray()).Verify(expectedRoot, leaves[i].Span) && n > 1);
                Assert.False(new InclusionProof((ulong)i, (ulong)i, proof.Path.ToArray()).Verify(expectedRoot, leaves[i].Span));
            }
        }
    }

    [Fact]
    public void Any_flipped_bit_in_path_leaf_or_root_fails_verification()
    {
        var random = new Random(9162);
        foreach (int n in new[] { 1, 2, 3, 5, 8, 13, 64, 100, 257 })
        {
            var leaves = RandomLeaves(random, n);
            var root = MerkleTree.ComputeRoot(leaves);
            foreach (int i in new[] { 0, n / 2, n - 1 }.Distinct())
            {
                var proof = MerkleTree.CreateProof(leaves, i);
                var leaf = leaves[i].ToArray();
                // Every bit of every path hash.
                for (int step = 0; step < proof.Path.Count; step++)
                {
                    for (int bit = 0; bit < 256; bit++)
                    {
                        var path = proof.Path.ToArray();
                        path[step] = FlipBit(path[step], bit);
                        Assert.False(new InclusionProof(proof.LeafIndex, proof.TreeSize, path).Verify(root, leaf), $"n={n} i={i} step={step} bit={bit}");
                    }
                }
                // Every bit of the leaf and of the root.
                for (int bit = 0; bit < leaf.Length * 8; bit++)
                {
                    var tampered = (byte[])leaf.Clone();
                    tampered[bit / 8] ^= (byte)(1 << (bit % 8));
                    Assert.False(proof.Verify(root, tampered));
                }
                for (int bit = 0; bit < 256; bit++) Assert.False(proof.Verify(FlipBit(root, bit), leaf));
                // Dropping or adding a step fails too.
                if (proof.Path.Count > 0)
                    Assert.False(new InclusionProof(proof.LeafIndex, proof.TreeSize, proof.Path.Take(proof.Path.Count - 1).ToArray()).Verify(root, leaf));
                Assert.False(new InclusionProof(proof.LeafIndex, proof.TreeSize, [.. proof.Path, root]).Verify(root, leaf));
            }
        }
    }

    [Fact]
    public void Leaf_and_node_hashes_are_domain_separated()
    {
        // A 64-byte leaf equal to two child hashes must not hash like the inner node over them.
        var a = MerkleTree.HashLeaf([1]);
        var b = MerkleTree.HashLeaf([2]);
        byte[] concatenated = [.. a.Bytes, .. b.Bytes];
        Assert.NotEqual(MerkleTree.HashNode(a, b), MerkleTree.HashLeaf(concatenated));
        Assert.Equal(new Hash32(SHA256.HashData([0x00, 7])), MerkleTree.HashLeaf([7]));
    }

    [Fact]
    public void Large_leaves_hash_like_small_ones()
    {
        var big = new byte[10_000];
        new Random(1).NextBytes(big);
        Assert.Equal(new Hash32(SHA256.HashData([0x00, .. big])), MerkleTree.HashLeaf(big));
    }

    [Fact]
    public void Proof_round_trips_canonically_and_refuses_bad_encodings()
    {
        var leaves = RandomLeaves(new Random(3), 11);
        var proof = MerkleTree.CreateProof(leaves, 6);
        var bytes = Canonical.Encode(proof);
        var back = Canonical.Decode<InclusionProof>(bytes);
        Assert.Equal(proof, back);
        Assert.True(back.Verify(MerkleTree.ComputeRoot(leaves), leaves[6].Span));

        var bad = new InclusionProof(11, 11, proof.Path.ToArray());
        var ex = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<InclusionProof>(Canonical.Encode(bad)));
        Assert.Equal(DecodeError.InvalidValue, ex.Error);
        Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<InclusionProof>(bytes.Append((byte)0).ToArray()));
        Assert.Throws<ArgumentException>(() => new InclusionProof(0, 1, new Hash32[65]));
        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleTree.CreateProof(leaves, 11));
    }

    private static Hash32 FlipBit(Hash32 hash, int bit)
    {
        var bytes = hash.ToArray();
        bytes[bit / 8] ^= (byte)(1 << (bit % 8));
        return new Hash32(bytes);
    }

    private static List<ReadOnlyMemory<byte>> Leaves(IEnumerable<byte[]> leaves) => leaves.Select(l => new ReadOnlyMemory<byte>(l)).ToList();

    private static List<ReadOnlyMemory<byte>> RandomLeaves(Random random, int n) =>
        Enumerable.Range(0, n).Select(_ =>
        {
            var leaf = new byte[random.Next(8, 40)]; // long enough that two leaves never collide
            random.NextBytes(leaf);
            return (ReadOnlyMemory<byte>)leaf;
        }).ToList();

    // RFC 6962 §2.1 MTH and §2.1.1 PATH, written recursively as the RFC states them.
    private static int Split(int n)
    {
        int k = 1;
        while (k * 2 < n) k *= 2;
        return k;
    }

    private static Hash32 ReferenceRoot(IReadOnlyList<ReadOnlyMemory<byte>> d, int start, int n)
    {
        if (n == 1) return new Hash32(SHA256.HashData([0x00, .. d[start].Span]));
        int k = Split(n);
        return new Hash32(SHA256.HashData([0x01, .. ReferenceRoot(d, start, k).Bytes, .. ReferenceRoot(d, start + k, n - k).Bytes]));
    }

    private static List<Hash32> ReferencePath(IReadOnlyList<ReadOnlyMemory<byte>> d, int m, int start, int n)
    {
        if (n == 1) return [];
        int k = Split(n);
        if (m < k) return [.. ReferencePath(d, m, start, k), ReferenceRoot(d, start + k, n - k)];
        return [.. ReferencePath(d, m - k, start + k, n - k), ReferenceRoot(d, start, k)];
    }
}
