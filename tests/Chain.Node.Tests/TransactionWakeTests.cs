using Chain.Node.Host;
using Microsoft.Extensions.Time.Testing;

namespace Chain.Node.Tests;

/// <summary>
/// Arriving transactions wake the node loop (issue 14, "no idle waiting"): a quiet gossip buffer is flushed at once, a
/// proposal deferred for want of transactions is built at once, and a proposal waiting for its bodies completes at
/// once, instead of on the next tick.
/// </summary>
public sealed class TransactionWakeTests
{
    [Fact]
    public void The_gossip_buffer_asks_for_an_immediate_flush_only_when_nothing_was_sent_for_the_quiet_interval()
    {
        var time = new FakeTimeProvider();
        var sent = new List<int>();
        var buffer = new TransactionGossipBuffer(b => sent.Add(b.Transactions.Count), time, TimeSpan.FromMilliseconds(10));
        var cluster = new NodeCluster();
        var tx = Enumerable.Range(0, 5).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();

        Assert.True(buffer.Add(tx[0])); // nothing ever sent: flush now
        buffer.Flush();
        time.Advance(TimeSpan.FromMilliseconds(3));
        Assert.False(buffer.Add(tx[1])); // a batch left 3 ms ago: under load, wait for the tick
        time.Advance(TimeSpan.FromMilliseconds(7));
        buffer.Flush(); // the tick
        time.Advance(TimeSpan.FromMilliseconds(15));
        Assert.True(buffer.Add(tx[2])); // quiet for 15 ms
        Assert.False(buffer.Add(tx[3])); // already waiting to go with the one before
        buffer.Flush();
        buffer.Flush(); // nothing pending: nothing sent, and the quiet time still counts from the last batch
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.True(buffer.Add(tx[4]));
        Assert.Equal([1, 1, 2], sent);
    }

    [Fact]
    public async Task A_transaction_is_committed_on_every_node_although_no_node_ever_ticks()
    {
        // The tick would flush gossip, build the deferred proposal and complete proposals missing bodies. It never
        // fires here, so only the wake on admission can bring the transaction from node 1 into a committed block.
        await using var cluster = new NodeCluster();
        for (int i = 0; i < 4; i++)
            cluster.Start(i, tune: o => o with { TickInterval = TimeSpan.FromHours(1), MinBlockInterval = TimeSpan.FromSeconds(1) });
        await NodeCluster.WaitFor(() => cluster.Running.All(n => n.Metrics.Peers == 3), "every node connected to the other three");

        for (int round = 0; round < 3; round++)
        {
            var tx = cluster.Transfer(0, cluster.Keys[2].Address, 1);
            Assert.Null(cluster.Nodes[1 + round % 3]!.Submit(tx));
            await NodeCluster.WaitFor(() => cluster.Running.All(n => NodeCluster.Included(n, tx)),
                $"transfer {round} committed on all nodes without a tick (heights {string.Join(", ", cluster.Running.Select(n => n.Metrics.Height))})",
                TimeSpan.FromSeconds(30));
        }
        Assert.All(cluster.Running, n => Assert.Null(n.Failure));
        NodeCluster.AssertSameChain([.. cluster.Running], cluster.Running.Min(n => n.Metrics.Height));
    }
}
