using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection with some links cut (a partial topology on a fully connected hub): the hidden peers are not
/// in <see cref="ConnectedPeers"/>, nothing is sent to them and nothing from them arrives. Both ends of a link must
/// hide each other.
/// </summary>
internal sealed class HiddenPeers(IPeerNetwork inner, params PeerId[] hidden) : PeerNetworkDecorator(inner)
{
    private readonly HashSet<PeerId> _hidden = [.. hidden];

    protected override PeerMessage? Incoming(PeerMessage message) => _hidden.Contains(message.From) ? null : message;
    protected override bool Shows(PeerId peer) => !_hidden.Contains(peer);

    public override IReadOnlyList<PeerId> ConnectedPeers => Inner.ConnectedPeers.Where(Shows).ToList();
    public override void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null) => BroadcastOneByOne(channel, payload, except);
    public override bool Send(PeerId peer, MessageChannel channel, byte[] payload) => Shows(peer) && Inner.Send(peer, channel, payload);
}
