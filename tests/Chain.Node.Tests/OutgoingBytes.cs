using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection that counts the payload bytes it sends, per channel and recipient (a broadcast counts once per
/// peer it reaches), as the wire sees them: a check of the node's own metrics that does not trust them.
/// </summary>
internal sealed class OutgoingBytes(IPeerNetwork inner, Func<MessageChannel, byte[], bool> counts) : PeerNetworkDecorator(inner)
{
    private long _bytes;

    /// <summary>Payload bytes sent in messages <c>counts</c> selects.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public override void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null) => BroadcastOneByOne(channel, payload, except);

    public override bool Send(PeerId peer, MessageChannel channel, byte[] payload)
    {
        bool sent = Inner.Send(peer, channel, payload);
        if (sent && counts(channel, payload)) Interlocked.Add(ref _bytes, payload.Length);
        return sent;
    }
}
