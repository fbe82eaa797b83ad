using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// How many bytes of blocks this node serves through block sync: a token bucket per peer (refilled at
/// <c>bytesPerSecond</c>, holding at most <c>burstBytes</c>), so a peer cannot make the node read and send its
/// whole chain over and over, and one bucket for all peers together (refilled at <c>totalBytesPerSecond</c>), so
/// many peers — or one attacker under many node keys — cannot multiply it (issue 15: 40 anonymous peers were
/// served 1.14 GB in 7 s). An honest syncing peer asks one batch at a time and is rarely held back; a request over
/// either budget is not answered (the requester's timeout moves it to another peer). Used on the node's loop only.
/// </summary>
public sealed class SyncServeLimiter(double bytesPerSecond, double burstBytes, double totalBytesPerSecond = double.PositiveInfinity, int maxPeers = 1024)
{
    private readonly Dictionary<PeerId, (double Tokens, long AtMs)> _buckets = [];
    private (double Tokens, long AtMs)? _total;

    /// <summary>Requests refused by the node-wide bucket (the peer's own had room).</summary>
    public long RefusedNodeWide { get; private set; }

    /// <summary>True when <paramref name="peer"/> may be sent a response of up to <paramref name="bytes"/> now (charged at once).</summary>
    public bool TrySpend(PeerId peer, long bytes, long nowMs)
    {
        var (tokens, at) = _buckets.TryGetValue(peer, out var bucket) ? bucket : (burstBytes, nowMs);
        tokens = Math.Min(burstBytes, tokens + Math.Max(0, nowMs - at) * bytesPerSecond / 1000.0);
        double total = double.PositiveInfinity;
        if (double.IsFinite(totalBytesPerSecond))
        {
            double capacity = Math.Max(burstBytes, totalBytesPerSecond);
            var (left, totalAt) = _total ?? (capacity, nowMs);
            total = Math.Min(capacity, left + Math.Max(0, nowMs - totalAt) * totalBytesPerSecond / 1000.0);
            _total = (total, nowMs);
        }
        // Bounded, refused requests included; a peer that was cleared starts afresh, and the node-wide bucket still holds.
        if (!_buckets.ContainsKey(peer) && _buckets.Count >= maxPeers) _buckets.Clear();
        if (tokens < bytes || total < bytes)
        {
            if (tokens >= bytes) RefusedNodeWide++;
            _buckets[peer] = (tokens, nowMs);
            return false;
        }
        _buckets[peer] = (tokens - bytes, nowMs);
        if (double.IsFinite(total)) _total = (total - bytes, nowMs);
        return true;
    }

    public void Forget(PeerId peer) => _buckets.Remove(peer);

    /// <summary>Peers with a bucket now (at most <c>maxPeers</c>).</summary>
    internal int TrackedPeers => _buckets.Count;
}
