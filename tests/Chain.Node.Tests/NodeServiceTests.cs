using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Node.Host;
using Chain.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chain.Node.Tests;

/// <summary>What `chain start` runs, in-process: a one-validator home started, used over RPC, stopped and restarted.</summary>
public sealed class NodeServiceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-service-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<bool> WaitUntil(Func<Task<bool>> condition, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        while (!timeout.IsCancellationRequested)
        {
            if (await condition()) return true;
            await Task.Delay(50);
        }
        return false;
    }

    [Fact]
    public async Task A_started_home_commits_inference_serves_proofs_and_metrics_and_resumes_after_a_clean_stop()
    {
        var modelsDir = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var devnet = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(modelsDir)!, "devnet.json"));
        var node = NodeHome.CreateTestnet(_dir, 1, new ChainId("chain-service"), devnet.Models, basePort: 40000, devnetKeys: true, configure: c =>
        {
            c.P2p.Listen = "127.0.0.1:0"; // ephemeral ports: tests may run side by side
            c.Rpc.Listen = "127.0.0.1:0";
            c.Consensus.TimeoutProposeMs = 1000;
            c.Consensus.MinBlockIntervalMs = 100;
            c.Inference.FastPath = false;
        })[0];
        var model = GenesisModels.Load(modelsDir)[0];
        var account = DevnetKeys.For("account-0");
        ulong height;

        await using (var service = await NodeService.StartAsync(node.Home, NullLoggerFactory.Instance))
        {
            using var client = new RpcClient(service.RpcAddress!, service.Genesis.Validators);
            Assert.True(await WaitUntil(async () => (await client.StatusAsync()).Height >= 2, TimeSpan.FromSeconds(30)), "no blocks");

            var input = Canonical.Encode(GenesisModels.ImageTensor(model.Digits[0].Pixels));
            var tx = new Transaction(service.Genesis.ChainId, account.PublicKey, 0, 1_000_000, new InferBody(model.ModelId, input, 1_000_000)).Sign(account);
            var committed = await client.SubmitAsync(tx, SubmitMode.Commit, TimeSpan.FromSeconds(30));
            Assert.Equal("committed", committed.Status);
            var proven = await client.TransactionAsync(tx.Hash); // proofs and the commit checked by the client
            Assert.Equal(model.Digits[0].OutputHash, proven.Receipt.Inference!.OutputHash);

            // The same transaction again is a replay: refused, nothing changes.
            var replay = await Assert.ThrowsAsync<RpcClientException>(() => client.SubmitAsync(tx));
            Assert.Equal(422, replay.Status);

            using var http = new HttpClient { BaseAddress = service.RpcAddress };
            var metrics = await http.GetStringAsync("metrics");
            Assert.Contains("chain_height", metrics);
            Assert.Contains("chain_inference_seconds", metrics);
            Assert.Contains("chain_txs_committed_total", metrics);
            height = (await client.StatusAsync()).Height;
            await service.StopAsync();
        }

        // Restarted on the same home it continues from RocksDB + WAL.
        await using (var service = await NodeService.StartAsync(node.Home, NullLoggerFactory.Instance))
        {
            Assert.True(service.Node.Executor.Height.Value >= height);
            using var client = new RpcClient(service.RpcAddress!, service.Genesis.Validators);
            Assert.True(await WaitUntil(async () => (await client.StatusAsync()).Height > height + 1, TimeSpan.FromSeconds(30)), "no progress after restart");
        }
    }

    [Fact]
    public async Task A_home_without_config_or_with_a_bad_one_is_refused_with_the_reason()
    {
        var empty = new NodeHome(Path.Combine(_dir, "empty"));
        var missing = await Assert.ThrowsAsync<NodeConfigException>(() => NodeService.StartAsync(empty, NullLoggerFactory.Instance));
        Assert.Contains("chain init", missing.Message);

        var modelsDir = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var devnet = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(modelsDir)!, "devnet.json"));
        var node = NodeHome.CreateTestnet(Path.Combine(_dir, "bad"), 1, new ChainId("chain-bad"), devnet.Models, basePort: 40100, devnetKeys: true)[0];
        File.AppendAllText(node.Home.ConfigPath, "\n[p2p]\nlisten = \"nowhere\"\n");
        var bad = await Assert.ThrowsAsync<NodeConfigException>(() => NodeService.StartAsync(node.Home, NullLoggerFactory.Instance));
        Assert.Contains("config", bad.Message);
    }
}
