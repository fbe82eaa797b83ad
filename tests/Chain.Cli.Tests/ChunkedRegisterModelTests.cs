using Chain.Core;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Tests;

/// <summary>`chain tx register-model` over the single-transaction limit: chunks with a progress bar, resumed after an interruption.</summary>
public sealed class ChunkedRegisterModelTests
{
    private const int Seed = 29;

    // u8[1,4096] × s8[4096,1024] (MatMulInteger): 4 MiB of weights (admission's largest tensor) plus the envelope, over the 4 MiB of one RegisterModel: 5 chunks.
    private static byte[] Model()
    {
        var random = new Random(Seed);
        var weights = Enumerable.Range(0, 4096 * 1024).Select(_ => (sbyte)random.Next(-64, 64)).ToArray();
        return new OnnxModel(9, [new OpsetImport("", 17)],
            new OnnxGraph("g",
                [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
                [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [4096, 1024], weights))],
                [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(4096)])],
                [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(1024)])],
                []),
            "chain-cli-tests", "1").ToBytes();
    }

    [Fact]
    public async Task A_large_model_is_registered_in_chunks_and_an_interrupted_upload_resumes()
    {
        Console.WriteLine($"seed {Seed}");
        var models = GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");
        var genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json"));
        var validators = Enumerable.Range(0, 4).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        var node = new InProcessRpcNode(genesis, validators, new InferenceRunner(new InferenceEngine(enableFastPath: false)), produceBlockOnSubmit: true);
        node.ProduceBlock();
        await using var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        var url = server.BaseAddress.ToString();

        var model = Model();
        Assert.True(model.Length > ProtocolLimits.MaxRegisterModelBytes);
        var id = DomainHash.Compute(HashDomain.Model, model);
        var file = Path.Combine(Path.GetTempPath(), $"chunked-{Guid.NewGuid():N}.onnx");
        await File.WriteAllBytesAsync(file, model);
        try
        {
            // An interrupted run: the manifest and chunks 0 and 3 are on chain, nothing else.
            var key = DevnetKeys.For("account-0");
            using var client = new RpcClient(server.BaseAddress);
            ulong nonce = (await client.AccountAsync(key.Address)).Account.Nonce;
            foreach (var body in new TransactionBody[]
            {
                new BeginModelUploadBody("big", id, model.Length),
                new UploadModelChunkBody(id, 0, model.AsSpan(0, ProtocolLimits.ModelChunkBytes)),
                new UploadModelChunkBody(id, 3, model.AsSpan(3 * ProtocolLimits.ModelChunkBytes, ProtocolLimits.ModelChunkBytes)),
            })
                await client.SubmitAsync(new Transaction(genesis.ChainId, key.PublicKey, nonce++, Gas.MinFee(body, genesis.Parameters), body).Sign(key), SubmitMode.Commit);
            var pending = await client.ModelUploadAsync(id, key.Address);
            Assert.Equal([0, 3], pending!.Present);

            var run = CliHarness.Run("tx", "register-model", "--model", file, "--name", "big", "--devnet-key", "account-0", "--node", url);
            Assert.True(run.ExitCode == 0, run.Error);
            Assert.Contains($"model id {id}", run.Output);
            Assert.Contains("resuming: the node holds 2 of 5 chunks", run.Output);
            Assert.Contains("[##############################] 5/5 chunks", run.Output);
            Assert.Contains($"model {id} registered", run.Output);
            Assert.Equal(model, await client.ModelCodeAsync(id));
            Assert.Null(await client.ModelUploadAsync(id, key.Address));

            var again = CliHarness.Run("tx", "register-model", "--model", file, "--devnet-key", "account-0", "--node", url);
            Assert.True(again.ExitCode == 0, again.Error);
            Assert.Contains("is already registered", again.Output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
