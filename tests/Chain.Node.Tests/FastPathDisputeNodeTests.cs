using Chain.Core;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Node.Host;
using Chain.Testing;

namespace Chain.Node.Tests;

/// <summary>
/// Two of four validators run a fast path that is wrong on one rare input. A block carrying that input is
/// settled by canonical re-execution on those two: it commits, nobody is accused, and the chain goes on.
/// </summary>
public sealed class FastPathDisputeNodeTests
{
    private static readonly int[] Faulty = [1, 2];

    [Fact]
    public async Task A_block_with_an_input_two_fast_paths_get_wrong_commits_without_evidence_and_the_chain_goes_on()
    {
        var models = GenesisModels.Load(GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found"));
        var model = models[1]; // the one NodeCluster.Infer uses
        var rare = model.Digits[3];
        var rareInput = GenesisModels.ImageTensor(rare.Pixels).Hash;
        var engines = new InferenceEngine?[4];
        var fastPaths = Faulty.ToDictionary(i => i, _ => new List<FlippingFastPath>());
        try
        {
            await using var cluster = new NodeCluster();
            int evidence = 0;
            var disputes = Faulty.ToDictionary(i => i, _ => new List<InferenceDispute>());
            for (int i = 0; i < 4; i++)
            {
                FullNode node;
                if (Faulty.Contains(i))
                {
                    var built = fastPaths[i];
                    var engine = engines[i] = new InferenceEngine(fastPathFactory: bytes =>
                    {
                        var fast = new FlippingFastPath(bytes, rareInput);
                        lock (built) built.Add(fast);
                        return fast;
                    });
                    // A faulty node gets transactions only inside blocks, so it never proposes the rare input itself:
                    // a proposer whose fast path is wrong would be at fault (FastPathDisputeTests covers that case).
                    node = cluster.Start(i, tune: o => o with { Engine = engine }, network: IncomingFilter.TransactionsWithheld);
                    var seen = disputes[i];
                    node.Executor.Disputed += d => { lock (seen) seen.Add(d); };
                }
                else
                {
                    node = cluster.Start(i);
                }
                node.EvidenceRecorded += _ => Interlocked.Increment(ref evidence);
            }
            var nodes = cluster.Running.ToList();

            // An ordinary inference first: the faulty nodes' fast paths serve it, and agree.
            var ordinary = cluster.Infer(0, model.Digits[0]);
            Assert.Null(nodes[0].Submit(ordinary));
            await NodeCluster.WaitFor(() => nodes.All(n => NodeCluster.Included(n, ordinary)), "the ordinary inference committed everywhere");
            foreach (int i in Faulty)
            {
                var fast = FastPathOf(fastPaths[i], model.ModelId);
                Assert.True(engines[i]!.Choices.Single(c => c.ModelId == model.ModelId).UsesFastPath);
                Assert.Equal(0, fast.Flips);
                Assert.Empty(disputes[i]);
            }

            // The rare input.
            var rareTx = cluster.Infer(1, rare);
            Assert.Null(nodes[0].Submit(rareTx));
            await NodeCluster.WaitFor(() => nodes.All(n => NodeCluster.Included(n, rareTx)), "the rare inference committed everywhere");

            // The fault really happened on both faulty nodes, was settled by canonical in the block's favour, and
            // took that model off their fast path.
            foreach (int i in Faulty)
            {
                var fast = FastPathOf(fastPaths[i], model.ModelId);
                Assert.True(fast.Flips >= 1, $"validator-{i}'s fast path never saw the rare input");
                List<InferenceDispute> seen;
                lock (disputes[i]) seen = [.. disputes[i]];
                Assert.Contains(seen, d => d.Accepted && d.Differed >= 1);
                Assert.All(seen, d => Assert.True(d.Accepted, d.ToString()));
                Assert.Equal(1, engines[i]!.Fallbacks);
                var choice = engines[i]!.Choices.Single(c => c.ModelId == model.ModelId);
                Assert.False(choice.UsesFastPath);
                Assert.Contains($"fast path differed from canonical on input {rareInput}", choice.Reason);
            }

            // The chain keeps committing, inference included, on every node.
            var after = cluster.Infer(0, model.Digits[4]);
            Assert.Null(nodes[0].Submit(after));
            await NodeCluster.WaitFor(() => nodes.All(n => NodeCluster.Included(n, after)), "an inference after the dispute committed everywhere");
            await cluster.WaitForHeight(nodes.Max(n => n.Metrics.Height) + 2);

            ulong height = nodes.Min(n => n.Metrics.Height);
            NodeCluster.AssertSameChain(nodes, height);
            // Nobody was accused: no evidence recorded, none in any block.
            Assert.Equal(0, Volatile.Read(ref evidence));
            for (ulong h = 1; h <= height; h++)
                Assert.Empty(nodes[0].Executor.Blocks.LoadBlock(new Height(h))!.Evidence);
            // Every node stored the canonical output of the rare input (its shipped known answer).
            var (at, _) = nodes[0].Executor.Blocks.FindTransaction(rareTx.Hash) ?? throw new InvalidOperationException("rare transaction not found");
            foreach (var node in nodes)
            {
                var receipt = node.Executor.Blocks.LoadReceipts(at).Single(r => r.TransactionHash == rareTx.Hash);
                Assert.Equal(rare.OutputHash, receipt.Inference?.OutputHash);
            }
        }
        finally
        {
            foreach (var engine in engines) engine?.Dispose();
        }
    }

    private static FlippingFastPath FastPathOf(List<FlippingFastPath> built, Hash32 modelId)
    {
        lock (built) return built.Single(f => f.ModelId == modelId);
    }
}
