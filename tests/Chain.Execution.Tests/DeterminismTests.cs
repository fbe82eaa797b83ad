using Chain.Core;
using Chain.Core.Protocol;
using Chain.Storage;
using FsCheck.Xunit;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>Same genesis, same transactions: identical blocks, receipts, roots and stored bytes, on every node.</summary>
public class DeterminismTests
{
    /// <summary>
    /// A seeded stream of blocks mixing valid transactions with every failure class: bad signatures, other
    /// chains, nonce gaps, low fees, overdrafts, unknown models, bad inputs, gas too low, refused models.
    /// </summary>
    internal static List<List<SignedTransaction>> Stream(int seed, int blocks)
    {
        var random = new Random(seed);
        var nonces = new ulong[Users];
        var models = new List<Hash32> { GenesisModelId };
        var result = new List<List<SignedTransaction>>();
        for (int b = 0; b < blocks; b++)
        {
            var txs = new List<SignedTransaction>();
            int count = random.Next(0, 9);
            for (int i = 0; i < count; i++)
            {
                int u = random.Next(Users);
                var key = User(u);
                int roll = random.Next(100);
                SignedTransaction tx;
                bool consumesNonce = true;
                if (roll < 30)
                {
                    ulong amount = (ulong)random.NextInt64(0, (long)InitialBalance / (random.Next(2) == 0 ? 4 : 1));
                    tx = Transfer(key, nonces[u], User(random.Next(Users)).Address, amount);
                }
                else if (roll < 55)
                {
                    var model = random.Next(6) == 0 ? Core.Hashing.DomainHash.Sha256(BitConverter.GetBytes(random.Next())) : models[random.Next(models.Count)];
                    var input = random.Next(6) == 0 ? Input(random.Next(), k: K + 1) : Input(random.Next());
                    ulong maxGas = random.Next(6) == 0 ? (ulong)random.Next(100, 600) : 10_000;
                    tx = Infer(key, nonces[u], model, input, maxGas);
                }
                else if (roll < 65)
                {
                    var bytes = random.Next(3) switch { 0 => RefusedModel(), 1 => GenesisModelBytes, _ => MatMulModel(random.Next(2, 1000)) };
                    tx = Register(key, nonces[u], "m" + random.Next(100), bytes);
                    models.Add(Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, bytes));
                }
                else
                {
                    consumesNonce = false;
                    var good = Transfer(key, nonces[u], User(0).Address, 1);
                    tx = random.Next(5) switch
                    {
                        0 => new SignedTransaction(good.Transaction, Transfer(key, nonces[u] + 1, User(0).Address, 1).Signature),
                        1 => Transfer(key, nonces[u], User(0).Address, 1, chain: new ChainId("elsewhere")),
                        2 => Transfer(key, nonces[u] + 1 + (ulong)random.Next(3), User(0).Address, 1),
                        3 => Transfer(key, nonces[u], User(0).Address, 1, fee: 10),
                        _ => Transfer(Key("pauper"), 0, User(0).Address, 1),
                    };
                }
                if (consumesNonce) nonces[u]++;
                txs.Add(tx);
            }
            result.Add(txs);
        }
        return result;
    }

    // Every stored entry as "column/key=value" hex, in store order.
    private static List<string> Dump(IKeyValueStore store) =>
        Columns.All.SelectMany(c => store.Iterate(c).Select(e =>
            $"{Columns.Name(c)}/{Convert.ToHexStringLower(e.Key)}={Convert.ToHexStringLower(e.Value)}")).ToList();

    private static void AssertSameExecution(int seed, int blocks)
    {
        var stream = Stream(seed, blocks);
        var storeA = new InMemoryStore();
        var storeB = new InMemoryStore();
        var storeV = new InMemoryStore();
        var a = new ChainExecutor(Fixture.Genesis(), storeA, new InMemoryStateBackend(), Runner());
        // No inference cache at all on B, and a model cache that keeps only the model in use (every switch of model
        // evicts and later reloads): neither cache may change any result.
        var engineB = new Inference.Runtime.InferenceEngine(enableFastPath: false, modelCacheBytes: 0);
        var b = new ChainExecutor(Fixture.Genesis(), storeB, new InMemoryStateBackend(), new InferenceRunner(engineB, 0));
        var v = new ChainExecutor(Fixture.Genesis(), storeV, new InMemoryStateBackend(), Runner());
        Commit? lastA = null, lastB = null;
        var statuses = new HashSet<ReceiptStatus>();
        var rejections = new HashSet<RejectCode>();
        foreach (var txs in stream)
        {
            var pa = a.BuildBlock(Context(a, lastA), txs);
            var pb = b.BuildBlock(Context(b, lastB), txs);
            Assert.Equal(pa.Block.Encoded.ToArray(), pb.Block.Encoded.ToArray());
            Assert.Equal(pa.Receipts.Select(r => r.Encoded.ToArray()), pb.Receipts.Select(r => r.Encoded.ToArray()));
            Assert.Equal(pa.Skipped.Select(s => (s.Transaction.Hash, s.Reason.Code)), pb.Skipped.Select(s => (s.Transaction.Hash, s.Reason.Code)));

            var verdict = v.VerifyProposal(pa.Block, pa.Receipts);
            Assert.True(verdict.Accepted, verdict.Failure?.Message);

            var commit = CommitFor(pa.Block);
            a.Commit(pa.Block, commit);
            b.Commit(pb.Block, commit);
            v.Commit(pa.Block, commit);
            lastA = lastB = commit;
            Assert.Equal(a.StateRoot, b.StateRoot);
            Assert.Equal(a.StateRoot, v.StateRoot);
            Assert.Equal(pa.Block.Header.StateRoot, a.StateRoot);
            foreach (var r in pa.Receipts) statuses.Add(r.Status);
            foreach (var s in pa.Skipped) rejections.Add(s.Reason.Code);
        }
        var dumpA = Dump(storeA);
        Assert.Equal(dumpA, Dump(storeB));
        Assert.Equal(dumpA, Dump(storeV));
        // The stream really exercised failures, or this test would prove little.
        if (blocks >= 8)
        {
            Assert.Contains(ReceiptStatus.Success, statuses);
            Assert.True(statuses.Count >= 3, "expected several receipt statuses, saw " + string.Join(",", statuses));
            Assert.True(rejections.Count >= 2, "expected several rejection codes, saw " + string.Join(",", rejections));
        }
        // Each load after the first evicted the model before it (nothing is pinned between blocks).
        Assert.Equal(Math.Max(0, engineB.ModelCacheMisses - 1), engineB.ModelCacheEvictions);
        Console.WriteLine($"seed {seed}: one-model cache on B: {engineB.ModelCacheMisses} loads, {engineB.ModelCacheEvictions} evictions");
    }

    [Property(MaxTest = 8)]
    public void Independent_nodes_agree_on_every_block(int seed) => AssertSameExecution(seed, 4);

    [Theory]
    [InlineData(1)]
    [InlineData(20260101)]
    public void A_long_seeded_stream_agrees_and_covers_failures(int seed) => AssertSameExecution(seed, 10);
}
