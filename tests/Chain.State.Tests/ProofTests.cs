using Chain.Core;
using Chain.Core.Codec;
using Chain.Storage;
using MessagePack;
using Chain.Core.Merkle;

namespace Chain.State.Tests;

public class ProofTests
{
    public static TheoryData<int> Seeds => [1, 2, 3, 4, 5];

    private static (InMemoryStore Store, SparseMerkleTree Tree, Dictionary<Hash32, byte[]> Model, Hash32 Root) Build(int seed, int size)
    {
        var gen = new Gen(seed);
        var store = new InMemoryStore();
        var model = new Dictionary<Hash32, byte[]>();
        var batch = gen.Batch(model, size);
        Gen.ApplyToModel(model, batch);
        var root = store.Commit(null, 1, batch).Root;
        return (store, new SparseMerkleTree(store), model, root);
    }

    [Theory, MemberData(nameof(Seeds))]
    public void InclusionAndNonInclusionProofsVerify(int seed)
    {
        var (store, tree, model, root) = Build(seed, 300);
        using var storeScope = store;
        var gen = new Gen(seed + 1000);
        foreach (var (k, v) in model)
        {
            var proof = tree.Prove(k, 1);
            Assert.Equal(k, proof.Leaf?.Key);
            Assert.True(proof.Verify(root, k, v));
            Assert.False(proof.Verify(root, k, null));
            Assert.False(proof.Verify(root, k, [.. v, 0]));
            // It survives the wire.
            var decoded = Canonical.Decode<StateProof>(proof.Encoded);
            Assert.True(decoded.Verify(root, k, v));
        }

        int emptySlot = 0, otherLeaf = 0;
        var keys = model.Keys.ToList();
        for (int i = 0; i < 400; i++)
        {
            var k = gen.Key(keys);
            if (model.ContainsKey(k)) continue;
            var proof = tree.Prove(k, 1);
            if (proof.Leaf is null) emptySlot++;
            else otherLeaf++;
            Assert.True(proof.Verify(root, k, null));
            Assert.False(proof.Verify(root, k, gen.Value()));
            Assert.True(StateProof.Verify(proof.Encoded, root, k, null));
        }
        Assert.True(emptySlot > 0, "no empty-slot non-inclusion case was exercised");
        Assert.True(otherLeaf > 0, "no other-leaf non-inclusion case was exercised");
    }

    [Fact]
    public void AnAbsenceProofCannotBeReusedOnceTheKeyIsPresent()
    {
        var (store, tree, model, root) = Build(7, 100);
        using var storeScope = store;
        var gen = new Gen(77);
        var absent = gen.Key(model.Keys.ToList());
        var absence = tree.Prove(absent, 1);
        Assert.True(absence.Verify(root, absent, null));
        var after = store.Commit(1, 2, [(absent, [9])]).Root;
        Assert.False(absence.Verify(after, absent, null));
        var presence = tree.Prove(absent, 2);
        Assert.False(presence.Verify(after, absent, null));
        Assert.True(presence.Verify(after, absent, [9]));
        // And a present key's own proof cannot claim absence of that key.
        var present = model.Keys.First();
        Assert.False(tree.Prove(present, 1).Verify(root, present, null));
    }

    [Theory, InlineData(1), InlineData(2)]
    public void AnySingleFlippedBitFailsInclusion(int seed)
    {
        var (store, tree, model, root) = Build(seed, 60);
        using var storeScope = store;
        foreach (var (key, value) in model.Take(2))
        {
            var encoded = tree.Prove(key, 1).Encoded.ToArray();
            Assert.True(StateProof.Verify(encoded, root, key, value));
            foreach (var flipped in Flips(encoded)) Assert.False(StateProof.Verify(flipped, root, key, value));
            foreach (var flipped in Flips(key.ToArray())) Assert.False(StateProof.Verify(encoded, root, new Hash32(flipped), value));
            foreach (var flipped in Flips(root.ToArray())) Assert.False(StateProof.Verify(encoded, new Hash32(flipped), key, value));
            foreach (var flipped in Flips(value)) Assert.False(StateProof.Verify(encoded, root, key, flipped));
        }
    }

    [Theory, InlineData(1), InlineData(2)]
    public void AnySingleFlippedBitFailsNonInclusion(int seed)
    {
        var (store, tree, model, root) = Build(seed, 60);
        using var storeScope = store;
        var gen = new Gen(seed + 2000);
        bool sawEmpty = false, sawOther = false;
        for (int i = 0; i < 200 && !(sawEmpty && sawOther); i++)
        {
            var key = gen.Key(model.Keys.ToList());
            if (model.ContainsKey(key)) continue;
            var proof = tree.Prove(key, 1);
            if (proof.Leaf is null ? sawEmpty : sawOther) continue;
            if (proof.Leaf is null) sawEmpty = true;
            else sawOther = true;
            var encoded = proof.Encoded.ToArray();
            Assert.True(StateProof.Verify(encoded, root, key, null));
            foreach (var flipped in Flips(encoded)) Assert.False(StateProof.Verify(flipped, root, key, null));
            foreach (var flipped in Flips(root.ToArray())) Assert.False(StateProof.Verify(encoded, new Hash32(flipped), key, null));
        }
        Assert.True(sawEmpty && sawOther);
    }

    private static IEnumerable<byte[]> Flips(byte[] bytes)
    {
        for (int i = 0; i < bytes.Length * 8; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i / 8] ^= (byte)(1 << (i % 8));
            yield return copy;
        }
    }

    [Fact]
    public void TruncatedProofsAreRefused()
    {
        var (store, tree, model, root) = Build(3, 100);
        using var storeScope = store;
        var (key, value) = model.First();
        var encoded = tree.Prove(key, 1).Encoded.ToArray();
        for (int length = 0; length < encoded.Length; length++)
        {
            Assert.False(Canonical.TryDecode<StateProof>(encoded.AsMemory(0, length), out _, out var error));
            Assert.NotNull(error);
            Assert.False(StateProof.Verify(encoded.AsMemory(0, length), root, key, value));
        }
    }

    [Fact]
    public void ExtraItemsAreRefused()
    {
        var (store, tree, model, _) = Build(4, 100);
        using var storeScope = store;
        var key = model.Keys.First();
        var proof = tree.Prove(key, 1);

        var trailing = proof.Encoded.ToArray().Append((byte)0xc0).ToArray();
        Assert.Equal(DecodeError.TrailingBytes, Refuse(trailing).Error);

        // A level with a third item.
        var threeItems = Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(1);
            w.WriteArrayHeader(3);
            w.Write((ushort)1);
            w.WriteArrayHeader(1);
            w.Write(new Gen(1).RandomKey());
            w.WriteNil();
            w.WriteNil();
        });
        Assert.Equal(DecodeError.WrongArity, Refuse(threeItems).Error);

        // More siblings than the bitmap marks.
        var extraSibling = Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(1);
            w.WriteArrayHeader(2);
            w.Write((ushort)1);
            w.WriteArrayHeader(2);
            w.Write(new Gen(1).RandomKey());
            w.Write(new Gen(2).RandomKey());
            w.WriteNil();
        });
        Assert.Equal(DecodeError.WrongArity, Refuse(extraSibling).Error);

        // All sixteen slots marked: the path's own slot cannot be a sibling.
        var full = Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(1);
            w.WriteArrayHeader(2);
            w.Write(ushort.MaxValue);
            w.WriteArrayHeader(16);
            for (int i = 0; i < 16; i++) w.Write(new Gen(i).RandomKey());
            w.WriteNil();
        });
        Assert.Equal(DecodeError.InvalidValue, Refuse(full).Error);

        // An empty sibling listed instead of left out.
        var zeroSibling = Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(1);
            w.WriteArrayHeader(2);
            w.Write((ushort)1);
            w.WriteArrayHeader(1);
            w.Write(Hash32.Zero);
            w.WriteNil();
        });
        Assert.Equal(DecodeError.NonCanonical, Refuse(zeroSibling).Error);

        // A leaf record with an extra field.
        var fatLeaf = Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(0);
            w.WriteArrayHeader(3);
            w.Write(key);
            w.Write(key);
            w.Write(key);
        });
        Assert.Equal(DecodeError.WrongArity, Refuse(fatLeaf).Error);
    }

    [Fact]
    public void TooDeepProofsAreRefused()
    {
        var sibling = new Gen(5).RandomKey();
        byte[] Deep(int levels) => Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.WriteArrayHeader(levels);
            for (int i = 0; i < levels; i++)
            {
                w.WriteArrayHeader(2);
                w.Write((ushort)0x8000);
                w.WriteArrayHeader(1);
                w.Write(sibling);
            }
            w.WriteNil();
        });
        Assert.True(Canonical.TryDecode<StateProof>(Deep(SparseMerkleTree.MaxDepth), out _, out _));
        var error = Refuse(Deep(SparseMerkleTree.MaxDepth + 1));
        Assert.Equal(DecodeError.LimitExceeded, error.Error);
        Assert.Throws<ArgumentException>(() => new StateProof(
            Enumerable.Repeat(new StateProof.Level(0x8000, [sibling]), SparseMerkleTree.MaxDepth + 1).ToArray(), null));
        Assert.Equal(DecodeError.LimitExceeded, Refuse(new byte[StateProof.MaxEncodedSize + 1]).Error);
    }

    [Fact]
    public void TheDeepestRealProofFitsTheLimits()
    {
        // Two keys that differ only in the last nibble put their leaves at depth 64.
        var a = new byte[32];
        new Random(8).NextBytes(a);
        a[31] &= 0xf0;
        var b = (byte[])a.Clone();
        b[31] |= 0x01;
        using var store = new InMemoryStore();
        var root = store.Commit(null, 1, [(new Hash32(a), [1]), (new Hash32(b), [2])]).Root;
        var proof = new SparseMerkleTree(store).Prove(new Hash32(a), 1);
        Assert.Equal(SparseMerkleTree.MaxDepth, proof.Levels.Count);
        Assert.True(StateProof.Verify(proof.Encoded, root, new Hash32(a), [1]));
        Assert.True(proof.Encoded.Length <= StateProof.MaxEncodedSize);
    }

    private static CanonicalEncodingException Refuse(byte[] bytes)
    {
        Assert.False(Canonical.TryDecode<StateProof>(bytes, out _, out var error));
        return error!;
    }

    private delegate void Writer(ref MessagePackWriter writer);

    private static byte[] Write(Writer write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
