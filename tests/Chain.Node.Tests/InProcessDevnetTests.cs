using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;

namespace Chain.Node.Tests;

public sealed class InProcessDevnetTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-devnet-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static string ModelsDir() => GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");

    [Fact]
    public void Four_validators_finalize_inference_with_identical_receipts_and_a_restarted_validator_resumes()
    {
        var genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(ModelsDir())!, "devnet.json"));
        var models = GenesisModels.Load(ModelsDir());
        var keys = Enumerable.Range(0, 4).Select(i => InProcessDevnet.DevnetKey($"validator-{i}")).ToArray();
        var account = InProcessDevnet.DevnetKey("account-1");
        ulong nonce = 0;
        using (var engine = new InferenceEngine(enableFastPath: false))
        using (var devnet = new InProcessDevnet(_dir, genesis, keys, engine))
        {
            foreach (var digit in models[1].Digits.Take(3))
            {
                var body = new InferBody(models[1].ModelId, Canonical.Encode(GenesisModels.ImageTensor(digit.Pixels)), 1_000_000);
                Assert.Null(devnet.Submit(new Transaction(genesis.ChainId, account.PublicKey, nonce++, 1_000_000, body).Sign(account)));
            }
            Assert.True(devnet.RunUntil(3, TimeSpan.FromSeconds(60)), "the devnet did not finalize height 3");
            var inferences = Enumerable.Range(1, 3).Select(h => devnet.Describe((ulong)h)).ToList();
            Assert.All(inferences, h => Assert.True(h.ReceiptsIdentical));
            Assert.Equal(3, inferences.Sum(h => h.Inferences));
            // Every receipt's output hash is the shipped known answer for that digit.
            var expected = models[1].Digits.Take(3).Select(d => d.OutputHash).ToHashSet();
            var produced = Enumerable.Range(1, 3).SelectMany(h => devnet.Nodes[2].Executor.Blocks.LoadReceipts(new Chain.Core.Height((ulong)h)))
                .Where(r => r.Inference is not null).Select(r => r.Inference!.OutputHash).ToHashSet();
            Assert.Equal(expected, produced);
        }

        // Reopen everything from RocksDB + WAL: the chain continues from where it stopped.
        using (var engine = new InferenceEngine(enableFastPath: false))
        using (var devnet = new InProcessDevnet(_dir, genesis, keys, engine))
        {
            Assert.All(devnet.Nodes, n => Assert.True(n.Executor.Height.Value >= 3));
            var transfer = new Transaction(genesis.ChainId, account.PublicKey, nonce, 10_000, new TransferBody(keys[0].Address, 5)).Sign(account);
            Assert.Null(devnet.Submit(transfer));
            ulong target = devnet.Nodes.Max(n => n.Executor.Height.Value) + 2;
            Assert.True(devnet.RunUntil(target, TimeSpan.FromSeconds(60)), "the reopened devnet did not make progress");
            Assert.True(devnet.Describe(target).ReceiptsIdentical);
            Assert.NotNull(devnet.Nodes[0].Executor.Blocks.FindTransaction(transfer.Hash));
        }
    }

    [Fact]
    public void A_transaction_for_another_chain_is_refused_by_every_mempool()
    {
        var genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(ModelsDir())!, "devnet.json"));
        var keys = Enumerable.Range(0, 4).Select(i => InProcessDevnet.DevnetKey($"validator-{i}")).ToArray();
        var account = InProcessDevnet.DevnetKey("account-0");
        using var engine = new InferenceEngine(enableFastPath: false);
        using var devnet = new InProcessDevnet(_dir, genesis, keys, engine);
        var wrong = new Transaction(new Chain.Core.ChainId("other-chain"), account.PublicKey, 0, 10_000, new TransferBody(keys[0].Address, 5)).Sign(account);
        var rejection = devnet.Submit(wrong);
        Assert.NotNull(rejection);
        Assert.All(devnet.Nodes, n => Assert.Equal(0, n.Mempool.Count));
    }
}
