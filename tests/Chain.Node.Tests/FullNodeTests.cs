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
}
