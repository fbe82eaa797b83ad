using Chain.Consensus;
using Chain.Core.Protocol;

namespace Chain.Node.Tests;

public sealed class RestartAndSyncTests
{
    [Fact]
    public async Task A_stopped_node_restarted_on_its_directory_catches_up_by_block_sync_without_forking()
    {
        await using var cluster = new NodeCluster();
        cluster.StartAll();
        int duplicateVotes = 0;
        foreach (var n in cluster.Running) n.EvidenceRecorded += e => { if (e is DuplicateVoteEvidence) Interlocked.Increment(ref duplicateVotes); };
        var txs = new List<SignedTransaction> { cluster.Infer(0, cluster.Models[1].Digits[0]), cluster.Transfer(1, cluster.Keys[2].Address, 7) };
        Assert.Null(cluster.Nodes[0]!.Submit(txs[0]));
        Assert.Null(cluster.Nodes[1]!.Submit(txs[1]));
        await NodeCluster.WaitFor(() => cluster.Running.All(n => txs.All(t => NodeCluster.Included(n, t))), "first transactions everywhere");

        await cluster.StopAsync(3);
        var whileAway = new List<SignedTransaction> { cluster.Infer(0, cluster.Models[1].Digits[1]), cluster.Transfer(0, cluster.Keys[1].Address, 3), cluster.Infer(1, cluster.Models[1].Digits[2]) };
        Assert.Null(cluster.Nodes[0]!.Submit(whileAway[0]));
        Assert.Null(cluster.Nodes[0]!.Submit(whileAway[1]));
        Assert.Null(cluster.Nodes[1]!.Submit(whileAway[2]));
        txs.AddRange(whileAway);
        await NodeCluster.WaitFor(() => cluster.Running.All(n => txs.All(t => NodeCluster.Included(n, t))), "transactions committed by the three");
        ulong away = cluster.Running.Max(n => n.Metrics.Height);
        await cluster.WaitForHeight(away + 3);

        var restarted = cluster.Start(3);
        restarted.EvidenceRecorded += e => { if (e is DuplicateVoteEvidence) Interlocked.Increment(ref duplicateVotes); };
        await cluster.WaitForHeight(away + 3, [restarted]);
        Assert.True(restarted.Metrics.BlocksSynced > 0, "the restarted node should have caught up by block sync");
        // It rejoins consensus: the chain keeps going with all four.
        ulong now = cluster.Running.Max(n => n.Metrics.Height);
        await cluster.WaitForHeight(now + 2);
        var all = cluster.Running.ToList();
        NodeCluster.AssertSameChain(all, all.Min(n => n.Metrics.Height));
        Assert.All(txs, t => Assert.True(NodeCluster.Included(restarted, t)));
        Assert.Equal(0, Volatile.Read(ref duplicateVotes)); // the signer guard kept the restarted node from double-signing
    }

    [Fact]
    public async Task A_fresh_node_joining_ten_heights_late_syncs_and_then_follows_consensus()
    {
        await using var cluster = new NodeCluster();
        for (int i = 0; i < 3; i++) cluster.Start(i);
        var tx = cluster.Infer(2, cluster.Models[1].Digits[3]);
        Assert.Null(cluster.Nodes[2]!.Submit(tx));
        await cluster.WaitForHeight(10);

        var late = cluster.Start(3);
        Assert.Equal(0UL, late.Metrics.Height);
        await cluster.WaitForHeight(10, [late]);
        Assert.True(late.Metrics.BlocksSynced >= 9, $"synced {late.Metrics.BlocksSynced} blocks");
        await NodeCluster.WaitFor(() => late.Metrics.Synced && late.Metrics.SyncTarget >= 10, "sync progress reports done");
        Assert.True(NodeCluster.Included(late, tx));
        ulong now = cluster.Running.Max(n => n.Metrics.Height);
        await cluster.WaitForHeight(now + 2);
        var all = cluster.Running.ToList();
        NodeCluster.AssertSameChain(all, all.Min(n => n.Metrics.Height));
    }
}
