using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// How many bytes of blocks this node serves each peer through block sync: a token bucket per peer (refilled at
/// <c>bytesPerSecond</c>, holding at most <c>burstBytes</c>), so a peer cannot make the node read and send its
/// whole chain over and over. An honest syncing peer asks one batch at a time and is rarely held back; a request
/// over budget is not answered (the requester's timeout moves it to another peer). Used on the node's loop only.
/// </summary>
public sealed class SyncServeLimiter(double bytesPerSecond, double burstBytes, int maxPeers = 1024)
{
    private readonly Dictionary<PeerId, (double Tokens, long AtMs)> _buckets = [];

    /// <summary>True when <paramref name="peer"/> may be sent a response of up to <paramref name="bytes"/> now (charged at once).</summary>
    public bool TrySpend(PeerId peer, long bytes, long nowMs)
    {
        var (tokens, at) = _buckets.TryGetValue(peer, out var bucket) ? bucket : (burstBytes, nowMs);
        tokens = Math.Min(burstBytes, tokens + Math.Max(0, nowMs - at) * bytesPerSecond / 1000.0);
        if (tokens < bytes)
        {
            _buckets[peer] = (tokens, nowMs);
            return false;
        }
        if (!_buckets.ContainsKey(peer) && _buckets.Count >= maxPeers) _buckets.Clear(); // bounded; forgetting only helps peers
        _buckets[peer] = (tokens - bytes, nowMs);
        return true;
    }

    public void Forget(PeerId peer) => _buckets.Remove(peer);
}
