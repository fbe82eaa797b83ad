using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Chain.Core;
using Chain.Core.Crypto;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

public sealed class GenesisTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-genesis-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private JsonObject Valid()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "models"));
        File.WriteAllBytes(Path.Combine(_dir, "models", "mm.onnx"), GenesisModelBytes);
        return new JsonObject
        {
            ["chain_id"] = "exec-test",
            ["genesis_time_ms"] = GenesisTime,
            ["validators"] = new JsonArray(Enumerable.Range(0, Validators).Select(i => (JsonNode)new JsonObject
            {
                ["name"] = $"v{i}",
                ["public_key"] = Validator(i).PublicKey.ToString(),
                ["power"] = 10,
            }).ToArray()),
            ["accounts"] = new JsonArray(Enumerable.Range(0, Users).Select(i => (JsonNode)new JsonObject
            {
                ["address"] = User(i).Address.ToString(),
                ["balance"] = InitialBalance,
            }).ToArray()),
            ["models"] = new JsonArray(new JsonObject
            {
                ["name"] = "mm",
                ["file"] = "models/mm.onnx",
                ["hash"] = GenesisModelId.ToString(),
                ["owner"] = User(0).Address.ToString(),
            }),
            ["params"] = new JsonObject
            {
                ["block_gas_limit"] = Params.BlockGasLimit,
                ["max_tx_bytes"] = Params.MaxTxBytes,
                ["gas_price"] = Params.GasPrice,
                ["transfer_gas"] = Params.TransferGas,
                ["register_model_gas"] = Params.RegisterModelGas,
                ["model_byte_gas"] = Params.ModelByteGas,
                ["infer_gas"] = Params.InferGas,
                ["input_byte_gas"] = Params.InputByteGas,
            },
        };
    }

    private Genesis Load(JsonObject json)
    {
        var path = Path.Combine(_dir, "genesis.json");
        File.WriteAllText(path, json.ToJsonString());
        return GenesisFile.Load(path);
    }

    private void Refused(Action<JsonObject> edit, string expected)
    {
        var json = Valid();
        edit(json);
        var error = Assert.Throws<GenesisException>(() => Load(json));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_valid_file_gives_the_same_genesis_as_the_code()
    {
        var genesis = Load(Valid());
        Assert.Equal(Fixture.Genesis().Hash, genesis.Hash);
        Assert.Equal(Users * InitialBalance + genesis.Validators.TotalPower * genesis.Parameters.Staking.PowerReduction, genesis.TotalSupply); // balances + bonded
        var executor = new ChainExecutor(genesis, new Chain.Storage.InMemoryStore(), new InMemoryStateBackend(), Runner());
        Assert.Equal(Fixture.Executor().StateRoot, executor.StateRoot);
        Assert.NotNull(executor.GetModel(GenesisModelId));
    }

    [Fact] public void Unknown_top_level_field() => Refused(j => j["extra"] = 1, "unknown field 'extra'");
    [Fact] public void Unknown_nested_field() => Refused(j => j["params"]!["gas_prize"] = 1, "params: unknown field 'gas_prize'");
    [Fact] public void Missing_field() => Refused(j => j.Remove("params"), "missing field 'params'");
    [Fact] public void Bad_chain_id() => Refused(j => j["chain_id"] = "Bad Chain", "chain_id");
    [Fact] public void Bad_hex_key() => Refused(j => j["validators"]![0]!["public_key"] = "zz" + new string('0', 62), "validators[0].public_key");
    [Fact] public void Upper_case_hex() => Refused(j => j["accounts"]![0]!["address"] = User(0).Address.ToString().ToUpperInvariant(), "accounts[0].address");
    [Fact] public void Short_hash() => Refused(j => j["models"]![0]!["hash"] = "abcd", "models[0].hash");
    [Fact] public void Zero_power() => Refused(j => j["validators"]![1]!["power"] = 0, "validators[1].power");
    [Fact] public void Negative_balance() => Refused(j => j["accounts"]![1]!["balance"] = -1, "accounts[1].balance");
    [Fact] public void String_balance() => Refused(j => j["accounts"]![1]!["balance"] = "5", "accounts[1].balance");

    [Fact]
    public void Duplicate_validator() =>
        Refused(j => j["validators"]!.AsArray().Add(j["validators"]![0]!.DeepClone()), "appears twice");

    [Fact]
    public void Duplicate_account() =>
        Refused(j => j["accounts"]!.AsArray().Add(new JsonObject { ["address"] = User(0).Address.ToString(), ["balance"] = 1 }), $"account {User(0).Address} appears twice");

    [Fact]
    public void Overflowing_balances() =>
        Refused(j => j["accounts"]!.AsArray().Add(new JsonObject { ["address"] = Key("rich").Address.ToString(), ["balance"] = ulong.MaxValue }), "overflow");

    [Fact]
    public void Missing_model_file() => Refused(j => j["models"]![0]!["file"] = "models/mlp.onnx", "model file 'models/mlp.onnx' not found");

    [Fact]
    public void Hash_mismatch() => Refused(j => j["models"]![0]!["hash"] = new string('0', 64), "hash mismatch");

    [Fact]
    public void Model_not_admitted()
    {
        var json = Valid();
        var bytes = RefusedModel();
        File.WriteAllBytes(Path.Combine(_dir, "models", "bad.onnx"), bytes);
        json["models"]![0]!["file"] = "models/bad.onnx";
        json["models"]![0]!["hash"] = Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, bytes).ToString();
        Assert.Contains("is not admitted", Assert.Throws<GenesisException>(() => Load(json)).Message);
    }

    [Fact]
    public void Invalid_parameters() => Refused(j => j["params"]!["gas_price"] = 0, "gas_price");

    [Fact]
    public void Duplicate_json_property() =>
        Assert.Contains("appears twice", Assert.Throws<GenesisException>(() => GenesisFile.Parse("""{"chain_id":"a","chain_id":"b"}""", _dir)).Message);

    [Fact]
    public void Not_json() => Assert.Contains("not valid JSON", Assert.Throws<GenesisException>(() => GenesisFile.Parse("{", _dir)).Message);

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Chain.sln not found above the test binaries");
    }

    [Fact]
    public void Devnet_keys_derive_from_the_documented_seeds()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "genesis", "devnet.json")))!;
        static PrivateKey Derive(string name) => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-devnet/" + name)));
        var validators = json["validators"]!.AsArray();
        for (int i = 0; i < validators.Count; i++)
            Assert.Equal(Derive($"validator-{i}").PublicKey.ToString(), validators[i]!["public_key"]!.GetValue<string>());
        var accounts = json["accounts"]!.AsArray();
        for (int i = 0; i < accounts.Count; i++)
            Assert.Equal(Derive($"account-{i}").Address.ToString(), accounts[i]!["address"]!.GetValue<string>());
    }

    [Fact]
    public void Devnet_file_without_its_models_names_the_missing_file()
    {
        // A copy without the models directory: the loader must say which file is missing.
        var copy = Path.Combine(_dir, "devnet.json");
        File.Copy(Path.Combine(RepoRoot(), "genesis", "devnet.json"), copy);
        var error = Assert.Throws<GenesisException>(() => GenesisFile.Load(copy));
        Assert.Contains("models/mlp.onnx", error.Message);
        Assert.Contains("not found", error.Message);
    }

    [Fact]
    public void Devnet_file_loads_when_its_models_are_present()
    {
        var root = RepoRoot();
        var models = Path.Combine(root, "genesis", "models");
        // The model files come from another change; until they are in this tree the check above covers absence.
        if (!File.Exists(Path.Combine(models, "mlp.onnx")) || !File.Exists(Path.Combine(models, "cnn.onnx"))) return;
        var genesis = GenesisFile.Load(Path.Combine(root, "genesis", "devnet.json"));
        Assert.Equal(new ChainId("chain-devnet"), genesis.ChainId);
        Assert.Equal(2, genesis.Models.Count);
    }
}
