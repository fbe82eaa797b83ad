using Chain.Core;
using Chain.Execution;
using Chain.Inference.Runtime;

namespace Chain.Node.Tests;

public sealed class NodeConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_saved_config_loads_back_equal_and_defaults_fill_missing_keys()
    {
        var config = new NodeConfig { Moniker = "v7" };
        config.P2p.PersistentPeers = [$"{new string('a', 64)}@127.0.0.1:1234"];
        config.Consensus.TimeoutProposeMs = 1234;
        var path = Path.Combine(_dir, "config.toml");
        config.Save(path);
        var loaded = NodeConfig.Load(path);
        Assert.Equal(config.ToToml(), loaded.ToToml());
        Assert.Equal(1234UL, loaded.Timeouts.ProposeBaseMs);

        var partial = NodeConfig.Parse("moniker = \"x\"\n[rpc]\nenabled = false\n");
        Assert.False(partial.Rpc.Enabled);
        Assert.Equal("127.0.0.1:26656", partial.P2p.Listen);
        Assert.Equal(Chain.Inference.Runtime.InferenceEngine.DefaultModelCacheBytes, partial.Inference.ModelCacheBytes);
        Assert.Equal(64L << 20, NodeConfig.Parse("[inference]\nmodel_cache_bytes = 67108864\n").Inference.ModelCacheBytes);
    }

    [Theory]
    [InlineData("monikr = \"typo\"\n", "unknown key 'monikr'")]
    [InlineData("[p2p]\nlisten_addr = \"127.0.0.1:1\"\n", "unknown key 'p2p.listen_addr'")]
    [InlineData("moniker = 5\n", "String")]
    [InlineData("[p2p]\nlisten = \"nowhere\"\n", "p2p.listen 'nowhere' is not host:port")]
    [InlineData("[p2p]\nlisten = \"example.com:80\"\n", "is not an IP address")]
    [InlineData("[p2p]\npersistent_peers = [\"127.0.0.1:5\"]\n", "persistent_peers[0]")]
    [InlineData("[p2p]\npersistent_peers = [\"abcd@127.0.0.1:5\"]\n", "persistent_peers[0]")]
    [InlineData("[log]\nlevel = \"loud\"\n", "log.level")]
    [InlineData("[consensus]\ntimeout_propose_ms = 0\n", "timeouts")]
    [InlineData("[inference]\nmodel_cache_bytes = -1\n", "inference.model_cache_bytes must not be negative")]
    [InlineData("this is not toml", "config")]
    public void Bad_configs_are_refused_with_the_key_named(string toml, string expected)
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeConfig.Parse(toml));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_testnet_shares_one_genesis_links_every_node_to_the_others_and_init_never_overwrites_keys()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory)!;
        var devnet = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json"));
        var nodes = NodeHome.CreateTestnet(_dir, 3, new ChainId("chain-test"), devnet.Models, basePort: 30000, devnetKeys: true, genesisTimeMs: 1);
        var hashes = nodes.Select(n => n.Home.LoadGenesis().Hash).Distinct().ToList();
        Assert.Single(hashes);
        var genesis = nodes[0].Home.LoadGenesis();
        Assert.Equal(3, genesis.Validators.Count);
        Assert.Equal(DevnetKeys.For("validator-1").PublicKey, nodes[1].Home.LoadValidatorKey().PublicKey);
        Assert.Equal(devnet.Models.Select(m => m.ModelId), genesis.Models.Select(m => m.ModelId));
        for (int i = 0; i < 3; i++)
        {
            var config = nodes[i].Home.LoadConfig();
            Assert.Equal($"127.0.0.1:{30000 + 2 * i}", config.P2p.Listen);
            Assert.Equal($"127.0.0.1:{30001 + 2 * i}", config.Rpc.Listen);
            var peers = config.P2p.PersistentPeers.Select(p => NodeConfig.ParsePeer(p)).ToList();
            Assert.Equal(2, peers.Count);
            Assert.DoesNotContain(nodes[i].NodeKey, peers.Select(p => p.NodeKey));
            Assert.Equal(nodes[i].NodeKey, nodes[i].Home.LoadNodeKey().PublicKey);
        }

        var keyBefore = File.ReadAllBytes(nodes[0].Home.ValidatorKeyPath);
        var again = Assert.Throws<InvalidOperationException>(() => nodes[0].Home.Init(new NodeConfig(), genesis));
        Assert.Contains("refusing to overwrite", again.Message);
        Assert.Equal(keyBefore, File.ReadAllBytes(nodes[0].Home.ValidatorKeyPath));
    }
}
