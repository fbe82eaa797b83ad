using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection that counts the payload bytes it sends, per channel and recipient (a broadcast counts once per
/// peer it reaches), as the wire sees them: a check of the node's own metrics that does not trust them.
/// </summary>
internal sealed class OutgoingBytes(IPeerNetwork inner, Func<MessageChannel, byte[], bool> counts) : IPeerNetwork
{
    private long _bytes;

    /// <summary>Payload bytes sent in messages <c>counts</c> selects.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public event Action<PeerMessage>? MessageReceived
    {
        add => inner.MessageReceived += value;
        remove => inner.MessageReceived -= value;
    }

    public event Action<PeerId>? PeerConnected
    {
        add => inner.PeerConnected += value;
        remove => inner.PeerConnected -= value;
    }

    public event Action<PeerId>? PeerDisconnected
    {
        add => inner.PeerDisconnected += value;
        remove => inner.PeerDisconnected -= value;
    }

    public PeerId Self => inner.Self;
    public IReadOnlyList<PeerId> ConnectedPeers => inner.ConnectedPeers;

    public void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null)
    {
        foreach (var peer in inner.ConnectedPeers)
            if (peer != except) Send(peer, channel, payload);
    }

    public bool Send(PeerId peer, MessageChannel channel, byte[] payload)
    {
        bool sent = inner.Send(peer, channel, payload);
        if (sent && counts(channel, payload)) Interlocked.Add(ref _bytes, payload.Length);
        return sent;
    }

    public void ReportMisbehaviour(PeerId peer, string reason) => inner.ReportMisbehaviour(peer, reason);
    public void Dispose() => inner.Dispose();
}
