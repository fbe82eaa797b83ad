using Chain.Core.Crypto;

namespace Chain.Network;

/// <summary>
/// Peers in one process, all connected to each other, for tests of whole nodes: messages are handed to the
/// receiver's handler on the sender's thread (handlers only enqueue). <see cref="Partition"/> cuts the links
/// between groups (both sides see the peers disconnect) and <see cref="Heal"/> restores them.
/// </summary>
public sealed class InMemoryNetworkHub
{
    private readonly object _gate = new();
    private readonly List<Endpoint> _endpoints = [];
    private int[]? _group; // group per endpoint index; null = fully connected

    public IPeerNetwork Join(PublicKey nodeKey)
    {
        Endpoint endpoint;
        List<Endpoint> others;
        lock (_gate)
        {
            if (_endpoints.Any(e => e.Self.NodeKey == nodeKey && !e.Disposed))
                throw new InvalidOperationException($"node key {nodeKey} already joined");
            endpoint = new Endpoint(this, new PeerId(nodeKey), _endpoints.Count);
            _endpoints.Add(endpoint);
            if (_group is not null) Array.Resize(ref _group, _endpoints.Count);
            others = _endpoints.Where(e => e != endpoint && Linked(e, endpoint)).ToList();
        }
        foreach (var other in others)
        {
            other.RaiseConnected(endpoint.Self);
            endpoint.RaiseConnected(other.Self);
        }
        return endpoint;
    }

    /// <summary>Splits the peers: keys in the same group stay linked, links across groups are cut. Unlisted keys form group 0.</summary>
    public void Partition(params IReadOnlyCollection<PublicKey>[] groups)
    {
        List<(Endpoint, Endpoint)> cut;
        lock (_gate)
        {
            var before = Links();
            _group = _endpoints.Select(e => Array.FindIndex(groups, g => g.Contains(e.Self.NodeKey)) + 1).ToArray();
            cut = before.Where(l => !Linked(l.Item1, l.Item2)).ToList();
        }
        foreach (var (a, b) in cut)
        {
            a.RaiseDisconnected(b.Self);
            b.RaiseDisconnected(a.Self);
        }
    }

    public void Heal()
    {
        List<(Endpoint, Endpoint)> restored;
        lock (_gate)
        {
            var before = Links();
            _group = null;
            restored = Links().Where(l => !before.Contains(l)).ToList();
        }
        foreach (var (a, b) in restored)
        {
            a.RaiseConnected(b.Self);
            b.RaiseConnected(a.Self);
        }
    }

    /// <summary>Messages the hub has delivered, and those it dropped because the link was cut.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);
    public long Dropped => Interlocked.Read(ref _dropped);
    private long _delivered, _dropped;

    private List<(Endpoint, Endpoint)> Links()
    {
        var links = new List<(Endpoint, Endpoint)>();
        for (int i = 0; i < _endpoints.Count; i++)
            for (int j = i + 1; j < _endpoints.Count; j++)
                if (Linked(_endpoints[i], _endpoints[j])) links.Add((_endpoints[i], _endpoints[j]));
        return links;
    }

    private bool Linked(Endpoint a, Endpoint b) =>
        !a.Disposed && !b.Disposed && (_group is null || _group[a.Index] == _group[b.Index]);

    private List<Endpoint> Peers(Endpoint of)
    {
        lock (_gate) return _endpoints.Where(e => e != of && Linked(e, of)).ToList();
    }

    private void Leave(Endpoint endpoint)
    {
        List<Endpoint> others;
        lock (_gate)
        {
            others = _endpoints.Where(e => e != endpoint && Linked(e, endpoint)).ToList();
            endpoint.Disposed = true;
        }
        foreach (var other in others) other.RaiseDisconnected(endpoint.Self);
    }

    private sealed class Endpoint(InMemoryNetworkHub hub, PeerId self, int index) : IPeerNetwork
    {
        public event Action<PeerMessage>? MessageReceived;
        public event Action<PeerId>? PeerConnected;
        public event Action<PeerId>? PeerDisconnected;

        public PeerId Self { get; } = self;
        public int Index { get; } = index;
        public volatile bool Disposed;

        public IReadOnlyList<PeerId> ConnectedPeers => hub.Peers(this).Select(e => e.Self).ToList();

        public void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null)
        {
            foreach (var peer in hub.Peers(this))
                if (peer.Self != except) Deliver(peer, channel, payload);
        }

        public bool Send(PeerId peer, MessageChannel channel, byte[] payload)
        {
            var target = hub.Peers(this).FirstOrDefault(e => e.Self == peer);
            if (target is null)
            {
                Interlocked.Increment(ref hub._dropped);
                return false;
            }
            Deliver(target, channel, payload);
            return true;
        }

        private void Deliver(Endpoint to, MessageChannel channel, byte[] payload)
        {
            Interlocked.Increment(ref hub._delivered);
            to.MessageReceived?.Invoke(new PeerMessage(Self, channel, payload));
        }

        public void ReportMisbehaviour(PeerId peer, string reason) => Misbehaviour.Add((peer, reason));

        public List<(PeerId, string)> Misbehaviour { get; } = [];

        public void RaiseConnected(PeerId peer) => PeerConnected?.Invoke(peer);
        public void RaiseDisconnected(PeerId peer) => PeerDisconnected?.Invoke(peer);

        public void Dispose()
        {
            if (!Disposed) hub.Leave(this);
        }
    }
}
