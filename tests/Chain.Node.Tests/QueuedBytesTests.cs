using Chain.Node.Host;

namespace Chain.Node.Tests;

public sealed class QueuedBytesTests
{
    [Fact]
    public void Adds_past_the_limit_are_refused_and_change_nothing()
    {
        var queued = new QueuedBytes(100);
        Assert.True(queued.TryAdd(60));
        Assert.False(queued.TryAdd(41));
        Assert.Equal(60, queued.Bytes);
        Assert.True(queued.TryAdd(40));
        queued.Remove(60);
        Assert.True(queued.TryAdd(60));
        Assert.Equal(100, queued.Bytes);
    }

    [Fact]
    public void Concurrent_adders_never_leave_more_than_the_limit_admitted()
    {
        var queued = new QueuedBytes(1000);
        int admitted = 0;
        Parallel.For(0, 10_000, _ => { if (queued.TryAdd(7)) Interlocked.Increment(ref admitted); });
        Assert.Equal(1000 / 7, admitted);
        Assert.Equal(admitted * 7, queued.Bytes);
    }
}
