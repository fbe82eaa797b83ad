using Chain.Core;

namespace Chain.Rpc.Tests;

/// <summary>GET /events/blocks streams blocks committed after the client subscribed.</summary>
public sealed class BlockEventTests
{
    [Fact]
    public async Task A_subscriber_receives_each_block_committed_after_it_subscribed()
    {
        await using var host = await RpcTestHost.StartAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var events = host.Client.BlockEventsAsync(deadline.Token).GetAsyncEnumerator(deadline.Token);
        var next = events.MoveNextAsync().AsTask();

        // Commit only once the server has registered the subscription (a condition, not a sleep).
        while (host.Node.CommittedBlocks.SubscriberCount == 0)
        {
            deadline.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }
        host.Admit(host.Transfer(RpcTestHost.Bob, RpcTestHost.Carol.Address, 9));
        var block = host.Produce();

        Assert.True(await next);
        Assert.Equal(4UL, events.Current.Height);
        Assert.Equal(block.Hash.ToString(), events.Current.Hash);
        Assert.Equal(1, events.Current.TxCount);
        Assert.Equal(block.Header.TimeMs, events.Current.TimeMs);

        var following = host.Produce();
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(following.Hash.ToString(), events.Current.Hash);
        Assert.Equal(0, events.Current.TxCount);
    }

    [Fact]
    public async Task A_subscriber_that_falls_behind_is_cut_off_not_buffered_forever()
    {
        var feed = new CommittedBlockFeed(queueCapacity: 2);
        await using var host = await RpcTestHost.StartAsync();
        using var subscription = feed.TrySubscribe()!;
        var block = host.Node.Blocks.LoadBlock(new Height(1))!;
        feed.Publish(block);
        feed.Publish(block);
        feed.Publish(block);
        Assert.True(subscription.Lagged);
        Assert.Equal(0, feed.SubscriberCount);
    }
}
