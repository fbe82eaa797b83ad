using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Storage;
using FsCheck.Xunit;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

public class StateBackendTests
{
    private static Hash32 Key32(int i) => Core.Hashing.DomainHash.Sha256(BitConverter.GetBytes(i));

    [Fact]
    public void Empty_state_has_the_empty_merkle_root() => Assert.Equal(MerkleTree.EmptyRoot, new InMemoryStateBackend().Root);

    [Property(MaxTest = 50)]
    public void Root_depends_on_content_not_on_change_order(int seed)
    {
        var random = new Random(seed);
        var changes = Enumerable.Range(0, 1 + random.Next(20)).ToDictionary(i => Key32(i), i => (byte[]?)BitConverter.GetBytes(random.Next()));
        var a = new InMemoryStateBackend();
        var b = new InMemoryStateBackend();
        var reversed = changes.Reverse().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(a.ComputeRoot(changes), b.ComputeRoot(reversed));
        Assert.Equal(MerkleTree.EmptyRoot, a.Root); // ComputeRoot wrote nothing
        var predicted = a.ComputeRoot(changes);
        a.Commit(1, changes, new StoreBatch());
        Assert.Equal(predicted, a.Root);

        // Any single value change, or a delete, moves the root.
        var key = changes.Keys.ElementAt(random.Next(changes.Count));
        Assert.NotEqual(a.Root, a.ComputeRoot(new Dictionary<Hash32, byte[]?> { [key] = [1, 2, 3, 4, 5] }));
        Assert.NotEqual(a.Root, a.ComputeRoot(new Dictionary<Hash32, byte[]?> { [key] = null }));
    }

    [Fact]
    public void Persisted_state_reloads_with_the_same_root_and_deletes_apply()
    {
        var store = new InMemoryStore();
        var backend = new InMemoryStateBackend();
        var batch = new StoreBatch();
        backend.Commit(0, new Dictionary<Hash32, byte[]?> { [Key32(1)] = [1], [Key32(2)] = [2] }, batch);
        store.Write(batch);
        batch = new StoreBatch();
        backend.Commit(1, new Dictionary<Hash32, byte[]?> { [Key32(1)] = null, [Key32(3)] = [3] }, batch);
        store.Write(batch);
        var reloaded = InMemoryStateBackend.Load(store);
        Assert.Equal(1UL, reloaded.Version);
        Assert.Equal(backend.Root, reloaded.Root);
        Assert.Null(reloaded.Get(Key32(1)));
        Assert.Equal([3], reloaded.Get(Key32(3)));
        Assert.Throws<InvalidOperationException>(() => reloaded.Commit(1, new Dictionary<Hash32, byte[]?>(), new StoreBatch()));
    }

    [Fact]
    public void A_multi_output_model_records_its_first_output()
    {
        // y = MatMulInteger(x, w); z = ArgMax(y) is declared first, so receipts carry z (the class), not y.
        var w = Enumerable.Range(0, K * N).Select(i => (sbyte)(i % 7 - 3)).ToArray();
        var bytes = new OnnxModel(9, [new OpsetImport("", 17)],
            new OnnxGraph("g",
                [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], []), new OnnxNode("am", "ArgMax", "", ["y"], ["z"], [OnnxAttribute.Of("axis", 1L), OnnxAttribute.Of("keepdims", 1L)])],
                [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [K, N], w))],
                [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(K)])],
                [new OnnxValueInfo("z", (int)TensorElementType.Int64, [OnnxDim.Fixed(1), OnnxDim.Fixed(1)]),
                 new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(N)])],
                []),
            "t", "1").ToBytes();
        var check = ModelRegistry.Check(bytes, User(0).Address, "two", 0);
        Assert.True(check.Accepted, check.Refusal);

        var executor = Executor();
        var (first, commit) = Step(executor, [Register(User(1), 0, "two", bytes)], null);
        Assert.Equal(ReceiptStatus.Success, first.Receipts[0].Status);
        var input = Input(4);
        var (second, _) = Step(executor, [Infer(User(1), 1, check.ModelId, input)], commit);
        var result = second.Receipts[0].Inference!;
        var expected = Inference.Runtime.CanonicalExecutor.Load(bytes).Run([new("x", Canonical.Decode<Tensor>(input))]);
        Assert.Equal("z", expected[0].Name);
        Assert.Equal(expected[0].Value.Hash, result.OutputHash);
    }
}
