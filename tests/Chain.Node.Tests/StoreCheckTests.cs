using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Node.Host;
using Chain.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chain.Node.Tests;

/// <summary>`chain db check`: a sound store passes; a commit that does not sign its block is reported.</summary>
public sealed class StoreCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-dbcheck-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_stopped_nodes_store_passes_and_a_swapped_commit_is_reported()
    {
        var modelsDir = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var devnet = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(modelsDir)!, "devnet.json"));
        var home = NodeHome.CreateTestnet(_dir, 1, new ChainId("chain-dbcheck"), devnet.Models, basePort: 40300, devnetKeys: true, configure: c =>
        {
            c.P2p.Listen = "127.0.0.1:0";
            c.Rpc.Listen = "127.0.0.1:0";
            c.Consensus.TimeoutProposeMs = 1000;
            c.Consensus.MinBlockIntervalMs = 20;
            c.Inference.FastPath = false;
        })[0].Home;
        await using (var service = await NodeService.StartAsync(home, NullLoggerFactory.Instance))
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (service.Node.Metrics.Height < 3) await Task.Delay(20, deadline.Token);
        }

        var sound = StoreCheck.Run(home);
        Assert.True(sound.Ok, string.Join('\n', sound.Problems));
        Assert.True(sound.BlocksChecked >= 3);
        Assert.Equal(sound.LatestHeight, sound.BlocksChecked);

        // Height 2's commit replaced by height 1's: well-formed and validly signed, but not for block 2.
        using (var store = RocksDbStore.Open(Path.Combine(home.DataDirectory, "db")))
        {
            var first = store.Get(Column.Commits, Keys.Height(1))!;
            store.Write(new StoreBatch().Put(Column.Commits, Keys.Height(2), first));
        }
        var damaged = StoreCheck.Run(home);
        Assert.False(damaged.Ok);
        Assert.Contains(damaged.Problems, p => p.StartsWith("height 2: commit:", StringComparison.Ordinal));
    }
}
