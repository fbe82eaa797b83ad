using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection that delivers only the incoming messages <c>deliver</c> lets through (tests that
/// withhold gossip from a node), or rewritten ones (a hostile peer's answers); everything else passes to the inner network unchanged.
/// </summary>
internal sealed class IncomingFilter : IPeerNetwork
{
    private readonly IPeerNetwork _inner;

    public IncomingFilter(IPeerNetwork inner, Func<PeerMessage, bool> deliver)
        : this(inner, m => deliver(m) ? m : null)
    {
    }

    /// <param name="rewrite">What the node receives instead of each incoming message (null: nothing).</param>
    public IncomingFilter(IPeerNetwork inner, Func<PeerMessage, PeerMessage?> rewrite)
    {
        _inner = inner;
        _inner.MessageReceived += m =>
        {
            if (rewrite(m) is { } delivered) MessageReceived?.Invoke(delivered);
        };
    }

    /// <summary>Incoming transaction gossip (pushed batches and relay by hash) withheld: the node sees transactions only inside blocks.</summary>
    public static IncomingFilter TransactionsWithheld(IPeerNetwork inner) => new(inner, m => !IsTransactionGossip(m));

    public static bool IsTransactionGossip(PeerMessage m) => m.Channel is MessageChannel.Transactions or MessageChannel.TransactionRelay;

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
