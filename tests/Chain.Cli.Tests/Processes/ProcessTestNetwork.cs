using System.Diagnostics;
using Chain.Cli.Commands;
using Chain.Cli.Devnet;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using GenesisModel = Chain.Inference.Runtime.GenesisModel;
using Chain.Lab;
using Chain.Node;
using Chain.Rpc;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// A <see cref="LocalNetwork"/> of real `chain start` processes (the chain.dll beside the tests) in a temp
/// directory, plus what the multi-process tests share: signers with locally tracked nonces, the genesis digits
/// with their known answers, chain-wide identity checks, and on failure the tail of every node.log.
/// </summary>
internal sealed class ProcessTestNetwork : IAsyncDisposable
{
    /// <summary>Short consensus timeouts so a test sees many heights, but loose enough for 2 busy cores.</summary>
    public static void TestTimeouts(NodeConfig config) => LocalNetwork.ShortTimeouts(config);

    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly ITestOutputHelper _output;
    private bool _keep;

    private ProcessTestNetwork(ITestOutputHelper output, string directory, LocalNetwork network, IReadOnlyList<GenesisModel> models)
    {
        _output = output;
        Directory = directory;
        Net = network;
        Models = models;
        Digits = models.SelectMany(m => m.Digits.Select(d => (Model: m, Digit: d))).ToArray();
        KnownAnswers = Digits.ToDictionary(d => (d.Model.ModelId, GenesisModels.ImageTensor(d.Digit.Pixels).Hash), d => d.Digit.OutputHash);
    }

    public string Directory { get; }
    public LocalNetwork Net { get; }
    public int Count => Net.Nodes.Count;
    public IReadOnlyList<GenesisModel> Models { get; }
    public IReadOnlyList<(GenesisModel Model, GenesisDigit Digit)> Digits { get; }
    /// <summary>(model id, input tensor hash) → the output hash every honest validator must compute.</summary>
    public IReadOnlyDictionary<(Hash32 Model, Hash32 Input), Hash32> KnownAnswers { get; }
    public ChainId ChainId => Net.Genesis.ChainId;

    /// <summary>
    /// Runs <paramref name="body"/> on a fresh network of <paramref name="validators"/> processes; node i is started
    /// with <paramref name="extraArguments"/>(i). On failure prints where everything is and every log's tail, and
    /// keeps the directory; on success deletes it.
    /// </summary>
    public static async Task RunAsync(ITestOutputHelper output, string name, Func<ProcessTestNetwork, Task> body,
        int validators = 4, Func<int, string[]>? extraArguments = null, int? genesisValidators = null, Action<NodeConfig>? configure = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"chain-proc-{name}-{Guid.NewGuid():N}"[..48]);
        var modelsDir = GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found above the test binaries");
        var network = LocalNetwork.Create(directory, validators, HomeCommands.RepositoryGenesis(), configure: c =>
        {
            TestTimeouts(c);
            configure?.Invoke(c);
        }, launcher: Launcher(), genesisValidators: genesisValidators);
        var test = new ProcessTestNetwork(output, directory, network, GenesisModels.Load(modelsDir));
        try
        {
            for (int i = 0; i < validators; i++) network.Start(i, extraArguments?.Invoke(i) ?? []);
            await test.WaitForAsync("every node to commit height 1", async () => await test.MinHeightAsync() >= 1);
            await body(test);
            test.Log($"passed; {test.StaleNonceRetries} submissions retried over the commit/mempool-update race");
        }
        catch
        {
            test._keep = true;
            await test.DumpLogsAsync();
            throw;
        }
        finally
        {
            await test.DisposeAsync();
        }
    }

    /// <summary>`dotnet chain.dll`: the node program built beside the tests, not the test host.</summary>
    public static ProcessWorkerLauncher Launcher()
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        return new ProcessWorkerLauncher(host, [Path.Combine(AppContext.BaseDirectory, "chain.dll")]);
    }

    public void Log(string line) => _output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");

    public async Task DumpLogsAsync()
    {
        _output.WriteLine($"network directory (kept): {Directory}");
        for (int i = 0; i < Count; i++)
        {
            var node = Net.Nodes[i];
            // An exited node's code tells a crash (non-zero), SIGKILL (137) or an outside SIGTERM/SIGINT (0, "stopping") apart.
            string state = Net.IsRunning(i) ? "running" : $"exited with {(await Net.StopAsync(i, TimeSpan.Zero))?.ToString() ?? "?"}";
            _output.WriteLine($"--- node {i}: p2p {node.P2pPort}, rpc {node.RpcPort}, {state}, log {Net.LogPath(i)} (last 60 lines)");
            foreach (var line in ReadLog(i).Split('\n').TakeLast(60)) _output.WriteLine(line);
        }
    }

    /// <summary>The node's log so far (shared read: the node may still be writing).</summary>
    public string ReadLog(int i)
    {
        try
        {
            using var stream = new FileStream(Net.LogPath(i), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (IOException e)
        {
            return $"(log unreadable: {e.Message})";
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails naming <paramref name="what"/> at the deadline.</summary>
    public async Task WaitForAsync(string what, Func<Task<bool>> condition, TimeSpan? deadline = null, Func<string>? state = null)
    {
        var limit = deadline ?? Deadline;
        Log($"waiting for {what}");
        if (!await LocalNetwork.WaitUntilAsync(condition, limit, TimeSpan.FromMilliseconds(200)))
            throw new Xunit.Sdk.XunitException($"timed out after {limit.TotalSeconds:F0} s waiting for {what}; heights: {string.Join(", ", await HeightsAsync())}" +
                (state is null ? "" : $"; {state()}"));
    }

    public async Task<ulong?[]> HeightsAsync() => await Task.WhenAll(Enumerable.Range(0, Count).Select(i => Net.HeightAsync(i)));

    /// <summary>Lowest committed height among <paramref name="nodes"/> (all by default); 0 if one does not answer.</summary>
    public async Task<ulong> MinHeightAsync(IEnumerable<int>? nodes = null)
    {
        var heights = await Task.WhenAll((nodes ?? Enumerable.Range(0, Count)).Select(i => Net.HeightAsync(i)));
        return heights.Min(h => h ?? 0);
    }

    public async Task<ulong> MaxHeightAsync(IEnumerable<int> nodes)
    {
        var heights = await Task.WhenAll(nodes.Select(i => Net.HeightAsync(i)));
        return heights.Max(h => h ?? 0);
    }

    /// <summary>
    /// Every node in <paramref name="nodes"/> stores the same block at every height 1..<paramref name="upTo"/>
    /// (hash recomputed from the raw bytes by the client); returns node 0's blocks (of the first node listed).
    /// </summary>
    public async Task<IReadOnlyList<Block>> AssertIdenticalChainsAsync(ulong upTo, IEnumerable<int>? nodes = null)
    {
        var list = (nodes ?? Enumerable.Range(0, Count)).ToArray();
        var blocks = new List<Block>();
        for (ulong h = 1; h <= upTo; h++)
        {
            var served = await Task.WhenAll(list.Select(i => Net.Clients[i].BlockAsync(h)));
            var hashes = served.Select(s => s.Block.Hash).ToArray();
            Assert.True(hashes.Distinct().Count() == 1,
                $"fork at height {h}: {string.Join(", ", list.Zip(hashes, (i, x) => $"node {i} {x.ToString()[..12]}"))}");
            blocks.Add(served[0].Block);
        }
        Log($"nodes {string.Join(",", list)} agree on blocks 1..{upTo}");
        return blocks;
    }

    /// <summary>
    /// Each transaction is committed on every node in <paramref name="nodes"/> (proofs verified by the client) with
    /// the same height, block, receipt hash; an inference receipt's output hash is the known answer.
    /// </summary>
    public async Task AssertCommittedEverywhereAsync(IReadOnlyCollection<Hash32> hashes, IEnumerable<int>? nodes = null)
    {
        var list = (nodes ?? Enumerable.Range(0, Count)).ToArray();
        await WaitForAsync($"{hashes.Count} transactions committed on nodes {string.Join(",", list)}", async () =>
        {
            foreach (var hash in hashes)
                foreach (int i in list)
                    await Net.Clients[i].TransactionAsync(hash); // 404 (RpcClientException) means "not yet"
            return true;
        });
        foreach (var hash in hashes)
        {
            var found = await Task.WhenAll(list.Select(i => Net.Clients[i].TransactionAsync(hash)));
            Assert.Single(found.Select(f => (f.Served.Height, f.Served.BlockHash, f.Receipt.Hash)).Distinct());
            AssertKnownAnswer(found[0].Transaction, found[0].Receipt);
        }
        Log($"{hashes.Count} transactions committed identically on nodes {string.Join(",", list)}");
    }

    /// <summary>An Infer receipt of a genesis digit carries the known-answer output hash; anything else must succeed too.</summary>
    public void AssertKnownAnswer(SignedTransaction tx, Receipt receipt)
    {
        Assert.True(receipt.Status == ReceiptStatus.Success, $"transaction {tx.Hash}: {receipt.Status}");
        if (tx.Transaction.Body is not InferBody infer) return;
        var inference = receipt.Inference ?? throw new Xunit.Sdk.XunitException($"Infer transaction {tx.Hash} has no inference in its receipt");
        var input = Canonical.Decode<Tensor>(infer.Input).Hash;
        Assert.Equal(input, inference.InputHash);
        Assert.True(KnownAnswers.TryGetValue((infer.ModelId, input), out var expected), $"transaction {tx.Hash}: input is not a genesis digit");
        Assert.True(expected == inference.OutputHash, $"transaction {tx.Hash}: output {inference.OutputHash}, known answer {expected}");
    }

    /// <summary>The kinds of evidence a block carries (decoded from its canonical bytes).</summary>
    public static IEnumerable<Evidence> EvidenceOf(Block block) => block.Evidence.Select(e => Canonical.Decode<Evidence>(e));

    /// <summary>Submits in sync mode (mempool admission); returns the hash.</summary>
    /// <remarks>
    /// Retries a BadNonce that names a nonce above ours for a few seconds: between ChainExecutor.Commit and
    /// Mempool.Update (ValidatorNode.CommitBlock) the mempool counts the just-committed transactions both in the
    /// account's nonce and in its pending queue, so the next nonce is refused for that moment (a node bug, see
    /// docs/node.md). Any other refusal fails at once.
    /// </remarks>
    public async Task<Hash32> SubmitAsync(int node, SignedTransaction tx)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var response = await Net.Clients[node].SubmitAsync(tx, SubmitMode.Sync);
                Assert.Equal(tx.Hash.ToString(), response.Hash);
                return tx.Hash;
            }
            catch (RpcClientException e) when (e.Code == "BadNonce" && e.Message.Contains("pending)", StringComparison.Ordinal)
                && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                StaleNonceRetries++;
                await Task.Delay(20);
            }
        }
    }

    /// <summary>How often <see cref="SubmitAsync"/> met the commit/mempool-update race.</summary>
    public int StaleNonceRetries { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await Net.DisposeAsync();
        if (!_keep)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException e)
            {
                _output.WriteLine($"could not delete {Directory}: {e.Message}");
            }
        }
    }

    /// <summary>A funded key that signs with nonces tracked here (one signer submits through one node, in order).</summary>
    public sealed class Signer(ProcessTestNetwork network, string devnetKeyName)
    {
        private int _next;
        public PrivateKey Key { get; } = DevnetKeys.For(devnetKeyName);
        public ulong Nonce { get; private set; }

        /// <summary>An Infer of the next genesis digit (cycling through both models' digits).</summary>
        public SignedTransaction Infer(int? digit = null)
        {
            var (model, d) = network.Digits[(digit ?? _next++) % network.Digits.Count];
            var input = Canonical.Encode(GenesisModels.ImageTensor(d.Pixels));
            return Sign(new InferBody(model.ModelId, input, 1_000_000), 1_000_000);
        }

        public SignedTransaction Transfer(Address to, ulong amount) => Sign(new TransferBody(to, amount), 10_000);

        public SignedTransaction Sign(TransactionBody body, ulong fee) =>
            new Transaction(network.ChainId, Key.PublicKey, Nonce, fee, body).Sign(Key);

        /// <summary>Call once the node admitted the transaction made last.</summary>
        public void Accepted() => Nonce++;
    }

    /// <summary>SIGSTOP ("STOP") or SIGCONT ("CONT"): a frozen process looks partitioned away to its peers.</summary>
    public void Signal(int i, string signal)
    {
        var pid = Net.ProcessId(i) ?? throw new InvalidOperationException($"node {i} is not running");
        if (signal == "STOP") Net.Pause(i);
        else if (signal == "CONT") Net.Resume(i);
        else throw new ArgumentOutOfRangeException(nameof(signal), "STOP or CONT");
        Log($"sent SIG{signal} to node {i} (pid {pid})");
    }
}
