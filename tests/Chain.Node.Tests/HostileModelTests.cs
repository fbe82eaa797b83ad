using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Rpc;
using Chain.Storage;
using Xunit.Abstractions;
using Chain.Testing;

namespace Chain.Node.Tests;

/// <summary>
/// Issue 11, end to end: a model whose static memory plan is far above <see cref="AdmissionLimits.MaxArenaBytes"/>
/// (4000 live [2048,2048] int64 intermediates, 32 MiB each: 125 GiB if anyone ever ran it) registered on a running
/// chain. Wherever it is refused — at the mempool, or in the block a (byzantine or honest) proposer put it in — the
/// refusal names <c>[memory]</c>, no node allocates anything like it, and the chain goes on identically.
/// </summary>
public sealed class HostileModelTests(ITestOutputHelper output)
{
    private const int Adds = 4000, Side = 2048;

    /// <summary>The 4000 live 32 MiB broadcast Adds (<see cref="HostileModels.BroadcastAdds"/>).</summary>
    internal static byte[] HostileModel() => HostileModels.BroadcastAdds(Adds, allOutputs: true, Side).ToBytes();

    private static readonly Lazy<byte[]> Bytes = new(HostileModel);

    /// <summary>A RegisterModel of the hostile model from the devnet account <paramref name="account"/>, fee = its gas limit.</summary>
    private static SignedTransaction Register(Genesis genesis, string account, ulong nonce)
    {
        var key = DevnetKeys.For(account);
        var body = new RegisterModelBody("hostile-4000-adds", Bytes.Value);
        var unsigned = new Transaction(genesis.ChainId, key.PublicKey, nonce, 0, body);
        ulong fee = Gas.MinFee(unsigned, genesis.Parameters);
        return new Transaction(genesis.ChainId, key.PublicKey, nonce, fee, body).Sign(key);
    }

    private static Genesis DevnetGenesis()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");
        return GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json"));
    }

    /// <summary>hash(model, bytes), as RegisterModel computes it (without running admission again).</summary>
    private static Hash32 ModelId => new RegisterModelBody("id", Bytes.Value).ModelId;

    [Fact]
    public void HostileModel_registration_is_refused_with_the_memory_reason_code_on_one_line()
    {
        var clock = Stopwatch.StartNew();
        var check = ModelRegistry.Check(Bytes.Value, DevnetKeys.For("account-0").Address, "hostile", 1);
        output.WriteLine($"model {Bytes.Value.Length} bytes; registration check {clock.ElapsedMilliseconds} ms: {check.Refusal}");
        Assert.False(check.Accepted);
        Assert.NotNull(check.Refusal);
        Assert.Contains("[memory]", check.Refusal);
        Assert.Contains($"limit of {AdmissionLimits.MaxArenaBytes}", check.Refusal);
        Assert.DoesNotContain('\n', check.Refusal);
        // The model fits a transaction: nothing but the memory rule stands between it and the chain.
        Assert.True(Bytes.Value.Length < ProtocolLimits.MaxModelBytes);
        Assert.True(Register(DevnetGenesis(), "account-0", 0).Encoded.Length <= (int)DevnetGenesis().Parameters.MaxTxBytes);
    }

    /// <summary>
    /// A proposer that puts the transaction in its block anyway (a byzantine one skipping any mempool check does exactly
    /// this: BuildBlock on its own candidates): every validator's re-execution agrees on a ModelRejected receipt, the fee
    /// is paid, nothing is registered, and nothing near the plan's size is allocated.
    /// </summary>
    [Fact]
    public void HostileModel_in_a_proposed_block_executes_to_ModelRejected_on_every_validator()
    {
        var genesis = DevnetGenesis();
        var validators = Enumerable.Range(0, 4).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        using var proposerEngine = new InferenceEngine(enableFastPath: false);
        using var verifierEngine = new InferenceEngine(enableFastPath: false);
        var proposer = Open(genesis, proposerEngine);
        var verifier = Open(genesis, verifierEngine);
        var sender = DevnetKeys.For("account-0");
        var before = proposer.GetAccount(sender.Address);

        var hostile = Register(genesis, "account-0", 0);
        var transfer = new Transaction(genesis.ChainId, sender.PublicKey, 1, 10_000, new TransferBody(validators[1].Address, 5)).Sign(sender);
        long heapBefore = GC.GetTotalMemory(true);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var proposal = proposer.BuildBlock(new ProposalContext(genesis.GenesisTimeMs + 1_000, validators[1].Address, null), [hostile, transfer]);
        Assert.Empty(proposal.Skipped);
        Assert.Equal([hostile.Hash, transfer.Hash], proposal.Block.Transactions.Select(t => t.Hash));
        var verdict = verifier.VerifyProposal(proposal.Block, proposal.Receipts);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        long heapGrowth = GC.GetTotalMemory(false) - heapBefore;
        output.WriteLine($"build + verify allocated {allocated >> 20} MiB in all, heap +{heapGrowth >> 20} MiB");

        Assert.True(verdict.Accepted, verdict.Failure?.ToString());
        Assert.Equal(proposal.Receipts.Select(r => r.Hash), verdict.Receipts!.Select(r => r.Hash));
        var receipt = proposal.Receipts[0];
        Assert.Equal(ReceiptStatus.ModelRejected, receipt.Status);
        Assert.Null(receipt.Inference);
        Assert.Equal(ReceiptStatus.Success, proposal.Receipts[1].Status);
        // Two admissions of the model (proposer and verifier) at most allocate bookkeeping, never one 32 MiB tensor each.
        Assert.True(allocated < 256L << 20, $"building and verifying the block allocated {allocated} bytes");

        var commit = new Commit(proposal.Block.Height, new Round(0), proposal.Block.Hash, validators.Select(key =>
        {
            var vote = new Vote(VoteType.Precommit, proposal.Block.Height, new Round(0), proposal.Block.Hash, proposal.Block.Header.TimeMs + 1, key.Address);
            return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(genesis.ChainId)));
        }));
        foreach (var executor in new[] { proposer, verifier })
        {
            executor.Commit(proposal.Block, commit);
            Assert.Null(executor.GetModel(ModelId));
            Assert.Null(executor.GetModelCode(ModelId));
            var after = executor.GetAccount(sender.Address);
            Assert.Equal(before.Nonce + 2, after.Nonce);
            Assert.Equal(before.Balance - hostile.Transaction.Fee - transfer.Transaction.Fee - 5, after.Balance);
        }
        Assert.Equal(proposer.StateRoot, verifier.StateRoot);
    }

    private static ChainExecutor Open(Genesis genesis, InferenceEngine engine)
    {
        var store = new InMemoryStore();
        return new ChainExecutor(genesis, store, JellyfishStateBackend.Open(store), new InferenceRunner(engine));
    }

    /// <summary>
    /// Four validators on the in-memory network. The hostile RegisterModel is submitted through node 0: either the
    /// mempool refuses it naming [memory], or it is included and every node records the same ModelRejected receipt.
    /// Meanwhile the process's GC heap (all four nodes live in it) never grows by more than 512 MiB — one node running
    /// the model would need 125 GiB — and afterwards a transfer and a genesis-model Infer commit with identical blocks
    /// and receipts everywhere while heights keep advancing.
    /// </summary>
    [Fact]
    public async Task HostileModel_is_refused_on_a_four_node_network_without_memory_growth_and_the_chain_keeps_committing()
    {
        var clock = Stopwatch.StartNew();
        await using var cluster = new NodeCluster();
        cluster.StartAll();
        await cluster.WaitForHeight(1);
        var nodes = cluster.Running.ToList();
        _ = Bytes.Value; // built before the baseline

        long baseline = GC.GetTotalMemory(true);
        long peak = baseline;
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                long now = GC.GetTotalMemory(false);
                if (now > Volatile.Read(ref peak)) Volatile.Write(ref peak, now);
                try { await Task.Delay(5, stopSampling.Token); } catch (OperationCanceledException) { }
            }
        });

        // account-2 is not used by the cluster's nonce-tracking helpers below (accounts 0 and 1 are).
        var hostile = Register(cluster.Genesis, "account-2", 0);
        var rejection = nodes[0].Submit(hostile);
        ulong refusedAt;
        if (rejection is not null)
        {
            output.WriteLine($"mempool refused the model: {rejection}");
            Assert.Contains("[memory]", rejection.Message);
            Assert.DoesNotContain('\n', rejection.Message);
            refusedAt = nodes.Min(n => n.Metrics.Height);
        }
        else
        {
            output.WriteLine("mempool admitted the model; waiting for the block that includes it");
            await NodeCluster.WaitFor(() => nodes.All(n => NodeCluster.Included(n, hostile)), "the hostile RegisterModel in a block on every node");
            var receipts = nodes.Select(n =>
            {
                var (height, index) = n.Executor.Blocks.FindTransaction(hostile.Hash)!.Value;
                return (Height: height, Receipt: n.Executor.Blocks.LoadReceipt(height, index)!);
            }).ToList();
            Assert.Single(receipts.Select(r => (r.Height, r.Receipt.Hash)).Distinct());
            Assert.Equal(ReceiptStatus.ModelRejected, receipts[0].Receipt.Status);
            refusedAt = receipts[0].Height.Value;
            output.WriteLine($"included at height {refusedAt} with receipt status {receipts[0].Receipt.Status} on every node");
        }
        Assert.All(nodes, n => Assert.Null(n.Executor.GetModel(ModelId)));

        // The chain goes on: a transfer and an Infer on a genesis model, through other nodes, commit identically.
        var digit = cluster.Models[1].Digits[0];
        var infer = cluster.Infer(1, digit);
        var transfer = cluster.Transfer(0, cluster.Keys[3].Address, 7);
        Assert.Null(nodes[1].Submit(infer));
        Assert.Null(nodes[2].Submit(transfer));
        await NodeCluster.WaitFor(() => nodes.All(n => NodeCluster.Included(n, infer) && NodeCluster.Included(n, transfer)),
            "the transfer and the Infer on every node");
        await cluster.WaitForHeight(refusedAt + 3);
        stopSampling.Cancel();
        await sampler;
        long after = GC.GetTotalMemory(false);

        ulong height = nodes.Min(n => n.Metrics.Height);
        NodeCluster.AssertSameChain(nodes, height);
        var (inferHeight, inferIndex) = nodes[3].Executor.Blocks.FindTransaction(infer.Hash)!.Value;
        var inferReceipt = nodes[3].Executor.Blocks.LoadReceipt(inferHeight, inferIndex)!;
        Assert.Equal(ReceiptStatus.Success, inferReceipt.Status);
        Assert.Equal(digit.OutputHash, inferReceipt.Inference!.OutputHash);
        var (transferHeight, transferIndex) = nodes[3].Executor.Blocks.FindTransaction(transfer.Hash)!.Value;
        Assert.Equal(ReceiptStatus.Success, nodes[3].Executor.Blocks.LoadReceipt(transferHeight, transferIndex)!.Status);
        Assert.All(nodes, n =>
        {
            Assert.Null(n.Failure);
            Assert.Equal(0, n.Metrics.MisbehaviourReports);
            Assert.Null(n.Executor.GetModel(ModelId));
        });
        if (rejection is not null)
            Assert.All(nodes, n => Assert.False(NodeCluster.Included(n, hostile), $"{n.Name} included the refused transaction"));

        output.WriteLine($"heap: baseline {baseline >> 20} MiB, peak {Volatile.Read(ref peak) >> 20} MiB, after {after >> 20} MiB; " +
                         $"heights {refusedAt} → {height}; {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(Volatile.Read(ref peak) - baseline < 512L << 20, $"the heap peaked at {Volatile.Read(ref peak)} bytes from {baseline}");
        Assert.True(after - baseline < 512L << 20, $"the heap is at {after} bytes from {baseline}");
    }

    /// <summary>
    /// The gossip path (issue 14): a peer that gossips the hostile RegisterModel finds it refused by the same rule the
    /// RPC applies (<see cref="TransactionRules.CheckBody"/> in <see cref="Mempool.Add"/>): it is not admitted and not
    /// passed on, while a valid transaction gossiped right after it is. The node does not blame the peer (an honest
    /// peer with an older rule set could have sent it). Before the mempool ran this rule, the model was admitted here.
    /// </summary>
    [Fact]
    public async Task HostileModel_arriving_by_gossip_is_refused_by_the_mempool_and_not_passed_on()
    {
        await using var cluster = new NodeCluster();
        var node = cluster.Start(0); // alone: it decides nothing, so the mempool keeps what it admits
        using var peer = cluster.Hub.Join(Chain.Core.Crypto.PrivateKey.FromSeed(new byte[32]).PublicKey);
        var target = new Chain.Network.PeerId(cluster.Keys[0].PublicKey);
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 1, "the gossiping peer connected");

        var hostile = Register(cluster.Genesis, "account-2", 0);
        var transfer = cluster.Transfer(0, cluster.Keys[1].Address, 5);
        Assert.True(peer.Send(target, Chain.Network.MessageChannel.Transactions, new Chain.Node.Host.TransactionBatch([hostile]).Encoded.ToArray()));
        Assert.True(peer.Send(target, Chain.Network.MessageChannel.Transactions, new Chain.Node.Host.TransactionBatch([transfer]).Encoded.ToArray()));
        // The gossip worker takes batches in order: once the transfer is in, the model was judged.
        // The worker counts a batch once the mempool took it, a moment after the mempool shows it: wait for both.
        await NodeCluster.WaitFor(() => node.Mempool.Contains(transfer.Hash) && node.Metrics.TransactionsGossiped >= 1, "the transfer gossiped after the model admitted");

        Assert.False(node.Mempool.Contains(hostile.Hash));
        Assert.Equal(1, node.Mempool.Count);
        Assert.Equal(1, node.Metrics.TransactionsGossiped); // the transfer only
        Assert.Equal(0, node.Metrics.MisbehaviourReports);
        var again = node.Mempool.Add(hostile);
        Assert.NotNull(again);
        Assert.Equal(RejectCode.ModelRejected, again.Code);
        Assert.Contains("[memory]", again.Message);
        Assert.Contains(ModelId.ToString(), again.Message);
        Assert.DoesNotContain('\n', again.Message);
        Assert.Null(node.Failure);
    }

    /// <summary>
    /// What a client sees over the RPC (an <see cref="InProcessRpcNode"/> behind a real <see cref="RpcServer"/>): POST /txs
    /// refuses the registration before the mempool with a one-line 422 JSON error whose code is the receipt status it
    /// would have got (ModelRejected) and whose message carries admission's reason, [memory]. Nothing is admitted.
    /// </summary>
    [Fact]
    public async Task HostileModel_over_rpc_is_a_one_line_422_naming_memory()
    {
        var genesis = DevnetGenesis();
        var validators = Enumerable.Range(0, 4).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        using var engine = new InferenceEngine(enableFastPath: false);
        var node = new InProcessRpcNode(genesis, validators, new InferenceRunner(engine)) { ProduceBlockOnSubmit = true };
        await using var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        var hostile = Register(genesis, "account-0", 0);
        foreach (var mode in new[] { "sync", "commit" })
        {
            using var content = new ByteArrayContent(hostile.Encoded.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await http.PostAsync($"txs?mode={mode}&timeoutMs=30000", content);
            var body = await response.Content.ReadAsStringAsync();
            output.WriteLine($"POST /txs?mode={mode} → {(int)response.StatusCode}: {body}");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            using var json = System.Text.Json.JsonDocument.Parse(body);
            Assert.Equal("ModelRejected", json.RootElement.GetProperty("code").GetString());
            var error = json.RootElement.GetProperty("error").GetString()!;
            Assert.Contains("[memory]", error);
            Assert.Contains(ModelId.ToString(), error);
            Assert.DoesNotContain('\n', error);
        }
        Assert.Equal(0, node.Mempool.Count);
        Assert.Null(node.Blocks.FindTransaction(hostile.Hash));
        Assert.Equal(0UL, node.Executor.GetAccount(DevnetKeys.For("account-0").Address).Nonce); // not charged
        Assert.Null(node.BackgroundFailure);
        Assert.Equal(1UL, node.ProduceBlock().Height.Value); // and the node goes on
    }
}
