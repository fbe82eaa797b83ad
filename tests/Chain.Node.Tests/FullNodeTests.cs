using Chain.Consensus;
using Chain.Core.Protocol;
using Chain.Node.Host;

namespace Chain.Node.Tests;

public sealed class FullNodeTests
{
    [Fact]
    public async Task Four_nodes_finalize_inference_and_transfers_with_identical_blocks_and_receipts()
    {
        await using var cluster = new NodeCluster();
        cluster.StartAll();
        var digits = cluster.Models[1].Digits.Take(3).ToList();
        var txs = new List<SignedTransaction>();
        for (int i = 0; i < digits.Count; i++)
        {
            // One account per node: gossip is asynchronous, and a nonce must not arrive before its predecessor.
            var tx = cluster.Infer(i, digits[i]);
            Assert.Null(cluster.Nodes[i]!.Submit(tx)); // through different nodes: gossip carries them to the others
            txs.Add(tx);
        }
        var transfer = cluster.Transfer(2, cluster.Keys[0].Address, 5);
        Assert.Null(cluster.Nodes[2]!.Submit(transfer));
        txs.Add(transfer);

        await NodeCluster.WaitFor(() => cluster.Running.All(n => txs.All(t => NodeCluster.Included(n, t))), "every transaction on every node");
        // The height of the last block carrying them, from the store: Metrics.Height is set just after the block is
        // stored, so reading it here could miss that block.
        ulong height = txs.Max(t => cluster.Nodes[2]!.Executor.Blocks.FindTransaction(t.Hash)!.Value.Height.Value);
        NodeCluster.AssertSameChain(cluster.Running.ToList(), height);
        // Every inference receipt carries the shipped known answer for its digit.
        var produced = Enumerable.Range(1, (int)height)
            .SelectMany(h => cluster.Nodes[2]!.Executor.Blocks.LoadReceipts(new Chain.Core.Height((ulong)h)))
            .Where(r => r.Inference is not null).Select(r => r.Inference!.OutputHash).ToHashSet();
        Assert.Equal(digits.Select(d => d.OutputHash).ToHashSet(), produced);
        Assert.All(cluster.Running, n =>
        {
            Assert.True(n.Metrics.Peers == 3, $"{n.Name} has {n.Metrics.Peers} peers");
            Assert.Equal(0, n.Metrics.MisbehaviourReports);
            Assert.True(n.Metrics.MessagesIn > 0);
            Assert.Equal(0, n.Mempool.Count);
        });
    }

    [Fact]
    public async Task Every_committed_height_is_traced_stage_by_stage()
    {
        await using var cluster = new NodeCluster();
        var traces = new System.Collections.Concurrent.ConcurrentQueue<HeightStageTimes>();
        cluster.StartAll();
        foreach (var node in cluster.Running) node.HeightTraced += traces.Enqueue;
        await cluster.WaitForHeight(4);
        await NodeCluster.WaitFor(() => traces.Count(t => !t.Synced) >= 4 && traces.Any(t => t.Proposer), "traced heights, some proposed here");
        foreach (var t in traces.Where(t => !t.Synced))
        {
            Assert.True(t.CommitMs >= 0 && t.ApplyMs >= 0 && t.TotalMs >= t.CommitMs, t.ToString());
            Assert.Contains(t.Stages(), s => s.Stage == "total");
            if (t.Proposer) Assert.NotNull(t.BuildMs);
            else Assert.Null(t.BuildMs);
        }
        // A node that decided through the usual path saw the proposal, the prevote quorum and the precommit quorum.
        Assert.Contains(traces, t => t.ProposeMs is not null && t.PrevoteMs is not null && t.PrecommitMs is not null && t.VerifyMs is not null);
        Assert.All(cluster.Running, n => Assert.NotNull(n.LastStages));
    }
}
