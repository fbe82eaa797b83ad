using Chain.Core;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// What transaction relay by hash remembers, per peer and in flight (docs/network.md, "Transaction relay"): which
/// hashes each peer is known to have, which it was offered and asked for, whom it is connected to, and which announced
/// bodies are being fetched from whom. Every table is bounded; the oldest entries leave first. Thread-safe (one lock):
/// the gossip worker, the clock's tick and client submissions all use it. It only decides; the node sends.
/// </summary>
internal sealed class TransactionRelay(long requestTimeoutMs)
{
    /// <summary>Hashes remembered per peer as known to it (sent by it, announced by it, or sent or announced to it).</summary>
    public const int MaxKnownPerPeer = 16_384;
    /// <summary>Hashes remembered per peer as offered to it (it may fetch each once) and as asked of it.</summary>
    public const int MaxOfferedPerPeer = 8_192;
    /// <summary>Announced bodies being fetched at once; more announcements wait for another announcer or the proposal.</summary>
    public const int MaxInFlight = 8_192;
    /// <summary>Fetches one peer may be asked for at once: a peer announcing junk cannot fill the whole table.</summary>
    public const int MaxInFlightPerPeer = MaxInFlight / 4;
    /// <summary>Announcers remembered per fetched hash, asked in turn when the one before does not answer in time.</summary>
    public const int MaxAnnouncers = 4;

    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, PeerState> _peers = [];
    private readonly Dictionary<Hash32, Fetch> _inFlight = [];

    private sealed class PeerState
    {
        public readonly RecentSet<Hash32> Known = new(MaxKnownPerPeer);
        public readonly RecentSet<Hash32> Offered = new(MaxOfferedPerPeer);
        public readonly RecentSet<Hash32> Asked = new(MaxOfferedPerPeer);
        public HashSet<PeerId>? Neighbours; // null until the peer tells them
        public int Fetching; // fetches in flight that wait on this peer
    }

    private sealed class Fetch(PeerId first, long askedAtMs)
    {
        public readonly List<PeerId> Announcers = [first];
        public int Asking; // index into Announcers
        public long AskedAtMs = askedAtMs;
        public PeerId Asked => Announcers[Asking];
    }

    // Ends a fetch: it no longer counts against the peer it waited on.
    private void Finish(Hash32 hash, Fetch fetch)
    {
        _inFlight.Remove(hash);
        if (_peers.TryGetValue(fetch.Asked, out var state) && state.Fetching > 0) state.Fetching--; // state may be new since it left
    }

    private PeerState Peer(PeerId peer)
    {
        if (!_peers.TryGetValue(peer, out var state)) _peers[peer] = state = new PeerState();
        return state;
    }

    /// <summary>Bodies were pushed to these peers (client transactions): they have them.</summary>
    public void Pushed(IEnumerable<PeerId> peers, IReadOnlyList<Hash32> hashes)
    {
        lock (_lock)
            foreach (var peer in peers)
            {
                var known = Peer(peer).Known;
                foreach (var h in hashes) known.Add(h);
            }
    }

    /// <summary>
    /// Bodies <paramref name="from"/> sent us (pushed or requested): it has them all, and any fetch of them is over.
    /// Returns, for <paramref name="admitted"/> (the new ones), the announcement each other connected peer should get:
    /// none to a neighbour of <paramref name="from"/> (its relay reaches them), none of hashes a peer is known to have.
    /// </summary>
    public List<(PeerId Peer, Hash32[] Hashes)> Received(PeerId from, IReadOnlyList<Hash32> sent, IReadOnlyList<Hash32> admitted, IReadOnlyList<PeerId> connected)
    {
        var announcements = new List<(PeerId, Hash32[])>();
        lock (_lock)
        {
            var source = Peer(from);
            foreach (var h in sent)
            {
                source.Known.Add(h);
                if (_inFlight.TryGetValue(h, out var fetch)) Finish(h, fetch);
            }
            if (admitted.Count == 0) return announcements;
            foreach (var peer in connected)
            {
                if (peer == from || source.Neighbours?.Contains(peer) == true) continue;
                var state = Peer(peer);
                var fresh = admitted.Where(h => state.Known.Add(h)).ToArray();
                if (fresh.Length == 0) continue;
                foreach (var h in fresh) state.Offered.Add(h);
                announcements.Add((peer, fresh));
            }
        }
        return announcements;
    }

    /// <summary>
    /// An announcement from <paramref name="from"/>: the hashes to request from it now — those not here (<paramref name="have"/>),
    /// not already being fetched (it joins their announcers) and within <see cref="MaxInFlight"/>. <paramref name="avoided"/>:
    /// announced hashes not requested because they are here or already asked of another peer.
    /// </summary>
    public Hash32[] Announced(PeerId from, IReadOnlyList<Hash32> hashes, Func<Hash32, bool> have, long nowMs, out int avoided)
    {
        avoided = 0;
        var request = new List<Hash32>();
        lock (_lock)
        {
            var source = Peer(from);
            foreach (var h in hashes)
            {
                source.Known.Add(h);
                if (_inFlight.TryGetValue(h, out var fetch))
                {
                    if (fetch.Announcers.Count < MaxAnnouncers && !fetch.Announcers.Contains(from)) fetch.Announcers.Add(from);
                    avoided++;
                    continue;
                }
                if (have(h))
                {
                    avoided++;
                    continue;
                }
                // Full (for all, or for this peer): another announcer, or the proposal, brings it.
                if (_inFlight.Count >= MaxInFlight || source.Fetching >= MaxInFlightPerPeer) continue;
                _inFlight[h] = new Fetch(from, nowMs);
                source.Fetching++;
                source.Asked.Add(h);
                request.Add(h);
            }
        }
        return [.. request];
    }

    /// <summary>Of <paramref name="hashes"/> a peer requests, those we offered it and have not served it yet (each is served once).</summary>
    public List<Hash32> Servable(PeerId to, IReadOnlyList<Hash32> hashes)
    {
        lock (_lock)
        {
            var offered = Peer(to).Offered;
            return hashes.Where(offered.Remove).ToList();
        }
    }

    /// <summary>
    /// Bodies <paramref name="from"/> sent as an answer: true when every one was asked of it (each answered once); otherwise
    /// false with the first that was not, and nothing changes.
    /// </summary>
    public bool TakeAnswered(PeerId from, IReadOnlyList<Hash32> hashes, out Hash32 unsolicited)
    {
        lock (_lock)
        {
            var asked = Peer(from).Asked;
            foreach (var h in hashes)
                if (!asked.Contains(h))
                {
                    unsolicited = h;
                    return false;
                }
            foreach (var h in hashes) asked.Remove(h);
        }
        unsolicited = default;
        return true;
    }

    /// <summary>
    /// Fetches unanswered for the timeout move to their next announcer (returned, grouped by peer); a fetch whose body
    /// arrived meanwhile (<paramref name="have"/>) or that has no announcer left is forgotten.
    /// </summary>
    public List<(PeerId Peer, Hash32[] Hashes)> Expire(long nowMs, Func<Hash32, bool> have, out int timedOut)
    {
        timedOut = 0;
        var asks = new Dictionary<PeerId, List<Hash32>>();
        lock (_lock)
        {
            var due = _inFlight.Where(f => nowMs - f.Value.AskedAtMs >= requestTimeoutMs).ToList();
            foreach (var (h, fetch) in due)
            {
                Finish(h, fetch); // taken up again below if there is someone left to ask
                if (have(h)) continue;
                timedOut++;
                // The next announcer still connected (state kept) with room for it; none left: dropped.
                PeerState? next = null;
                while (++fetch.Asking < fetch.Announcers.Count)
                    if (_peers.TryGetValue(fetch.Asked, out next) && next.Fetching < MaxInFlightPerPeer) break;
                    else next = null;
                if (next is null) continue;
                fetch.AskedAtMs = nowMs;
                _inFlight[h] = fetch;
                next.Fetching++;
                next.Asked.Add(h);
                if (!asks.TryGetValue(fetch.Asked, out var list)) asks[fetch.Asked] = list = [];
                list.Add(h);
            }
        }
        return asks.SelectMany(a => a.Value.Chunk(TransactionRelayMessage.MaxHashes).Select(c => (a.Key, c))).ToList();
    }

    /// <summary>A peer told us its neighbours (replacing what it said before); true when it is the first time since it connected.</summary>
    public bool SetNeighbours(PeerId peer, IEnumerable<PeerId> neighbours)
    {
        lock (_lock)
        {
            var state = Peer(peer);
            bool first = state.Neighbours is null;
            state.Neighbours = [.. neighbours];
            return first;
        }
    }

    /// <summary>A peer left: what we knew of it goes (fetches from it move on at their timeout).</summary>
    public void Forget(PeerId peer)
    {
        lock (_lock) _peers.Remove(peer);
    }

    /// <summary>Forgets every peer not connected now (a late message from a departed peer may have brought it back).</summary>
    public void Retain(IReadOnlyCollection<PeerId> connected)
    {
        var keep = connected.ToHashSet();
        lock (_lock)
            foreach (var peer in _peers.Keys.Where(p => !keep.Contains(p)).ToList()) _peers.Remove(peer);
    }

    /// <summary>Announced bodies being fetched now.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock) return _inFlight.Count;
        }
    }
}

/// <summary>A set that keeps its newest <c>capacity</c> items (the oldest leave first). Not thread-safe.</summary>
internal sealed class RecentSet<T>(int capacity) where T : notnull
{
    // Item → when it was (last) added; the queue holds (item, when), so a removed and re-added item is not evicted by its old entry.
    private readonly Dictionary<T, long> _items = [];
    private readonly Queue<(T Item, long Added)> _order = new();
    private long _clock;

    /// <summary>Adds the item; false when it was already in.</summary>
    public bool Add(T item)
    {
        if (_items.ContainsKey(item)) return false;
        _items[item] = ++_clock;
        _order.Enqueue((item, _clock));
        // Removed items stay queued until they come out: the queue is bounded by twice the capacity.
        while (_items.Count > capacity || _order.Count > 2 * capacity)
        {
            var (old, added) = _order.Dequeue();
            if (_items.TryGetValue(old, out var at) && at == added) _items.Remove(old);
        }
        return true;
    }

    public bool Contains(T item) => _items.ContainsKey(item);

    public bool Remove(T item) => _items.Remove(item);

    public int Count => _items.Count;
}
