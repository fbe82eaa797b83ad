using System.Security.Cryptography;
using System.Text;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using GenesisModel = Chain.Inference.Runtime.GenesisModel;

namespace Chain.Testing;

/// <summary>
/// The repository's devnet genesis (genesis/devnet.json with its models), found above the test folder, and the published
/// devnet keys (genesis/README.md: seed = SHA-256("chain-devnet/" + name)), for in-process test hosts.
/// </summary>
public static class DevnetFixture
{
    private static readonly Lazy<(Genesis Genesis, IReadOnlyList<GenesisModel> Models)> Devnet = new(() =>
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found above the test folder");
        return (GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json")), GenesisModels.Load(models));
    });

    public static Genesis Genesis => Devnet.Value.Genesis;
    public static IReadOnlyList<GenesisModel> Models => Devnet.Value.Models;
    public static GenesisModel Mlp => Models.Single(m => m.File == "mlp.onnx");
    public static GenesisModel Cnn => Models.Single(m => m.File == "cnn.onnx");

    public static PrivateKey Key(string name) => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-devnet/" + name)));
}
