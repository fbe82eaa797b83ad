using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Network;
using Chain.Node.Host;

namespace Chain.Node.Tests;

/// <summary>
/// Four validators (the devnet genesis) as <see cref="FullNode"/>s on one <see cref="InMemoryNetworkHub"/>, each
/// with its own temp RocksDB dir and inference engine, on the real clock with short timeouts.
/// </summary>
internal sealed class NodeCluster : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-node-" + Guid.NewGuid().ToString("N"));
    private readonly List<InferenceEngine> _engines = [];
    private readonly ulong[] _nonces = new ulong[4];

    public NodeCluster(int validators = 4)
    {
        Genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(ModelsDir())!, "devnet.json"));
        Models = GenesisModels.Load(ModelsDir());
        Keys = Enumerable.Range(0, validators).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        Nodes = new FullNode?[validators];
    }

    public InMemoryNetworkHub Hub { get; } = new();
    public Genesis Genesis { get; }
    public IReadOnlyList<Chain.Inference.Runtime.GenesisModel> Models { get; }
    public PrivateKey[] Keys { get; }
    public FullNode?[] Nodes { get; }
    public IEnumerable<FullNode> Running => Nodes.Where(n => n is not null)!;

    public static TimeoutConfig Timeouts { get; } = new(ProposeBaseMs: 1200, ProposeDeltaMs: 300, PrevoteBaseMs: 400, PrevoteDeltaMs: 200,
        PrecommitBaseMs: 400, PrecommitDeltaMs: 200);

    private static string ModelsDir() => GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");

    public string Home(int i) => Path.Combine(_dir, $"validator-{i}");

    /// <param name="network">Wraps the node's connection to the hub (e.g. to withhold a channel from it).</param>
    public FullNode Start(int i, FaultInjection? faults = null, Func<FullNodeOptions, FullNodeOptions>? tune = null, InMemoryNetworkHub? hub = null,
        Func<IPeerNetwork, IPeerNetwork>? network = null)
    {
        if (Nodes[i] is not null) throw new InvalidOperationException($"node {i} is running");
        var engine = new InferenceEngine(enableFastPath: false);
        _engines.Add(engine);
        var options = new FullNodeOptions($"validator-{i}", Home(i), Genesis, Keys[i], engine)
        {
            Timeouts = Timeouts,
            Faults = faults ?? FaultInjection.None,
            RegossipInterval = TimeSpan.FromMilliseconds(300),
            StatusInterval = TimeSpan.FromMilliseconds(300),
            SyncGrace = TimeSpan.FromMilliseconds(800),
            SyncRequestTimeout = TimeSpan.FromSeconds(2),
        };
        if (tune is not null) options = tune(options);
        var joined = (hub ?? Hub).Join(Keys[i].PublicKey);
        var node = new FullNode(options, network is null ? joined : network(joined));
        node.Start();
        return Nodes[i] = node;
    }

    public void StartAll(FaultInjection? faultsOfNode3 = null)
    {
        for (int i = 0; i < Nodes.Length; i++) Start(i, i == 3 ? faultsOfNode3 : null);
    }

    public async Task StopAsync(int i)
    {
        var node = Nodes[i] ?? throw new InvalidOperationException($"node {i} is not running");
        Nodes[i] = null;
        await node.StopAsync();
        Assert.Null(node.Failure);
    }

    /// <summary>Waits until <paramref name="condition"/> holds, failing with <paramref name="what"/> at the deadline.</summary>
    public static async Task WaitFor(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var until = DateTime.UtcNow + (deadline ?? Deadline);
        while (!condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"timed out waiting for: {what}");
            await Task.Delay(25);
        }
    }

    public Task WaitForHeight(ulong height, IEnumerable<FullNode>? nodes = null)
    {
        var set = (nodes ?? Running).ToList();
        return WaitFor(() => set.All(n => n.Metrics.Height >= height && n.Failure is null),
            $"height {height} on {string.Join(", ", set.Select(n => $"{n.Name}@{n.Metrics.Height}{(n.Failure is null ? "" : " failed: " + n.Failure.Message)}"))}");
    }

    public SignedTransaction Infer(int account, GenesisDigit digit)
    {
        var key = DevnetKeys.For($"account-{account}");
        var body = new InferBody(Models[1].ModelId, Canonical.Encode(GenesisModels.ImageTensor(digit.Pixels)), 1_000_000);
        return new Transaction(Genesis.ChainId, key.PublicKey, _nonces[account]++, 1_000_000, body).Sign(key);
    }

    public SignedTransaction Transfer(int account, Address to, ulong amount)
    {
        var key = DevnetKeys.For($"account-{account}");
        return new Transaction(Genesis.ChainId, key.PublicKey, _nonces[account]++, 10_000, new TransferBody(to, amount)).Sign(key);
    }

    /// <summary>Asserts that every given node stores the same blocks and receipts for heights 1..<paramref name="upTo"/>.</summary>
    public static void AssertSameChain(IReadOnlyList<FullNode> nodes, ulong upTo)
    {
        for (ulong h = 1; h <= upTo; h++)
        {
            var height = new Height(h);
            var reference = nodes[0].Executor.Blocks;
            var block = reference.LoadBlock(height) ?? throw new InvalidOperationException($"{nodes[0].Name} lacks height {h}");
            var receipts = reference.LoadReceipts(height).Select(r => r.Hash).ToList();
            foreach (var n in nodes.Skip(1))
            {
                Assert.Equal(block.Hash, n.Executor.Blocks.LoadBlock(height)?.Hash);
                Assert.Equal(receipts, n.Executor.Blocks.LoadReceipts(height).Select(r => r.Hash).ToList());
            }
        }
    }

    public static bool Included(FullNode node, SignedTransaction tx) => node.Executor.Blocks.FindTransaction(tx.Hash) is not null;

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Where(n => n is not null)) await node!.StopAsync();
        foreach (var engine in _engines) engine.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
