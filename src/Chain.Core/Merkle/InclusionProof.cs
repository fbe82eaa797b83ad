using Chain.Core.Codec;
using MessagePack;

namespace Chain.Core.Merkle;

/// <summary>
/// An RFC 9162 §2.1.3 inclusion proof: the leaf's index, the tree size, and the audit path (sibling
/// hashes from the leaf upwards). Canonical encoding: [leafIndex: uint, treeSize: uint, [Hash32 ...]].
/// </summary>
public sealed class InclusionProof : CanonicalObject<InclusionProof>, ICanonicalObject<InclusionProof>
{
    private readonly Hash32[] _path;

    public InclusionProof(ulong leafIndex, ulong treeSize, IReadOnlyCollection<Hash32> path)
    {
        if (path.Count > MerkleTree.MaxProofLength)
            throw new ArgumentException($"a proof has at most {MerkleTree.MaxProofLength} steps, got {path.Count}");
        LeafIndex = leafIndex;
        TreeSize = treeSize;
        _path = [.. path];
    }

    public ulong LeafIndex { get; }
    public ulong TreeSize { get; }
    public IReadOnlyList<Hash32> Path => _path;

    /// <summary>True when <paramref name="leaf"/> (raw leaf bytes) is at <see cref="LeafIndex"/> of the tree with <paramref name="root"/>.</summary>
    public bool Verify(in Hash32 root, ReadOnlySpan<byte> leaf) => VerifyLeafHash(root, MerkleTree.HashLeaf(leaf));

    /// <summary>The RFC 9162 §2.1.3.2 verification algorithm, step for step.</summary>
    public bool VerifyLeafHash(in Hash32 root, in Hash32 leafHash)
    {
        if (LeafIndex >= TreeSize) return false;
        ulong fn = LeafIndex, sn = TreeSize - 1;
        var r = leafHash;
        foreach (var p in _path)
        {
            if (sn == 0) return false;
            if ((fn & 1) == 1 || fn == sn)
            {
                r = MerkleTree.HashNode(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = MerkleTree.HashNode(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }

    public static string KindName => "inclusion proof";

    public static int MaxEncodedSize => 32 + MerkleTree.MaxProofLength * (Hash32.Size + 2);

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(LeafIndex);
        writer.Write(TreeSize);
        writer.WriteArrayHeader(_path.Length);
        foreach (var h in _path) writer.Write(h);
    }

    public static InclusionProof ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "inclusion proof");
        var index = reader.ReadUInt64("leaf index");
        var size = reader.ReadUInt64("tree size");
        if (index >= size)
            throw reader.Error(DecodeError.InvalidValue, $"leaf index {index} is not below tree size {size}");
        var count = reader.ReadArrayCount("audit path", MerkleTree.MaxProofLength);
        var path = new Hash32[count];
        for (int i = 0; i < count; i++) path[i] = reader.ReadHash32("path hash");
        return new InclusionProof(index, size, path);
    }
}
