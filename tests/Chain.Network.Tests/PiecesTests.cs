using System.Net;
using Chain.Network.Tcp;
using Microsoft.Extensions.Time.Testing;

namespace Chain.Network.Tests;

public class PiecesTests
{
    [Fact]
    public void Token_bucket_allows_its_burst_then_refills_at_its_rate()
    {
        var clock = new FakeTimeProvider();
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 5, clock);
        for (int i = 0; i < 5; i++) Assert.True(bucket.TryTake(1));
        Assert.False(bucket.TryTake(1));
        clock.Advance(TimeSpan.FromMilliseconds(250)); // 2.5 tokens
        Assert.True(bucket.TryTake(2));
        Assert.False(bucket.TryTake(1));
        clock.Advance(TimeSpan.FromHours(1)); // never above capacity
        Assert.False(bucket.TryTake(6));
        Assert.True(bucket.TryTake(5));
    }

    [Fact]
    public void Bans_expire_on_the_injected_clock_and_a_second_ban_never_shortens_the_first()
    {
        var clock = new FakeTimeProvider();
        var bans = new BanList(clock, capacity: 10);
        using var key = Keys.Node(4);
        var address = IPAddress.Parse("10.1.2.3");
        bans.Ban(key.PublicKey, address, TimeSpan.FromMinutes(10));
        bans.Ban(key.PublicKey, address, TimeSpan.FromMinutes(1));
        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.True(bans.IsBanned(key.PublicKey));
        Assert.True(bans.IsBanned(address));
        Assert.Equal(TimeSpan.FromMinutes(1), bans.RemainingBan(key.PublicKey));
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.False(bans.IsBanned(key.PublicKey));
        Assert.False(bans.IsBanned(address));
    }

    [Fact]
    public void Ban_list_is_bounded_and_evicts_the_soonest_expiring_entry()
    {
        var clock = new FakeTimeProvider();
        var bans = new BanList(clock, capacity: 2);
        using var k1 = Keys.Node(1);
        using var k2 = Keys.Node(2);
        using var k3 = Keys.Node(3);
        bans.Ban(k1.PublicKey, null, TimeSpan.FromMinutes(1));
        bans.Ban(k2.PublicKey, null, TimeSpan.FromMinutes(5));
        bans.Ban(k3.PublicKey, null, TimeSpan.FromMinutes(3));
        Assert.False(bans.IsBanned(k1.PublicKey));
        Assert.True(bans.IsBanned(k2.PublicKey));
        Assert.True(bans.IsBanned(k3.PublicKey));
    }

    [Fact]
    public void Backoff_doubles_up_to_the_cap_with_jitter_and_is_reproducible_from_the_seed()
    {
        var baseDelay = TimeSpan.FromMilliseconds(100);
        var max = TimeSpan.FromSeconds(5);
        var first = Enumerable.Range(0, 12).Select(f => ReconnectBackoff.Delay(f, baseDelay, max, new Random(1))).ToList();
        var again = Enumerable.Range(0, 12).Select(f => ReconnectBackoff.Delay(f, baseDelay, max, new Random(1))).ToList();
        Assert.Equal(first, again);
        for (int f = 0; f < 12; f++)
        {
            var ceiling = TimeSpan.FromTicks(Math.Min(max.Ticks, baseDelay.Ticks << f));
            Assert.InRange(first[f], ceiling / 2, ceiling);
        }
        Assert.InRange(ReconnectBackoff.Delay(int.MaxValue, baseDelay, max, new Random(2)), max / 2, max);
    }
}
