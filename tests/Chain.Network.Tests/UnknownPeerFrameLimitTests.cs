using Chain.Network.Tcp;

namespace Chain.Network.Tests;

/// <summary>
/// A stranger (inbound, its key not a persistent peer's) may send frames up to <see cref="NetworkLimits.UnknownPeerMaxPayloadBytes"/>
/// only; a persistent peer, the same size and more. docs/network.md, "Limits".
/// </summary>
public class UnknownPeerFrameLimitTests
{
    private const int AboveStrangerLimit = NetworkLimits.UnknownPeerMaxPayloadBytes + 1;

    [Fact]
    public async Task A_stranger_announcing_more_than_its_limit_is_cut_off_and_banned_before_any_buffer_is_sized()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(7);
        var (a, ra) = nets.Start(ka, Nets.Options());
        await using var stranger = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx);
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the stranger");
        long reservedBefore = a.FrameBudget.PeakReserved;

        // Not awaited: a's close may fail the send part-way.
        _ = stranger.Connection.WriteMessageAsync(MessageChannel.Sync, new byte[AboveStrangerLimit], CancellationToken.None);
        await Wait.Until(() => a.Bans == 1 && a.ConnectedPeers.Count == 0, "a to ban and drop the stranger");
        Assert.Contains($"above the limit {1 + NetworkLimits.UnknownPeerMaxPayloadBytes + NetworkLimits.TagBytes}", ra.Banned.Single().Item2);
        Assert.Empty(ra.Messages);
        Assert.Equal(reservedBefore, a.FrameBudget.PeakReserved); // refused on its length alone: nothing reserved, nothing read
    }

    [Fact]
    public async Task A_stranger_at_its_limit_and_a_persistent_peer_above_it_are_both_delivered()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(7);
        using var kp = Keys.Node(8);
        // a lists kp as a persistent peer (at an address nobody listens on: only the key matters here).
        var (a, ra) = nets.Start(ka, Nets.Options(new PeerAddress("127.0.0.1", 1, kp.PublicKey)));

        await using var stranger = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx);
        await stranger.Connection.WriteMessageAsync(MessageChannel.Sync, new byte[NetworkLimits.UnknownPeerMaxPayloadBytes], CancellationToken.None);
        await using var known = await RawPeer.ConnectAsync(a.ListenEndpoint.Port, kp);
        await known.Connection.WriteMessageAsync(MessageChannel.Sync, new byte[AboveStrangerLimit], CancellationToken.None);

        await Wait.Until(() => ra.Messages.Count == 2, "both maximal messages to arrive");
        Assert.Equal(0, a.Bans);
        Assert.Equal([NetworkLimits.UnknownPeerMaxPayloadBytes, AboveStrangerLimit], ra.Messages.Select(m => m.Payload.Length).Order());
    }

    [Fact]
    public void A_stranger_limit_below_one_byte_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => (Nets.Options() with { UnknownPeerMaxPayloadBytes = 0 }).Validate());
        Assert.Contains("UnknownPeerMaxPayloadBytes must be at least 1, got 0", e.Message);
    }
}
