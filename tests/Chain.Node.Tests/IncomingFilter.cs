using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// A node's connection that delivers only the incoming messages <c>deliver</c> lets through (tests that
/// withhold gossip from a node), or rewritten ones (a hostile peer's answers); everything else passes to the inner network unchanged.
/// </summary>
internal sealed class IncomingFilter(IPeerNetwork inner, Func<PeerMessage, PeerMessage?> rewrite) : PeerNetworkDecorator(inner)
{
    private readonly Func<PeerMessage, PeerMessage?> _rewrite = rewrite;

    public IncomingFilter(IPeerNetwork inner, Func<PeerMessage, bool> deliver)
        : this(inner, m => deliver(m) ? m : null)
    {
    }

    /// <summary>Incoming transaction gossip (pushed batches and relay by hash) withheld: the node sees transactions only inside blocks.</summary>
    public static IncomingFilter TransactionsWithheld(IPeerNetwork inner) => new(inner, m => !IsTransactionGossip(m));

    public static bool IsTransactionGossip(PeerMessage m) => m.Channel is MessageChannel.Transactions or MessageChannel.TransactionRelay;

    protected override PeerMessage? Incoming(PeerMessage message) => _rewrite(message);
}
