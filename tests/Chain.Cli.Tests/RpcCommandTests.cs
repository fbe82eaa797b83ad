using Chain.Core;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Tests;

/// <summary>`chain tx` and `chain query` against a real RPC server over an in-process devnet chain.</summary>
public sealed class RpcCommandTests : IAsyncLifetime
{
    private InProcessRpcNode _node = null!;
    private RpcServer _server = null!;
    private string _url = "";
    private Hash32 _mlp;

    public async Task InitializeAsync()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");
        var genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json"));
        _mlp = GenesisModels.Load(models).Single(m => m.File == "mlp.onnx").ModelId;
        var validators = Enumerable.Range(0, 4).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        _node = new InProcessRpcNode(genesis, validators, new InferenceRunner(new InferenceEngine(enableFastPath: false)), produceBlockOnSubmit: true);
        _node.ProduceBlock();
        _server = new RpcServer(_node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await _server.StartAsync();
        _url = _server.BaseAddress.ToString();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string Bob => DevnetKeys.For("account-1").Address.ToString();

    /// <summary>
    /// Issue 14: without --fee, `chain tx` pays Gas.MinFee at the node's gas price from /status — on a chain whose
    /// gas price is 20, where the old defaults (10 000 for a transfer, maxGas for an Infer: gas price 1) were refused.
    /// </summary>
    [Fact]
    public async Task Default_fees_are_the_minimum_at_the_nodes_gas_price()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var devnet = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json"));
        var parameters = devnet.Parameters with { GasPrice = 20 };
        var genesis = new Genesis(devnet.ChainId, devnet.GenesisTimeMs, devnet.Validators, devnet.Accounts, devnet.Models, parameters);
        var validators = Enumerable.Range(0, 4).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        var node = new InProcessRpcNode(genesis, validators, new InferenceRunner(new InferenceEngine(enableFastPath: false)), produceBlockOnSubmit: true);
        await using var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        var url = server.BaseAddress.ToString();

        var transfer = CliHarness.Run("tx", "transfer", "--to", Bob, "--amount", "5", "--devnet-key", "account-0", "--node", url, "--wait");
        Assert.True(transfer.ExitCode == 0, transfer.Error);
        Assert.Contains($"fee {parameters.TransferGas * 20})", transfer.Output);
        Assert.Contains("Success", transfer.Output);

        var infer = CliHarness.Run("tx", "infer", "--model", _mlp.ToString(), "--digit", "1", "--devnet-key", "account-2", "--node", url, "--wait");
        Assert.True(infer.ExitCode == 0, infer.Error);
        Assert.Contains($"fee {1_000_000UL * 20})", infer.Output); // --max-gas defaults to 1 000 000
        Assert.Contains("Success", infer.Output);
    }

    [Fact]
    public void Query_status_and_block_print_the_chain_head()
    {
        var status = CliHarness.Run("query", "status", "--node", _url);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("chain-devnet height 1", status.Output);
        var block = CliHarness.Run("query", "block", "1", "--node", _url, "--json");
        Assert.Equal(0, block.ExitCode);
        Assert.Contains("\"rawHeader\"", block.Output);
    }

    [Fact]
    public void Transfer_with_wait_commits_and_the_queries_see_it_with_verified_proofs()
    {
        var tx = CliHarness.Run("tx", "transfer", "--to", Bob, "--amount", "1234", "--devnet-key", "account-0", "--node", _url, "--wait");
        Assert.True(tx.ExitCode == 0, tx.Error);
        Assert.Contains("committed", tx.Output);
        Assert.Contains("Success", tx.Output);
        var hash = tx.Output.Split(' ')[1].TrimEnd(':');

        var receipt = CliHarness.Run("query", "receipt", hash, "--node", _url);
        Assert.True(receipt.ExitCode == 0, receipt.Error);
        Assert.Contains("Success", receipt.Output);
        Assert.Contains("proofs verified", receipt.Output);

        var account = CliHarness.Run("query", "account", Bob, "--node", _url);
        Assert.Equal(0, account.ExitCode);
        Assert.Contains($"balance {1_000_000_000_000UL + 1234}", account.Output);

        // The next transfer takes its nonce from the account query.
        var again = CliHarness.Run("tx", "transfer", "--to", Bob, "--amount", "1", "--devnet-key", "account-0", "--node", _url, "--wait");
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains("nonce 1", again.Output);
    }

    [Fact]
    public void Infer_on_a_genesis_digit_commits_with_an_inference_receipt_and_model_query_works()
    {
        var tx = CliHarness.Run("tx", "infer", "--model", _mlp.ToString(), "--digit", "2", "--devnet-key", "account-2", "--node", _url, "--wait");
        Assert.True(tx.ExitCode == 0, tx.Error);
        Assert.Contains("Success", tx.Output);
        Assert.Contains("output ", tx.Output);
        var model = CliHarness.Run("query", "model", _mlp.ToString(), "--node", _url);
        Assert.Equal(0, model.ExitCode);
        Assert.Contains("genesis-mnist-mlp", model.Output);
    }

    [Fact]
    public async Task A_light_client_re_runs_a_receipts_inference_locally_against_headers_finalized_by_the_genesis_validators()
    {
        var tx = CliHarness.Run("tx", "infer", "--model", _mlp.ToString(), "--digit", "3", "--devnet-key", "account-0", "--node", _url, "--wait", "--json");
        Assert.True(tx.ExitCode == 0, tx.Error);
        var hash = System.Text.Json.JsonDocument.Parse(tx.Output).RootElement.GetProperty("hash").GetString()!;
        var genesisFile = Path.Combine(Path.GetDirectoryName(GenesisModels.Locate(AppContext.BaseDirectory))!, "devnet.json");

        var checkedReceipt = CliHarness.Run("query", "receipt", hash, "--rerun", "--genesis", genesisFile, "--node", _url);
        Assert.True(checkedReceipt.ExitCode == 0, checkedReceipt.Error);
        Assert.Contains("header finalized by the genesis validators", checkedReceipt.Output);
        Assert.Contains("matches", checkedReceipt.Output);

        // The model bytes come with a state proof and must hash to the model id.
        using var client = new RpcClient(new Uri(_url));
        var code = await client.ModelCodeAsync(_mlp);
        Assert.Equal(_mlp, Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, code));
        var missing = await Assert.ThrowsAsync<RpcClientException>(() => client.ModelCodeAsync(Hash32.Zero));
        Assert.Equal(404, missing.Status);

        // A transfer has no inference to re-run.
        var transfer = CliHarness.Run("tx", "transfer", "--to", Bob, "--amount", "1", "--devnet-key", "account-2", "--node", _url, "--wait", "--json");
        Assert.True(transfer.ExitCode == 0, transfer.Error);
        var transferHash = System.Text.Json.JsonDocument.Parse(transfer.Output).RootElement.GetProperty("hash").GetString()!;
        var refused = CliHarness.Run("query", "receipt", transferHash, "--rerun", "--node", _url);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not an inference", refused.Error);
    }

    [Fact]
    public void Infer_from_a_json_input_file_shaped_by_the_proven_model_signature()
    {
        var path = Path.Combine(Path.GetTempPath(), $"chain-rpc-input-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "[" + string.Join(",", Enumerable.Range(0, 784).Select(i => i % 256)) + "]");
        try
        {
            var tx = CliHarness.Run("tx", "infer", "--model", _mlp.ToString(), "--input", path, "--devnet-key", "account-1", "--node", _url, "--wait", "--json");
            Assert.True(tx.ExitCode == 0, tx.Error);
            Assert.Contains("\"status\":\"committed\"", tx.Output);
            Assert.Contains("\"inference\"", tx.Output);

            File.WriteAllText(path, "[1,2,3]");
            var wrong = CliHarness.Run("tx", "infer", "--model", _mlp.ToString(), "--input", path, "--devnet-key", "account-1", "--node", _url);
            Assert.Equal(1, wrong.ExitCode);
            Assert.Contains("needs 784", wrong.Error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Float_in_float_out_register_a_model_with_a_float_interface_infer_from_npy_and_rerun_the_receipt()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var digit = GenesisModels.Load(models)[0].Digits[^1];
        var dir = Directory.CreateTempSubdirectory("float-rpc");
        try
        {
            var onnx = Inference.Onnx.OnnxModel.Parse(File.ReadAllBytes(Path.Combine(models, "mlp.onnx")));
            var metadata = new Inference.Onnx.QuantizationMetadata(
                [new("image", TensorElementType.UInt8, 1f / 255, 0, 0f, 1f)],
                [new("logits", TensorElementType.UInt8, 0.25f, 128, -32f, 31.75f, "softmax")]);
            var modelFile = Path.Combine(dir.FullName, "mlp-float.onnx");
            File.WriteAllBytes(modelFile, onnx.WithMetadata(metadata.ToProps()).ToBytes());
            var register = CliHarness.Run("tx", "register-model", "--model", modelFile, "--name", "mlp-float", "--devnet-key", "account-0", "--node", _url, "--wait");
            Assert.True(register.ExitCode == 0, register.Error);
            Assert.Contains("Success", register.Output);
            var id = register.Output.Split('\n')[0].Split(' ')[^1].Trim();

            var npy = Path.Combine(dir.FullName, "digit.npy");
            File.WriteAllBytes(npy, Inference.Onnx.TensorFiles.ToNpy(
                Tensor.Create<float>(TensorElementType.Float, [1, 1, 28, 28], digit.Pixels.Select(p => p / 255f).ToArray())));
            var infer = CliHarness.Run("tx", "infer", "--model", id, "--input", npy, "--devnet-key", "account-0", "--node", _url, "--wait");
            Assert.True(infer.ExitCode == 0, infer.Error);
            // The float input was quantized on the client to the digit's own pixels: the shipped output hash.
            Assert.Contains($"output {digit.OutputHash}", infer.Output);
            Assert.Contains($"top 3 after softmax: {digit.Class} ", infer.Output);
            var hash = infer.Output.Split(' ')[1].TrimEnd(':');

            var rerun = CliHarness.Run("query", "receipt", hash, "--rerun", "--node", _url);
            Assert.True(rerun.ExitCode == 0, rerun.Error);
            Assert.Contains("matches", rerun.Output);
            Assert.Contains("dequantized (0.25 × (q − 128))", rerun.Output);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Register_model_submits_and_reports_the_receipt_status()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory)!;
        // The genesis MLP is registered already: the transaction commits, and its receipt says the model was refused.
        var tx = CliHarness.Run("tx", "register-model", "--model", Path.Combine(models, "mlp.onnx"), "--devnet-key", "account-0", "--node", _url, "--wait");
        Assert.True(tx.ExitCode == 0, tx.Error);
        Assert.Contains($"model id {_mlp}", tx.Output);
        Assert.Contains("ModelRejected", tx.Output);
    }

    [Fact]
    public void Errors_are_one_line_and_exit_non_zero()
    {
        var unreachable = CliHarness.Run("query", "status", "--node", "http://127.0.0.1:1/");
        Assert.Equal(1, unreachable.ExitCode);
        Assert.StartsWith("error: cannot reach the node", unreachable.Error);
        Assert.Single(unreachable.Error.Trim().Split('\n'));

        var notFound = CliHarness.Run("query", "block", "99", "--node", _url);
        Assert.Equal(1, notFound.ExitCode);
        Assert.Contains("HTTP 404", notFound.Error);

        var badAddress = CliHarness.Run("query", "account", "xyz", "--node", _url);
        Assert.Equal(1, badAddress.ExitCode);
        Assert.Contains("ADDRESS must be 40 hex", badAddress.Error);

        var broke = CliHarness.Run("tx", "transfer", "--to", Bob, "--amount", "1", "--devnet-key", "nobody", "--node", _url);
        Assert.Equal(1, broke.ExitCode);
        Assert.Contains("HTTP 422, InsufficientFunds", broke.Error);

        var noKey = CliHarness.Run("tx", "transfer", "--to", Bob, "--amount", "1", "--node", _url);
        Assert.Equal(1, noKey.ExitCode);
        Assert.Contains("--key FILE or --devnet-key NAME", noKey.Error);
    }
}
