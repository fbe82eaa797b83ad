using System.Net;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Testing;
using GenesisModel = Chain.Inference.Runtime.GenesisModel;

namespace Chain.Rpc.Tests;

/// <summary>
/// A real RPC server on Kestrel (port 0) over an <see cref="InProcessRpcNode"/> running the devnet genesis
/// (genesis/devnet.json with its MNIST MLP), with three committed blocks: transfers and an Infer on a test digit.
/// </summary>
internal sealed class RpcTestHost : IAsyncDisposable
{
    public static Genesis Genesis => DevnetFixture.Genesis;
    public static GenesisModel Mlp => DevnetFixture.Mlp;

    public static PrivateKey Key(string name) => DevnetFixture.Key(name);

    public static PrivateKey[] ValidatorKeys { get; } = Enumerable.Range(0, 4).Select(i => Key($"validator-{i}")).ToArray();
    public static PrivateKey Alice { get; } = Key("account-0");
    public static PrivateKey Bob { get; } = Key("account-1");
    public static PrivateKey Carol { get; } = Key("account-2");

    private RpcTestHost(InProcessRpcNode node, NodeMetrics metrics, RpcServer server)
    {
        Node = node;
        Metrics = metrics;
        Server = server;
        Client = new RpcClient(server.BaseAddress, Genesis.Validators, TimeSpan.FromSeconds(60));
        Http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public InProcessRpcNode Node { get; }
    public NodeMetrics Metrics { get; }
    public RpcServer Server { get; }
    public RpcClient Client { get; }
    public HttpClient Http { get; }

    /// <summary>The transfer and the inference committed at height 1 and the transfer at height 2.</summary>
    public SignedTransaction FirstTransfer { get; private set; } = null!;
    public SignedTransaction FirstInference { get; private set; } = null!;
    public SignedTransaction SecondTransfer { get; private set; } = null!;

    /// <param name="evidence">Checks POST /evidence and block evidence (the consensus EvidenceVerifier); null refuses evidence.</param>
    public static async Task<RpcTestHost> StartAsync(RpcOptions? options = null, IEvidenceVerifier? evidence = null)
    {
        var node = new InProcessRpcNode(Genesis, ValidatorKeys, new InferenceRunner(new InferenceEngine(enableFastPath: false)), evidence: evidence);
        var metrics = new NodeMetrics();
        var server = new RpcServer(node, metrics, (options ?? new RpcOptions()) with { Port = 0 });
        await server.StartAsync();
        var host = new RpcTestHost(node, metrics, server);
        host.BuildChain();
        return host;
    }

    private void BuildChain()
    {
        FirstTransfer = Transfer(Alice, Bob.Address, 1_000);
        FirstInference = Infer(Bob, 0);
        Admit(FirstTransfer);
        Admit(FirstInference);
        Produce();
        SecondTransfer = Transfer(Carol, Alice.Address, 2_000);
        Admit(SecondTransfer);
        Produce();
        Produce(); // an empty block
    }

    public void Admit(SignedTransaction tx)
    {
        if (Node.SubmitTransaction(tx) is { } rejection) throw new InvalidOperationException($"fixture transaction refused: {rejection}");
    }

    public Block Produce()
    {
        var block = Node.ProduceBlock();
        Metrics.BlockCommitted(block.Height.Value, 0, block.Transactions.Count, 5);
        return block;
    }

    public ulong NextNonce(PrivateKey key) => Node.Executor.GetAccount(key.Address).Nonce;

    public SignedTransaction Transfer(PrivateKey from, Address to, ulong amount, ulong? nonce = null, ChainId? chain = null) =>
        new Transaction(chain ?? Genesis.ChainId, from.PublicKey, nonce ?? NextNonce(from), 10_000, new TransferBody(to, amount)).Sign(from);

    public SignedTransaction Infer(PrivateKey from, int digit) =>
        new Transaction(Genesis.ChainId, from.PublicKey, NextNonce(from), 1_000_000,
            new InferBody(Mlp.ModelId, Canonical.Encode(GenesisModels.ImageTensor(Mlp.Digits[digit].Pixels)), 1_000_000)).Sign(from);

    /// <summary>What a refused request must leave untouched.</summary>
    public (ulong Height, Hash32 StateRoot, int Mempool) Snapshot() => (Node.Executor.Height.Value, Node.Executor.StateRoot, Node.Mempool.Count);

    public async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, HttpContent content)
    {
        using var response = await Http.PostAsync(path, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Http.Dispose();
        await Server.DisposeAsync();
    }
}
