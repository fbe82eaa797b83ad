using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Testing;
using Chain.Rpc;
using GenesisModel = Chain.Inference.Runtime.GenesisModel;

namespace Chain.Explorer.Tests;

/// <summary>
/// The node's real RPC server (with the explorer mapped by it) on port 0 over an <see cref="InProcessRpcNode"/> running
/// the devnet genesis and its MNIST models: height 1 holds a transfer, an MLP inference on test digit 0 and a CNN inference
/// on test digit 1, height 2 a transfer.
/// </summary>
internal sealed class ExplorerTestHost : IAsyncDisposable
{
    public static Genesis Genesis => DevnetFixture.Genesis;
    public static GenesisModel Mlp => DevnetFixture.Mlp;
    public static GenesisModel Cnn => DevnetFixture.Cnn;
    public static IReadOnlyList<GenesisModel> Models => DevnetFixture.Models;

    private static PrivateKey Key(string name) => DevnetFixture.Key(name);

    private static readonly PrivateKey[] ValidatorKeys = Enumerable.Range(0, 4).Select(i => Key($"validator-{i}")).ToArray();
    public static PrivateKey Alice { get; } = Key("account-0");
    public static PrivateKey Bob { get; } = Key("account-1");

    private ExplorerTestHost(InProcessRpcNode node, RpcServer server)
    {
        Node = node;
        Server = server;
        Http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public InProcessRpcNode Node { get; }
    public RpcServer Server { get; }
    public HttpClient Http { get; }
    public SignedTransaction Transfer { get; private set; } = null!;
    public SignedTransaction Inference { get; private set; } = null!;
    public SignedTransaction CnnInference { get; private set; } = null!;

    public static async Task<ExplorerTestHost> StartAsync()
    {
        var node = new InProcessRpcNode(Genesis, ValidatorKeys, new InferenceRunner(new InferenceEngine(enableFastPath: false)));
        var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        var host = new ExplorerTestHost(node, server);
        host.Transfer = host.Sign(Alice, new TransferBody(Bob.Address, 1_000));
        host.Inference = host.Sign(Bob, new InferBody(Mlp.ModelId, Canonical.Encode(GenesisModels.ImageTensor(Mlp.Digits[0].Pixels)), 1_000_000));
        host.Admit(host.Transfer);
        host.Admit(host.Inference);
        host.CnnInference = host.Sign(Bob, new InferBody(Cnn.ModelId, Canonical.Encode(GenesisModels.ImageTensor(Cnn.Digits[1].Pixels)), 1_000_000), pending: 1);
        host.Admit(host.CnnInference);
        node.ProduceBlock();
        host.Admit(host.Sign(Alice, new TransferBody(Bob.Address, 2_000)));
        node.ProduceBlock();
        node.ProduceBlock(); // height 3: its lastCommit records height 2's commit
        return host;
    }

    /// <summary>Signs with the committed nonce plus <paramref name="pending"/> (the sender's transactions already in the mempool).</summary>
    public SignedTransaction Sign(PrivateKey from, TransactionBody body, ulong pending = 0) =>
        new Transaction(Genesis.ChainId, from.PublicKey, Node.Executor.GetAccount(from.Address).Nonce + pending, 1_000_000, body).Sign(from);

    public void Admit(SignedTransaction tx)
    {
        if (Node.SubmitTransaction(tx) is { } rejection) throw new InvalidOperationException($"fixture transaction refused: {rejection}");
    }

    public async Task<(int Status, string ContentType, string Csp, string Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var csp = response.Headers.TryGetValues("Content-Security-Policy", out var v) ? string.Join(",", v) : "";
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.ToString() ?? "", csp, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}
