using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection with some links cut (a partial topology on a fully connected hub): the hidden peers are not
/// in <see cref="ConnectedPeers"/>, nothing is sent to them and nothing from them arrives. Both ends of a link must
/// hide each other.
/// </summary>
internal sealed class HiddenPeers : IPeerNetwork
{
    private readonly IPeerNetwork _inner;
    private readonly HashSet<PeerId> _hidden;

    public HiddenPeers(IPeerNetwork inner, params PeerId[] hidden)
    {
        _inner = inner;
        _hidden = [.. hidden];
        _inner.MessageReceived += m =>
        {
            if (!_hidden.Contains(m.From)) MessageReceived?.Invoke(m);
        };
        _inner.PeerConnected += p =>
        {
            if (!_hidden.Contains(p)) PeerConnected?.Invoke(p);
        };
        _inner.PeerDisconnected += p =>
        {
            if (!_hidden.Contains(p)) PeerDisconnected?.Invoke(p);
        };
    }

    public event Action<PeerMessage>? MessageReceived;
    public event Action<PeerId>? PeerConnected;
    public event Action<PeerId>? PeerDisconnected;

    public PeerId Self => _inner.Self;
    public IReadOnlyList<PeerId> ConnectedPeers => _inner.ConnectedPeers.Where(p => !_hidden.Contains(p)).ToList();

    public void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null)
    {
        foreach (var peer in ConnectedPeers)
            if (peer != except) _inner.Send(peer, channel, payload);
    }

    public bool Send(PeerId peer, MessageChannel channel, byte[] payload) => !_hidden.Contains(peer) && _inner.Send(peer, channel, payload);
    public void ReportMisbehaviour(PeerId peer, string reason) => _inner.ReportMisbehaviour(peer, reason);
    public void Dispose() => _inner.Dispose();
}
