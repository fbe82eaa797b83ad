using Chain.Core;
using Microsoft.Extensions.Time.Testing;

namespace Chain.Core.Tests;

public sealed class MemoryReclaimerTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(500), MinInterval = TimeSpan.FromSeconds(3);

    private static (MemoryReclaimer Reclaimer, FakeTimeProvider Time, Func<int> Collected) Create()
    {
        var time = new FakeTimeProvider();
        int collected = 0;
        var reclaimer = new MemoryReclaimer(time, Delay, MinInterval, () => collected++);
        return (reclaimer, time, () => collected);
    }

    [Fact]
    public void A_request_collects_once_after_the_delay_never_on_the_callers_thread()
    {
        var (reclaimer, time, collected) = Create();
        reclaimer.Request();
        Assert.Equal(0, collected());
        time.Advance(Delay - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, collected());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, collected());
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, collected()); // one request, one collection
    }

    [Fact]
    public void Requests_while_one_is_scheduled_join_it()
    {
        var (reclaimer, time, collected) = Create();
        for (int i = 0; i < 5; i++)
        {
            reclaimer.Request();
            time.Advance(TimeSpan.FromMilliseconds(50));
        }
        time.Advance(Delay);
        Assert.Equal(1, collected());
        Assert.Equal(5, reclaimer.Requests);
        Assert.Equal(1, reclaimer.Collections);
    }

    [Fact]
    public void Collections_are_at_least_the_minimum_interval_apart()
    {
        var (reclaimer, time, collected) = Create();
        reclaimer.Request();
        time.Advance(Delay); // the first collection, at 0.5 s
        Assert.Equal(1, collected());
        reclaimer.Request(); // at 0.5 s: due at 3.5 s, not 1.0 s
        time.Advance(MinInterval - TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, collected());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, collected());
        time.Advance(TimeSpan.FromSeconds(10)); // a request long after the last collection waits only the delay
        reclaimer.Request();
        time.Advance(Delay);
        Assert.Equal(3, collected());
    }

    [Fact]
    public void The_real_collection_is_a_full_blocking_compacting_one()
    {
        long index = GC.GetGCMemoryInfo(GCKind.FullBlocking).Index;
        MemoryReclaimer.CompactAndDecommit();
        var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        Assert.True(info.Index > index, "a full blocking collection ran");
        Assert.Equal(GC.MaxGeneration, info.Generation);
        Assert.True(info.Compacted, "it compacted (the large object heap too: CompactOnce)");
    }
}
