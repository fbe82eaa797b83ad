using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection wrapped by a test: everything passes to and from the inner network unless a subclass filters
/// incoming messages (<see cref="Incoming"/>), hides peers (<see cref="Shows"/>) or overrides sending.
/// </summary>
internal abstract class PeerNetworkDecorator : IPeerNetwork
{
    // Subclasses keep their filters in fields set from primary-constructor parameters, which C# assigns before this
    // constructor runs, so the handlers below never see them unset.
    protected PeerNetworkDecorator(IPeerNetwork inner)
    {
        Inner = inner;
        inner.MessageReceived += m =>
        {
            if (Incoming(m) is { } delivered) MessageReceived?.Invoke(delivered);
        };
        inner.PeerConnected += p =>
        {
            if (Shows(p)) PeerConnected?.Invoke(p);
        };
        inner.PeerDisconnected += p =>
        {
            if (Shows(p)) PeerDisconnected?.Invoke(p);
        };
    }

    protected IPeerNetwork Inner { get; }

    /// <summary>What the node receives instead of <paramref name="message"/> (null: nothing).</summary>
    protected virtual PeerMessage? Incoming(PeerMessage message) => message;

    /// <summary>Whether the node sees <paramref name="peer"/> at all.</summary>
    protected virtual bool Shows(PeerId peer) => true;

    public event Action<PeerMessage>? MessageReceived;
    public event Action<PeerId>? PeerConnected;
    public event Action<PeerId>? PeerDisconnected;

    public PeerId Self => Inner.Self;
    public virtual IReadOnlyList<PeerId> ConnectedPeers => Inner.ConnectedPeers;
    public virtual void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null) => Inner.Broadcast(channel, payload, except);
    public virtual bool Send(PeerId peer, MessageChannel channel, byte[] payload) => Inner.Send(peer, channel, payload);
    public void ReportMisbehaviour(PeerId peer, string reason) => Inner.ReportMisbehaviour(peer, reason);
    public void Dispose() => Inner.Dispose();

    /// <summary>A broadcast as one <see cref="Send"/> per visible peer, for subclasses that must see every recipient.</summary>
    protected void BroadcastOneByOne(MessageChannel channel, byte[] payload, PeerId? except)
    {
        foreach (var peer in ConnectedPeers)
            if (peer != except) Send(peer, channel, payload);
    }
}
