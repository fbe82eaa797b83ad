using Chain.Network;
using Chain.Node.Host;

namespace Chain.Node.Tests;

public sealed class SyncServeLimiterTests
{
    private static PeerId Peer(byte b) => new(Chain.Core.Crypto.PrivateKey.FromSeed(Enumerable.Repeat(b, 32).ToArray()).PublicKey);

    [Fact]
    public void A_peer_gets_its_burst_then_only_the_refill_rate_and_peers_do_not_share_a_budget()
    {
        var limiter = new SyncServeLimiter(bytesPerSecond: 1000, burstBytes: 5000);
        var greedy = Peer(1);
        Assert.True(limiter.TrySpend(greedy, 4000, nowMs: 0));
        Assert.True(limiter.TrySpend(greedy, 1000, nowMs: 0));
        Assert.False(limiter.TrySpend(greedy, 1, nowMs: 0));        // burst spent
        Assert.False(limiter.TrySpend(greedy, 600, nowMs: 500));    // 500 ms refill 500 bytes
        Assert.True(limiter.TrySpend(greedy, 600, nowMs: 600));     // 600 by now (the refused attempt cost nothing)
        Assert.True(limiter.TrySpend(Peer(2), 5000, nowMs: 600));   // another peer has its own bucket
        Assert.True(limiter.TrySpend(greedy, 5000, nowMs: 100_000)); // refill stops at the burst
        Assert.False(limiter.TrySpend(greedy, 1, nowMs: 100_000));
        limiter.Forget(greedy);
        Assert.True(limiter.TrySpend(greedy, 5000, nowMs: 100_000)); // a reconnecting peer starts afresh
    }

    [Fact]
    public void The_number_of_tracked_peers_is_bounded()
    {
        var limiter = new SyncServeLimiter(bytesPerSecond: 1, burstBytes: 10, maxPeers: 3);
        for (byte b = 1; b <= 10; b++)
        {
            Assert.True(limiter.TrySpend(Peer(b), 10, nowMs: 0));
            Assert.InRange(limiter.TrackedPeers, 1, 3);
        }
        // Refused requests (over the peer's burst) are remembered within the same bound.
        for (byte b = 11; b <= 30; b++)
        {
            Assert.False(limiter.TrySpend(Peer(b), 11, nowMs: 0));
            Assert.InRange(limiter.TrackedPeers, 1, 3);
        }
    }

    [Fact]
    public void Many_peers_together_get_no_more_than_the_node_wide_rate()
    {
        // 40 peers, each within its own bucket, ask at once: the node-wide bucket (burst = 1 s worth) caps the sum.
        var limiter = new SyncServeLimiter(bytesPerSecond: 1000, burstBytes: 1000, totalBytesPerSecond: 3000);
        int served = 0;
        for (byte b = 1; b <= 40; b++) if (limiter.TrySpend(Peer(b), 1000, nowMs: 0)) served++;
        Assert.Equal(3, served);
        Assert.Equal(37, limiter.RefusedNodeWide);
        served = 0;
        for (byte b = 1; b <= 40; b++) if (limiter.TrySpend(Peer(b), 1000, nowMs: 1000)) served++;
        Assert.Equal(3, served); // one second later: one second of the node-wide rate
    }
}
