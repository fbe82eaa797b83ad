using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// Whom to ask for blocks, and when: tracks the heights peers report, keeps at most one request in flight,
/// gives up on a peer that does not answer in time (or answered badly) and moves to another. Pure bookkeeping
/// on the node's loop; the loop sends the requests and verifies what comes back.
/// </summary>
public sealed class BlockSyncClient(TimeSpan requestTimeout, TimeSpan grace, int batchBlocks)
{
    private readonly Dictionary<PeerId, ulong> _peerHeights = [];
    private readonly Dictionary<PeerId, long> _avoidUntil = []; // peers that timed out or sent bad blocks
    private long? _behindSince;

    /// <summary>The request in flight: peer, first height asked for, and when it times out.</summary>
    public (PeerId Peer, ulong From, long DeadlineMs)? InFlight { get; private set; }

    public ulong TargetHeight => _peerHeights.Count == 0 ? 0 : _peerHeights.Values.Max();

    public void PeerHeight(PeerId peer, ulong height) => _peerHeights[peer] = height;

    public void PeerGone(PeerId peer)
    {
        _peerHeights.Remove(peer);
        if (InFlight?.Peer == peer) InFlight = null;
    }

    /// <summary>The peer answered (or failed) the request in flight; a bad peer is avoided for a while.</summary>
    public void Completed(PeerId peer, bool bad, long nowMs)
    {
        if (InFlight?.Peer != peer) return;
        InFlight = null;
        if (bad) Avoid(peer, nowMs);
    }

    public bool IsAwaiting(PeerId peer) => InFlight?.Peer == peer;

    /// <summary>The next request to send, if one is due: (peer, from, count). Call on every tick and after every commit.</summary>
    public (PeerId Peer, ulong From, uint Count)? Next(ulong storedHeight, long nowMs)
    {
        if (InFlight is { } f)
        {
            if (nowMs < f.DeadlineMs) return null;
            Avoid(f.Peer, nowMs); // timed out: try someone else
            InFlight = null;
        }
        ulong target = TargetHeight;
        if (target <= storedHeight)
        {
            _behindSince = null;
            return null;
        }
        _behindSince ??= nowMs;
        // One height behind is normal for a moment: consensus is probably about to decide it here too.
        if (target < storedHeight + 2 && nowMs - _behindSince.Value < (long)grace.TotalMilliseconds) return null;
        var candidates = _peerHeights.Where(p => p.Value > storedHeight).Select(p => p.Key).ToList();
        var usable = candidates.Where(p => !_avoidUntil.TryGetValue(p, out var until) || until <= nowMs).ToList();
        if (usable.Count == 0) return null;
        // Rotate among the peers that have the blocks, so one slow peer does not hold everything up.
        var peer = usable[(int)((storedHeight + (ulong)nowMs / 1000) % (ulong)usable.Count)];
        ulong from = storedHeight + 1;
        InFlight = (peer, from, nowMs + (long)requestTimeout.TotalMilliseconds);
        uint count = (uint)Math.Min((ulong)batchBlocks, _peerHeights[peer] - storedHeight);
        return (peer, from, count);
    }

    private void Avoid(PeerId peer, long nowMs)
    {
        foreach (var expired in _avoidUntil.Where(a => a.Value <= nowMs).Select(a => a.Key).ToList()) _avoidUntil.Remove(expired);
        _avoidUntil[peer] = nowMs + 2 * (long)requestTimeout.TotalMilliseconds;
    }
}
