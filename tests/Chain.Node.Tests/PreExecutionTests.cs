using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Network;
using Xunit.Abstractions;

namespace Chain.Node.Tests;

/// <summary>
/// Issue 14: the mempool's pre-execution runs in a live node. Infer transactions gossiped to four validators are
/// pre-executed by each node's worker while consensus is held back, so their inference outcomes are in every node's
/// cache before any block carrying them is built or verified; then building and verifying that block finds every
/// inference and every signature done (hits) and computes none on the spot (no misses).
/// </summary>
public sealed class PreExecutionTests(ITestOutputHelper output)
{
    private volatile bool _consensusHeld;

    [Fact]
    public async Task Infer_transactions_are_pre_executed_before_their_block_and_block_execution_only_hits_the_caches()
    {
        await using var cluster = new NodeCluster();
        // Every node's connection drops incoming consensus messages while consensus is held back.
        // A proposer with an empty mempool waits (MinBlockInterval) and builds once a transaction is pending and
        // pre-executed; later rounds' proposers find them long pre-executed. So no block is ever built from them ahead
        // of the cache, and the counters below can start before they are submitted.
        for (int i = 0; i < 4; i++)
            cluster.Start(i, network: inner => new IncomingFilter(inner, m => !(_consensusHeld && m.Channel == MessageChannel.Consensus)),
                tune: o => o with { MinBlockInterval = TimeSpan.FromSeconds(1) });
        await cluster.WaitForHeight(1);
        var nodes = cluster.Running.ToList();

        // Hold consensus back: no node can decide a height, so nothing submitted from now on reaches a block yet.
        _consensusHeld = true;
        var before = nodes.Select(n => Snapshot(n.Executor.CacheCounters)).ToList();
        var digits = cluster.Models[1].Digits.Take(4).ToList();
        var txs = digits.Select(d => cluster.Infer(0, d)).ToList();
        var inputs = txs.Select(t => Canonical.Decode<Tensor>(((InferBody)t.Transaction.Body).Input).Hash).Distinct().ToList();
        Assert.Equal(txs.Count, inputs.Count);
        foreach (var tx in txs) Assert.Null(nodes[0].Submit(tx)); // one sender through one node: gossip keeps the nonce order

        // Every node's worker pre-executes every one of them (a node without the worker never gets here).
        await NodeCluster.WaitFor(() => nodes.All(n => n.Mempool.PreExecuted >= txs.Count),
            "pre-execution of the Infer transactions on every node: " + string.Join(", ", nodes.Select(n => $"{n.Name} {n.Mempool.PreExecuted}")),
            TimeSpan.FromSeconds(60));
        var model = cluster.Models[1].ModelId;
        foreach (var n in nodes)
        {
            Assert.All(inputs, input => Assert.True(n.Inference.IsCached(model, input), $"{n.Name} lacks a pre-executed outcome"));
            Assert.All(txs, tx => Assert.False(NodeCluster.Included(n, tx)));
            Assert.Null(n.PreExecutionFailure);
        }
        _consensusHeld = false;
        await NodeCluster.WaitFor(() => nodes.All(n => txs.All(tx => NodeCluster.Included(n, tx))), "the Infer transactions committed on every node");

        for (int i = 0; i < nodes.Count; i++)
        {
            var counters = nodes[i].Executor.CacheCounters;
            var (inferenceHits, inferenceMisses, signatureHits, signatureMisses) = Snapshot(counters);
            output.WriteLine($"{nodes[i].Name}: {counters}; pre-executed {nodes[i].Mempool.PreExecuted}, queue {nodes[i].Mempool.PreExecutionQueueDepth}");
            // Each node built or verified the block(s) carrying them at least once, and found everything done.
            Assert.True(inferenceHits - before[i].InferenceHits >= txs.Count, $"{nodes[i].Name}: inference hits {counters}");
            Assert.Equal(before[i].InferenceMisses, inferenceMisses);
            Assert.True(signatureHits - before[i].SignatureHits >= txs.Count, $"{nodes[i].Name}: signature hits {counters}");
            Assert.Equal(before[i].SignatureMisses, signatureMisses);
            Assert.Null(nodes[i].Failure);
        }
        NodeCluster.AssertSameChain(nodes, nodes.Min(n => n.Metrics.Height));
    }

    [Fact]
    public async Task The_pre_execution_worker_stops_with_the_node()
    {
        await using var cluster = new NodeCluster();
        var node = cluster.Start(0);
        var tx = cluster.Infer(0, cluster.Models[1].Digits[0]);
        Assert.Null(node.Submit(tx));
        await NodeCluster.WaitFor(() => node.Mempool.PreExecuted == 1, "the lone node's worker pre-executed the transaction", TimeSpan.FromSeconds(60));
        await cluster.StopAsync(0).WaitAsync(TimeSpan.FromSeconds(30)); // StopAsync awaits the worker before closing the store
        Assert.Null(node.PreExecutionFailure);
    }

    private static (long InferenceHits, long InferenceMisses, long SignatureHits, long SignatureMisses) Snapshot(Execution.ExecutionCacheCounters c) =>
        (c.InferenceHits, c.InferenceMisses, c.SignatureHits, c.SignatureMisses);
}
