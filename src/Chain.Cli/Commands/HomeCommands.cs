using System.CommandLine;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Node;

namespace Chain.Cli.Commands;

/// <summary>`chain init` (one node's home) and `chain testnet` (the homes of a local network).</summary>
internal static class HomeCommands
{
    public static Command CreateInit()
    {
        var moniker = new Option<string>("--moniker") { Description = "This node's name in logs and status", DefaultValueFactory = _ => "node" };
        var chainId = new Option<string>("--chain-id") { Description = "Chain id of the new single-validator genesis (ignored with --genesis)", DefaultValueFactory = _ => "chain-local" };
        var genesisOption = new Option<string?>("--genesis") { Description = "Join the chain of this genesis file instead of creating a single-validator one" };
        var command = new Command("init", "Create a node home: keys (validator and node), config.toml, genesis.json")
        {
            moniker, chainId, genesisOption,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var home = new NodeHome(result.GetValue(CliApp.Home)!);
            if (home.Exists) throw new CliException($"{home.ConfigPath} already exists: this home is initialized");
            var config = new NodeConfig { Moniker = result.GetValue(moniker)! };
            using var validatorKey = PrivateKey.Generate();
            Genesis genesis;
            if (result.GetValue(genesisOption) is { } file)
            {
                genesis = LoadGenesis(file);
                if (!genesis.Validators.TryGet(validatorKey.Address, out _, out _))
                    output.WriteLine($"note: this node's new validator key is not in {file}'s validator set: it will follow the chain without voting");
            }
            else
            {
                var id = result.GetValue(chainId)!;
                if (!ChainId.IsValid(id, out var why)) throw new CliException($"--chain-id '{id}': {why}");
                genesis = new Genesis(new ChainId(id), (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    new ValidatorSet([new Validator(validatorKey.PublicKey, 10)]),
                    [new GenesisAccount(validatorKey.Address, DevnetKeys.FundedBalance), .. DevnetKeys.FundedAccounts()], RepositoryGenesis().Models,
                    new ExecutionParameters { BlockGasLimit = 100_000_000 });
            }
            try
            {
                home.Init(config, genesis, validatorKey);
            }
            catch (InvalidOperationException e)
            {
                throw new CliException(e.Message);
            }
            output.WriteLine($"initialized {home.Root}");
            output.WriteLine($"  chain id       {genesis.ChainId} (genesis {genesis.Hash})");
            output.WriteLine($"  validator      {validatorKey.Address} (keys/validator.json)");
            output.WriteLine($"  node key       {home.LoadNodeKey().PublicKey} (keys/node.json)");
            output.WriteLine($"  config         {home.ConfigPath}");
            output.WriteLine($"start it with: chain start --home {home.Root}");
            return 0;
        }));
        return command;
    }

    public static Command CreateTestnet()
    {
        var validators = new Option<int>("--validators") { Description = "Number of validators", DefaultValueFactory = _ => 4 };
        var outDir = new Option<string>("--out") { Description = "Directory for the node homes (node-0, node-1, ...); must be empty or absent", DefaultValueFactory = _ => Path.Combine(".data", "testnet") };
        var basePort = new Option<int>("--base-port") { Description = "Validator i uses base+2i (p2p) and base+2i+1 (rpc)", DefaultValueFactory = _ => 26656 };
        var chainId = new Option<string>("--chain-id") { Description = "Chain id", DefaultValueFactory = _ => "chain-testnet" };
        var devnetKeys = new Option<bool>("--devnet-keys") { Description = "Use the published devnet validator keys (genesis/README.md) instead of fresh ones" };
        var command = new Command("testnet", "Create the homes and the shared genesis of a local multi-validator network on loopback")
        {
            validators, outDir, basePort, chainId, devnetKeys,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int n = result.GetValue(validators);
            if (n is < 1 or > 64) throw new CliException("--validators must be 1..64");
            var dir = result.GetValue(outDir)!;
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any()) throw new CliException($"{dir} is not empty");
            var id = result.GetValue(chainId)!;
            if (!ChainId.IsValid(id, out var why)) throw new CliException($"--chain-id '{id}': {why}");
            IReadOnlyList<NodeHome.TestnetNode> nodes;
            try
            {
                nodes = NodeHome.CreateTestnet(dir, n, new ChainId(id), RepositoryGenesis().Models, result.GetValue(basePort), result.GetValue(devnetKeys));
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new CliException(e.Message);
            }
            output.WriteLine($"testnet '{id}': {n} validators in {Path.GetFullPath(dir)}");
            foreach (var node in nodes)
                output.WriteLine($"  {node.Name}: home {node.Home.Root}, p2p 127.0.0.1:{node.P2pPort}, rpc http://127.0.0.1:{node.RpcPort}, validator {node.ValidatorKey.Address}");
            output.WriteLine($"start each with: chain start --home {Path.Combine(Path.GetFullPath(dir), "node-<i>")}");
            return 0;
        }));
        return command;
    }

    /// <summary>genesis/models of the repository: in this folder or above it, else beside the program.</summary>
    internal static string RepositoryModelsDirectory() =>
        GenesisModels.Locate(Directory.GetCurrentDirectory()) ?? GenesisModels.Locate(AppContext.BaseDirectory)
        ?? throw new CliException("genesis/models not found in this folder or above it (nor beside the program); run from the repository or pass --genesis");

    /// <summary>genesis/devnet.json of the repository (for its genesis models).</summary>
    internal static Genesis RepositoryGenesis() =>
        LoadGenesis(Path.Combine(Path.GetDirectoryName(RepositoryModelsDirectory())!, "devnet.json"));

    internal static Genesis LoadGenesis(string file)
    {
        try
        {
            return GenesisFile.Load(file);
        }
        catch (GenesisException e)
        {
            throw new CliException($"{file}: {e.Message}");
        }
    }
}
