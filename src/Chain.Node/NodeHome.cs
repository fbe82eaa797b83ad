using System.Globalization;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;

namespace Chain.Node;

/// <summary>
/// A node's home directory: config.toml, genesis.json (+ models/), keys/validator.json (consensus signing),
/// keys/node.json (peer identity, same format as `chain keys`), data/ (RocksDB, WAL, signer state). <see cref="Init"/> creates one;
/// <see cref="CreateTestnet"/> creates the homes of a local network sharing one genesis.
/// </summary>
public sealed class NodeHome(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string ConfigPath => Path.Combine(Root, "config.toml");
    public string GenesisPath => Path.Combine(Root, "genesis.json");
    public string ValidatorKeyPath => Path.Combine(Root, "keys", "validator.json");
    public string NodeKeyPath => Path.Combine(Root, "keys", "node.json");
    public string DataDirectory => Path.Combine(Root, "data");

    public bool Exists => File.Exists(ConfigPath);

    public NodeConfig LoadConfig() => NodeConfig.Load(ConfigPath);
    public Genesis LoadGenesis() => GenesisFile.Load(GenesisPath);
    public PrivateKey LoadValidatorKey() => KeyFile.Read(ValidatorKeyPath);
    public PrivateKey LoadNodeKey() => KeyFile.Read(NodeKeyPath);

    /// <summary>
    /// Creates the home: fresh keys (or <paramref name="validatorKey"/>), the config, and the genesis. Refuses a
    /// home that already has a config or keys, so an init can never overwrite a validator's key.
    /// </summary>
    public void Init(NodeConfig config, Genesis genesis, PrivateKey? validatorKey = null, PrivateKey? nodeKey = null, IReadOnlyList<string>? validatorNames = null)
    {
        foreach (var existing in new[] { ConfigPath, ValidatorKeyPath, NodeKeyPath })
            if (File.Exists(existing)) throw new InvalidOperationException($"{existing} already exists: refusing to overwrite an initialized home");
        Directory.CreateDirectory(Path.Combine(Root, "keys"));
        Directory.CreateDirectory(DataDirectory);
        using (var key = validatorKey is null ? PrivateKey.Generate() : null) KeyFile.Write(ValidatorKeyPath, validatorKey ?? key!);
        using (var key = nodeKey is null ? PrivateKey.Generate() : null) KeyFile.Write(NodeKeyPath, nodeKey ?? key!);
        GenesisFile.Save(genesis, GenesisPath, validatorNames);
        config.Save(ConfigPath);
    }

    /// <summary>One home of a generated testnet.</summary>
    public sealed record TestnetNode(string Name, NodeHome Home, PublicKey ValidatorKey, PublicKey NodeKey, int P2pPort, int RpcPort);

    /// <summary>A local testnet's execution parameters unless the caller gives its own.</summary>
    public static ExecutionParameters TestnetParameters { get; } = new() { BlockGasLimit = 100_000_000 };

    /// <summary>
    /// Homes node-0 .. node-(n−1) under <paramref name="directory"/> for a loopback network: validator i listens
    /// for peers on basePort + 2i and serves RPC on basePort + 2i + 1, and every node has all others as
    /// persistent peers. With <paramref name="devnetKeys"/> the validator keys are the published devnet keys
    /// (SHA-256("chain-devnet/validator-i")); otherwise fresh. The genesis funds each validator and the
    /// published devnet accounts account-0..2 (so clients can sign test transactions) and registers <paramref name="models"/>.
    /// With <paramref name="genesisValidators"/> below <paramref name="validators"/>, only the first that many are in the
    /// genesis validator set; the others are funded full nodes holding their own validator key, ready to join by
    /// staking (`chain tx create-validator`).
    /// </summary>
    public static IReadOnlyList<TestnetNode> CreateTestnet(string directory, int validators, ChainId chainId, IReadOnlyList<GenesisModel> models,
        int basePort, bool devnetKeys, Action<NodeConfig>? configure = null, ulong? genesisTimeMs = null, ExecutionParameters? parameters = null,
        int? genesisValidators = null)
    {
        int inGenesis = genesisValidators ?? validators;
        if (inGenesis < 1 || inGenesis > validators) throw new ArgumentOutOfRangeException(nameof(genesisValidators), $"1..{validators} genesis validators");
        if (validators is < 1 or > ProtocolLimits.MaxValidators) throw new ArgumentOutOfRangeException(nameof(validators), $"1..{ProtocolLimits.MaxValidators} validators");
        if (basePort < 1024 || basePort + 2 * validators > 65535) throw new ArgumentOutOfRangeException(nameof(basePort), "ports must lie in 1024..65535");
        var validatorKeys = Enumerable.Range(0, validators).Select(i => devnetKeys ? DevnetKeys.For($"validator-{i}") : PrivateKey.Generate()).ToArray();
        var nodeKeys = Enumerable.Range(0, validators).Select(_ => PrivateKey.Generate()).ToArray();
        try
        {
            var names = Enumerable.Range(0, validators).Select(i => $"validator-{i}").ToList();
            var accounts = validatorKeys.Select(k => new GenesisAccount(k.Address, DevnetKeys.FundedBalance))
                .Concat(DevnetKeys.FundedAccounts()).DistinctBy(a => a.Address);
            var genesis = new Genesis(chainId, genesisTimeMs ?? (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                new ValidatorSet(validatorKeys.Take(inGenesis).Select(k => new Validator(k.PublicKey, 10))), accounts, models,
                parameters ?? TestnetParameters);
            var nodes = new List<TestnetNode>();
            for (int i = 0; i < validators; i++)
            {
                int p2p = basePort + 2 * i, rpc = basePort + 2 * i + 1;
                var config = new NodeConfig { Moniker = names[i] };
                config.P2p.Listen = $"127.0.0.1:{p2p.ToString(CultureInfo.InvariantCulture)}";
                config.Rpc.Listen = $"127.0.0.1:{rpc.ToString(CultureInfo.InvariantCulture)}";
                config.P2p.BanAddresses = false; // every peer is 127.0.0.1 here
                config.P2p.PersistentPeers = Enumerable.Range(0, validators).Where(j => j != i)
                    .Select(j => $"{nodeKeys[j].PublicKey}@127.0.0.1:{(basePort + 2 * j).ToString(CultureInfo.InvariantCulture)}").ToList();
                configure?.Invoke(config);
                var home = new NodeHome(Path.Combine(directory, $"node-{i}"));
                home.Init(config, genesis, validatorKeys[i], nodeKeys[i], names);
                nodes.Add(new TestnetNode(names[i], home, validatorKeys[i].PublicKey, nodeKeys[i].PublicKey, p2p, rpc));
            }
            return nodes;
        }
        finally
        {
            foreach (var k in validatorKeys.Concat(nodeKeys)) k.Dispose();
        }
    }
}
