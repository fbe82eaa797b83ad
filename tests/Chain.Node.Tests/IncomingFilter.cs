using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>A node's connection with incoming transaction gossip withheld: the node sees transactions only inside blocks.</summary>
internal sealed class TransactionsWithheld : IPeerNetwork
{
    private readonly IPeerNetwork _inner;

    public TransactionsWithheld(IPeerNetwork inner)
    {
        _inner = inner;
        _inner.MessageReceived += m =>
        {
            if (m.Channel != MessageChannel.Transactions) MessageReceived?.Invoke(m);
        };
    }

    public event Action<PeerMessage>? MessageReceived;

    public event Action<PeerId>? PeerConnected
    {
        add => _inner.PeerConnected += value;
        remove => _inner.PeerConnected -= value;
    }

    public event Action<PeerId>? PeerDisconnected
    {
        add => _inner.PeerDisconnected += value;
        remove => _inner.PeerDisconnected -= value;
    }

    public PeerId Self => _inner.Self;
    public IReadOnlyList<PeerId> ConnectedPeers => _inner.ConnectedPeers;
    public void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null) => _inner.Broadcast(channel, payload, except);
    public bool Send(PeerId peer, MessageChannel channel, byte[] payload) => _inner.Send(peer, channel, payload);
    public void ReportMisbehaviour(PeerId peer, string reason) => _inner.ReportMisbehaviour(peer, reason);
    public void Dispose() => _inner.Dispose();
}
