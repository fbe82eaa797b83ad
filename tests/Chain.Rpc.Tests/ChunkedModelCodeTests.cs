using System.Net;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Light;

namespace Chain.Rpc.Tests;

/// <summary>GET /models/{id}/code?chunk=i: a model registered in chunks is served as a proven layout and proven chunks, and clients reassemble it.</summary>
public class ChunkedModelCodeTests
{
    private const int Seed = 17;

    // u8[1,1024] × s8[1024,1100] (MatMulInteger): ~1.1 MB, two chunks.
    private static byte[] Model()
    {
        var random = new Random(Seed);
        var weights = Enumerable.Range(0, 1024 * 1100).Select(_ => (sbyte)random.Next(-64, 64)).ToArray();
        return new OnnxModel(9, [new OpsetImport("", 17)],
            new OnnxGraph("g",
                [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
                [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [1024, 1100], weights))],
                [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(1024)])],
                [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(1100)])],
                []),
            "chain-rpc-tests", "1").ToBytes();
    }

    private static SignedTransaction Sign(RpcTestHost host, PrivateKey key, ulong nonce, TransactionBody body) =>
        new Transaction(RpcTestHost.Genesis.ChainId, key.PublicKey, nonce, Gas.MinFee(body, RpcTestHost.Genesis.Parameters), body).Sign(key);

    private static async Task<(byte[] Model, Hash32 Id)> RegisterAsync(RpcTestHost host)
    {
        var model = Model();
        var id = DomainHash.Compute(HashDomain.Model, model);
        var owner = RpcTestHost.Carol;
        ulong nonce = host.NextNonce(owner);
        int count = BeginModelUploadBody.ChunksFor(model.Length);
        var bodies = new List<TransactionBody> { new BeginModelUploadBody("chunked", id, model.Length) };
        for (int i = count - 1; i >= 0; i--)
            bodies.Add(new UploadModelChunkBody(id, i, model.AsSpan(i * ProtocolLimits.ModelChunkBytes, BeginModelUploadBody.ChunkLength(model.Length, i))));
        bodies.Add(new SealModelBody(id, count));
        foreach (var body in bodies)
        {
            // Through POST /txs: the mempool admits every kind of the upload before the manifest is committed.
            var submitted = await host.Client.SubmitAsync(Sign(host, owner, nonce++, body));
            Assert.Equal("pending", submitted.Status);
        }
        var block = host.Produce();
        Assert.Equal(bodies.Count, block.Transactions.Count);
        Assert.All(host.Node.Blocks.LoadReceipts(block.Height), r => Assert.Equal(ReceiptStatus.Success, r.Status));
        return (model, id);
    }

    [Fact]
    public async Task A_chunked_model_is_served_chunk_by_chunk_with_proofs_and_reassembled_by_the_client()
    {
        Console.WriteLine($"seed {Seed}");
        await using var host = await RpcTestHost.StartAsync();
        var (model, id) = await RegisterAsync(host);

        Assert.Equal(model, await host.Client.ModelCodeAsync(id));
        Assert.Equal(RpcTestHost.Mlp.Bytes, await host.Client.ModelCodeAsync(RpcTestHost.Mlp.ModelId)); // the small-model answer still works

        var root = host.Node.Blocks.LoadHeader(host.Node.Executor.Height)!.StateRoot;
        var layoutAnswer = await Get(host, $"models/{id}/code");
        Assert.Equal((model.Length, 2, (int?)null), (layoutAnswer.Bytes, layoutAnswer.Chunks!.Value, layoutAnswer.Chunk));
        Assert.Null(LightVerifier.VerifyModelLayout(layoutAnswer, id, root, out var layout));
        Assert.Equal(RpcTestHost.Carol.Address, layout!.Owner);
        Assert.NotNull(LightVerifier.VerifyModelLayout(layoutAnswer with { Bytes = model.Length - 1 }, id, root, out _));

        var chunk1 = await Get(host, $"models/{id}/code?chunk=1");
        Assert.Equal((1, model.Length - ProtocolLimits.ModelChunkBytes), (chunk1.Chunk!.Value, chunk1.Bytes));
        Assert.Null(LightVerifier.VerifyModelChunk(chunk1, id, layout, 1, root, out var bytes));
        Assert.Equal(model.AsSpan(ProtocolLimits.ModelChunkBytes).ToArray(), bytes);
        // A tampered chunk, a chunk served for another index, a proof under another root: all refused.
        Assert.NotNull(LightVerifier.VerifyModelChunk(chunk1 with { Proof = chunk1.Proof with { Value = QueryEndpointTests.Flip(chunk1.Proof.Value!) } }, id, layout, 1, root, out _));
        Assert.NotNull(LightVerifier.VerifyModelChunk(chunk1, id, layout, 0, root, out _));
        Assert.NotNull(LightVerifier.VerifyModelChunk(chunk1, id, layout, 1, Hash32.Zero, out _));

        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync($"models/{id}/code?chunk=2")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync($"models/{id}/code?chunk=-1")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync($"models/{id}/code?chunk=64")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync($"models/{id}/code?chunk=x")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync($"models/{RpcTestHost.Mlp.ModelId}/code?chunk=0")).Status);

        // An inference on it succeeds; --rerun reads the model through the same verified reassembly.
        var input = new byte[1024];
        new Random(Seed).NextBytes(input);
        var info = host.Node.Executor.GetModel(id)!;
        var infer = Sign(host, RpcTestHost.Alice, host.NextNonce(RpcTestHost.Alice),
            new InferBody(id, Tensor.Create(TensorElementType.UInt8, [1, 1024], input).Encoded.Span, Gas.Add(info.Gas, 10_000)));
        host.Admit(infer);
        host.Produce();
        var verified = await host.Client.TransactionAsync(infer.Hash);
        Assert.Equal(ReceiptStatus.Success, verified.Receipt.Status);
        Assert.NotNull(verified.Receipt.Inference);
        var (_, code) = await host.Client.FloatInterfaceAsync(id);
        Assert.Equal(model, code);
    }

    private static async Task<ModelCodeResponse> Get(RpcTestHost host, string path)
    {
        var (status, body) = await host.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, status);
        return JsonSerializer.Deserialize<ModelCodeResponse>(body, RpcJson.Options)!;
    }
}
