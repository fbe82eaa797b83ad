using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Network.Tcp;
using Microsoft.Extensions.Time.Testing;

namespace Chain.Network.Tests;

public class TcpPeerNetworkTests
{
    [Fact]
    public async Task Two_nodes_connect_and_exchange_messages_both_ways_on_every_channel()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var (b, rb) = nets.Start(kb, Nets.Options());
        var (a, ra) = nets.Start(ka, Nets.Options(Nets.AddressOf(b, kb.PublicKey)));
        await Wait.Until(() => a.ConnectedPeers.Contains(b.Self) && b.ConnectedPeers.Contains(a.Self), "a and b connected");
        Assert.Equal([b.Self], ra.Connected);
        Assert.Equal([a.Self], rb.Connected);

        foreach (var channel in Enum.GetValues<MessageChannel>())
        {
            Assert.True(a.Send(b.Self, channel, [(byte)channel, 1]));
            Assert.True(b.Send(a.Self, channel, [(byte)channel, 2]));
        }
        int channels = Enum.GetValues<MessageChannel>().Length;
        await Wait.Until(() => ra.Messages.Count == channels && rb.Messages.Count == channels, "every channel's message on both sides");
        Assert.All(rb.Messages, m => Assert.Equal(new PeerMessage(a.Self, m.Channel, m.Payload), m));
        Assert.Equal(Enum.GetValues<MessageChannel>(), rb.Messages.Select(m => m.Channel));
        Assert.Equal(Enum.GetValues<MessageChannel>().Select(c => new byte[] { (byte)c, 1 }), rb.Messages.Select(m => m.Payload));
        Assert.Equal(Enum.GetValues<MessageChannel>().Select(c => new byte[] { (byte)c, 2 }), ra.Messages.Select(m => m.Payload));
        Assert.Equal(channels, a.MessagesSent);
        Assert.Equal(channels, b.MessagesReceived);
        Assert.True(a.BytesSent > 0 && b.BytesReceived == a.BytesSent);
        // Per channel: each sent one 2-byte payload, framed (length, channel, tag); together they are the whole.
        await Wait.Until(() => Enum.GetValues<MessageChannel>().All(c => a.BytesSentOn(c) == 4 + 1 + 2 + NetworkLimits.TagBytes), "a's bytes counted per channel");
        Assert.Equal(a.BytesSent, Enum.GetValues<MessageChannel>().Sum(c => a.BytesSentOn(c)));
        Assert.Equal(0, a.HandshakeFailures + b.HandshakeFailures);
    }

    [Fact]
    public async Task Wrong_chain_id_is_refused_by_both_sides_with_a_clear_error_and_no_connection()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var (b, rb) = nets.Start(kb, Nets.Options() with { ChainId = new ChainId("other-chain") });
        var (a, ra) = nets.Start(ka, Nets.Options(Nets.AddressOf(b)));
        await Wait.Until(() => a.HandshakeFailures >= 1 && b.HandshakeFailures >= 1, "both sides to fail the handshake");
        foreach (var reason in new[] { ra.Failures.First().Reason, rb.Failures.First().Reason })
        {
            Assert.Contains("test-chain", reason);
            Assert.Contains("other-chain", reason);
        }
        Assert.Empty(ra.Connected);
        Assert.Empty(rb.Connected);
    }

    [Fact]
    public async Task Dialing_a_peer_that_proves_another_key_is_refused()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        using var expected = Keys.Node(3);
        var (b, rb) = nets.Start(kb, Nets.Options());
        var (a, ra) = nets.Start(ka, Nets.Options(Nets.AddressOf(b, expected.PublicKey)));
        await Wait.Until(() => a.HandshakeFailures >= 1, "a to refuse the handshake");
        Assert.Contains($"expected peer node key {expected.PublicKey}", ra.Failures.First().Reason);
        Assert.Contains(kb.PublicKey.ToString(), ra.Failures.First().Reason);
        Assert.Empty(ra.Connected);
        Assert.Empty(a.ConnectedPeers);
        await Wait.Until(() => b.ConnectedPeers.Count == 0, "b to see the refused connection closed");
    }

    [Fact]
    public async Task Network_refuses_a_man_in_the_middle_replaying_the_real_peers_signature()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        using var km = Keys.Node(66);
        var (b, _) = nets.Start(kb, Nets.Options());
        // Mallory handshakes with b on her own ephemeral key and keeps b's signature over that transcript...
        await using var malloryToB = await RawPeer.ConnectAsync(b.ListenEndpoint!.Port, km);
        var stolen = malloryToB.Connection.RemoteSignature;
        // ...then listens where a expects b, and offers b's key with the stolen signature.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var (a, ra) = nets.Start(ka, Nets.Options(new PeerAddress("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, kb.PublicKey)));
            using var victim = await Wait.For(listener.AcceptTcpClientAsync(), "a to dial mallory");
            var mallory = SecretConnection.EstablishAsync(victim.GetStream(), Nets.Chain, _ => (kb.PublicKey, stolen), null,
                TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None, NetworkLimits.MaxPayloadBytes);
            await Wait.Until(() => a.HandshakeFailures >= 1, "a to refuse mallory's proof");
            Assert.Contains("did not sign this handshake's transcript", ra.Failures.First().Reason);
            Assert.Empty(ra.Connected);
            await Wait.For(mallory.ContinueWith(_ => true), "mallory's side to end");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task Tampered_ciphertext_disconnects_and_bans_the_sender_and_its_reconnect_is_refused()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(9);
        var (a, ra) = nets.Start(ka, Nets.Options());
        await using var raw = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx, s => new TamperingStream(s) { FlipByteInWrite = 2 });
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the raw peer");
        await raw.Connection.WriteMessageAsync(MessageChannel.Consensus, new byte[] { 1, 2, 3 }, CancellationToken.None);
        await Wait.Until(() => a.Bans == 1 && a.ConnectedPeers.Count == 0, "a to ban and drop the tampering peer");
        Assert.True(a.IsBanned(new PeerId(kx.PublicKey)));
        Assert.Contains("failed authentication", ra.Banned.Single().Item2);
        Assert.Empty(ra.Messages);
        Assert.True(await Wait.For(RawPeer.ClosedByRemoteAsync(raw.Socket), "the raw peer to see the close"));

        long refusedBefore = a.RefusedConnections;
        await Assert.ThrowsAsync<HandshakeException>(() => RawPeer.ConnectAsync(a.ListenEndpoint.Port, kx));
        Assert.Equal(refusedBefore + 1, a.RefusedConnections);
    }

    [Fact]
    public async Task Replayed_frame_disconnects_the_sender_after_the_original_is_delivered()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(9);
        var (a, ra) = nets.Start(ka, Nets.Options());
        await using var raw = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx, s => new TamperingStream(s) { DuplicateWrite = 2 });
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the raw peer");
        await raw.Connection.WriteMessageAsync(MessageChannel.Transactions, new byte[] { 5 }, CancellationToken.None);
        await Wait.Until(() => ra.Disconnected.Count == 1, "a to drop the replaying peer");
        Assert.Equal([5], ra.Messages.Single().Payload);
        Assert.Equal(1, a.ProtocolViolations);
    }

    [Fact]
    public async Task Oversize_length_prefix_disconnects_and_bans()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(9);
        var (a, ra) = nets.Start(ka, Nets.Options());
        await using var raw = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx);
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the raw peer");
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, NetworkLimits.MaxFrameCiphertextBytes + 1u);
        await raw.Socket.WriteAsync(header);
        await Wait.Until(() => a.Bans == 1 && a.ConnectedPeers.Count == 0, "a to ban the oversize sender");
        Assert.Contains("above the limit", ra.Banned.Single().Item2);
    }

    [Fact]
    public async Task Unknown_channel_costs_score_but_keeps_the_link_and_an_empty_frame_bans()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(9);
        var (a, ra) = nets.Start(ka, Nets.Options() with { UnknownChannelPenalty = 25 });
        await using var raw = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx);
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the raw peer");
        await raw.Connection.WritePlaintextFrameAsync([77, 1, 2], CancellationToken.None);
        await raw.Connection.WriteMessageAsync(MessageChannel.Status, new byte[] { 4 }, CancellationToken.None);
        await Wait.Until(() => ra.Messages.Count == 1, "the valid message after the unknown channel");
        Assert.Equal(1, a.ProtocolViolations);
        Assert.Equal(0, a.Bans);
        Assert.Equal(MessageChannel.Status, ra.Messages.Single().Channel);

        await raw.Connection.WritePlaintextFrameAsync([], CancellationToken.None);
        await Wait.Until(() => a.Bans == 1 && a.ConnectedPeers.Count == 0, "a to ban the peer for a frame with no channel byte");
        Assert.Contains("no channel byte", ra.Banned.Single().Item2);
    }

    [Fact]
    public async Task Connections_beyond_the_peer_limit_are_refused()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(9);
        using var ky = Keys.Node(10);
        var (a, _) = nets.Start(ka, Nets.Options() with { MaxPeers = 1 });
        await using var first = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx);
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the first peer");
        await Assert.ThrowsAsync<HandshakeException>(() => RawPeer.ConnectAsync(a.ListenEndpoint.Port, ky));
        Assert.Equal(1, a.RefusedConnections);
        Assert.Equal([new PeerId(kx.PublicKey)], a.ConnectedPeers);
    }

    [Fact]
    public async Task Garbage_instead_of_a_handshake_is_refused_and_the_socket_closed()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        var (a, ra) = nets.Start(ka, Nets.Options());
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, a.ListenEndpoint!.Port);
        var garbage = new byte[300];
        new Random(3).NextBytes(garbage);
        await client.GetStream().WriteAsync(garbage);
        Assert.True(await Wait.For(RawPeer.ClosedByRemoteAsync(client.GetStream()), "a to close the garbage connection"));
        await Wait.Until(() => a.HandshakeFailures == 1, "the failure to be counted");
        Assert.Contains("not a Chain peer", ra.Failures.Single().Reason);
        Assert.Empty(ra.Connected);
    }

    [Fact]
    public async Task Silent_peer_is_cut_off_at_the_handshake_deadline()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        var (a, ra) = nets.Start(ka, Nets.Options() with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, a.ListenEndpoint!.Port);
        Assert.True(await Wait.For(RawPeer.ClosedByRemoteAsync(client.GetStream()), "a to close the silent connection"));
        await Wait.Until(() => a.HandshakeFailures == 1, "the timeout to be counted");
        Assert.Contains("did not finish within 200 ms", ra.Failures.Single().Reason);
    }

    [Fact]
    public async Task Full_send_queue_drops_and_counts_without_blocking_the_caller()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kx = Keys.Node(9);
        var (a, _) = nets.Start(ka, Nets.Options() with { SendQueueMessages = 4 });
        // The raw peer never reads, so once the kernel buffers fill the writer stalls and the queue fills.
        await using var raw = await RawPeer.ConnectAsync(a.ListenEndpoint!.Port, kx);
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to accept the raw peer");
        var peer = new PeerId(kx.PublicKey);
        var payload = new byte[1 << 20];
        int refused = 0;
        var sending = Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
                if (!a.Send(peer, MessageChannel.Sync, payload)) refused++;
        });
        await Wait.For(sending.ContinueWith(_ => true), "200 sends to return without blocking");
        Assert.True(refused > 0, "some sends were refused");
        Assert.Equal(refused, a.DroppedSends);
        Assert.Contains(peer, a.ConnectedPeers);
    }

    [Fact]
    public async Task Flooding_peer_is_slowed_to_the_inbound_rate_not_dropped_or_banned()
    {
        // A burst above the rate is what an honest validator sends after a freeze: the reader waits (back-pressure)
        // and delivers everything, in order, at the rate; nobody is banned.
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var clock = new FakeTimeProvider();
        var (a, ra) = nets.Start(ka, Nets.Options() with
        {
            TimeProvider = clock, // the bucket refills only when the test advances the clock
            InboundMessagesPerSecond = 10,
        });
        var (b, _) = nets.Start(kb, Nets.Options(Nets.AddressOf(a, ka.PublicKey)));
        await Wait.Until(() => a.ConnectedPeers.Contains(b.Self) && b.ConnectedPeers.Contains(a.Self), "a and b connected");

        for (int i = 0; i < 40; i++) Assert.True(b.Send(a.Self, MessageChannel.Transactions, [(byte)i]));
        for (int second = 1; second <= 4; second++)
        {
            await Wait.Until(() => ra.Messages.Count == 10 * second, $"{10 * second} messages after {second - 1} s of refill");
            Assert.Equal(10 * second, ra.Messages.Count); // never more than the bucket allows
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (byte)i), ra.Messages.Select(m => m.Payload.Single()));
        Assert.True(a.RateLimitedMessages >= 3, $"waits counted: {a.RateLimitedMessages}");
        Assert.Equal(0, a.Bans);
        Assert.Contains(b.Self, a.ConnectedPeers);
    }

    [Fact]
    public async Task Banned_peer_is_refused_until_the_ban_expires()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var clock = new FakeTimeProvider();
        var (a, ra) = nets.Start(ka, Nets.Options() with
        {
            TimeProvider = clock, // the ban only expires when the test says
            InitialScore = 10,
            MisbehaviourPenalty = 10,
            BanDuration = TimeSpan.FromMinutes(5),
        });
        var (b, rb) = nets.Start(kb, Nets.Options(Nets.AddressOf(a, ka.PublicKey)));
        await Wait.Until(() => a.ConnectedPeers.Contains(b.Self) && b.ConnectedPeers.Contains(a.Self), "a and b connected");

        a.ReportMisbehaviour(b.Self, "bad vote");
        await Wait.Until(() => a.Bans == 1 && a.ConnectedPeers.Count == 0, "a to ban the misbehaving peer");
        Assert.Equal("misbehaviour: bad vote", ra.Banned.Single().Item2);
        await Wait.Until(() => rb.Disconnected.Count >= 1, "b to see the disconnect");

        long refused = a.RefusedConnections;
        await Wait.Until(() => a.RefusedConnections >= refused + 2, "b's redials to be refused while banned");
        Assert.Empty(a.ConnectedPeers);

        clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        await Wait.Until(() => a.ConnectedPeers.Contains(b.Self), "b to reconnect once the ban expired");
        Assert.False(a.IsBanned(b.Self));
    }

    [Fact]
    public async Task Repeated_misbehaviour_reports_disconnect_and_ban_the_peer()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var (b, rb) = nets.Start(kb, Nets.Options());
        var (a, ra) = nets.Start(ka, Nets.Options(Nets.AddressOf(b)) with { InitialScore = 30, MisbehaviourPenalty = 10 });
        await Wait.Until(() => a.ConnectedPeers.Contains(b.Self) && b.ConnectedPeers.Contains(a.Self), "a and b connected");
        a.ReportMisbehaviour(b.Self, "bad vote");
        a.ReportMisbehaviour(b.Self, "bad vote");
        Assert.Contains(b.Self, a.ConnectedPeers);
        a.ReportMisbehaviour(b.Self, "bad vote");
        await Wait.Until(() => !a.ConnectedPeers.Contains(b.Self) && !b.ConnectedPeers.Contains(a.Self), "both sides to drop the link");
        Assert.True(a.IsBanned(b.Self));
        Assert.Equal("misbehaviour: bad vote", ra.Banned.Single().Item2);
        Assert.Equal([b.Self], ra.Disconnected);
    }

    [Fact]
    public async Task Persistent_peer_is_redialed_after_it_restarts()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var first = new TcpPeerNetwork(kb, Nets.Options());
        first.Start();
        int port = first.ListenEndpoint!.Port;
        var (a, ra) = nets.Start(ka, Nets.Options(new PeerAddress("127.0.0.1", port, kb.PublicKey)));
        await Wait.Until(() => a.ConnectedPeers.Count == 1, "a to connect to the first b");
        await first.DisposeAsync();
        await Wait.Until(() => ra.Disconnected.Count == 1 && a.ConnectedPeers.Count == 0, "a to see b go");

        var (second, rs) = nets.Start(kb, Nets.Options() with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, port) });
        await Wait.Until(() => a.ConnectedPeers.Count == 1 && second.ConnectedPeers.Contains(a.Self), "a to redial the restarted b");
        Assert.Equal(2, ra.Connected.Count);
        Assert.True(second.Send(a.Self, MessageChannel.Status, [1]));
        await Wait.Until(() => ra.Messages.Count == 1, "a message over the new connection");
    }

    [Fact]
    public async Task Simultaneous_dials_leave_exactly_one_shared_connection()
    {
        for (int round = 0; round < 3; round++)
        {
            await using var nets = new Nets();
            using var ka = Keys.Node(1);
            using var kb = Keys.Node(2);
            var portA = FreePort();
            var portB = FreePort();
            var optionsA = Nets.Options(new PeerAddress("127.0.0.1", portB, kb.PublicKey)) with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, portA) };
            var optionsB = Nets.Options(new PeerAddress("127.0.0.1", portA, ka.PublicKey)) with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, portB) };
            var (a, ra) = nets.Start(ka, optionsA);
            var (b, rb) = nets.Start(kb, optionsB);
            // Either connection may survive (the rule only decides between two that both completed), but both
            // sides must hold the same one.
            await Wait.Until(() =>
            {
                var ea = a.ConnectionEndpoints();
                var eb = b.ConnectionEndpoints();
                return ea.Count == 1 && eb.Count == 1 && Equals(ea[0].Local, eb[0].Remote) && Equals(ea[0].Remote, eb[0].Local);
            }, "both sides to hold the same single connection");
            Assert.True(a.Send(b.Self, MessageChannel.Consensus, [1]));
            Assert.True(b.Send(a.Self, MessageChannel.Consensus, [2]));
            await Wait.Until(() => ra.Messages.Count == 1 && rb.Messages.Count == 1, "a message each way over it");
            Assert.Equal([b.Self], a.ConnectedPeers);
            Assert.Equal([a.Self], b.ConnectedPeers);
        }
    }

    /// <summary>
    /// The remote finishes the winning handshake first, retires the old connection and half-closes it, and that FIN
    /// arrives here before the last bytes of its handshake frame (held back, as a delayed segment would be). The peer
    /// must stay connected on the old connection — no events, and what we send there still reaches the remote —
    /// until the new one replaces it.
    /// </summary>
    [Fact]
    public async Task Remote_retiring_a_connection_before_our_side_of_the_winning_handshake_is_done_keeps_the_peer()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var (a, ra, b, old, newer, held) = await OldConnectionFinishedDuringSecondHandshake(nets, ka, kb);
        await using var _ = old;

        Assert.Equal([b], a.ConnectedPeers);
        Assert.True(a.Send(b, MessageChannel.Consensus, [7]));
        using var cts = new CancellationTokenSource(Wait.Deadline);
        var (channel, payload) = await old.Connection.ReadMessageAsync(cts.Token);
        Assert.Equal(MessageChannel.Consensus, channel);
        Assert.Equal([7], payload);

        held.Release();
        await using var replacement = await Wait.For(newer, "the second handshake to finish");
        // The old connection is retired: drained, then half-closed.
        await Assert.ThrowsAsync<EndOfStreamException>(() => old.Connection.ReadMessageAsync(cts.Token));
        await Wait.Until(() => !a.RemoteFinishedOn(b) && a.ConnectedPeers.Contains(b), "the new connection to be the peer's");
        Assert.True(a.Send(b, MessageChannel.Consensus, [8]));
        (channel, payload) = await replacement.Connection.ReadMessageAsync(cts.Token);
        Assert.Equal(MessageChannel.Consensus, channel);
        Assert.Equal([8], payload);
        Assert.Equal([b], ra.Connected);
        Assert.Empty(ra.Disconnected);
    }

    /// <summary>As above, but the handshake in flight fails: the old connection was really closed, and the peer goes.</summary>
    [Fact]
    public async Task Remote_closing_while_a_handshake_from_its_address_fails_drops_the_peer_after_it()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        using var kb = Keys.Node(2);
        var (a, ra, b, old, newer, held) = await OldConnectionFinishedDuringSecondHandshake(nets, ka, kb);
        await using var _ = old;
        Assert.Empty(ra.Disconnected);

        held.Dispose(); // closes the socket mid-handshake
        held.Release();
        await Assert.ThrowsAnyAsync<Exception>(() => newer);
        await Wait.Until(() => ra.Disconnected.Count == 1 && a.ConnectedPeers.Count == 0, "a to drop the peer once the handshake failed");
        Assert.Contains(ra.Failures, f => f.Reason.Contains("handshake", StringComparison.Ordinal));
    }

    /// <summary>
    /// Node a (key <paramref name="ka"/>) and a raw peer b dialing it twice: the second handshake is held before its
    /// last frame (the same side dialed both, so the newer wins on both sides) while b half-closes the first
    /// connection, and a has read that end of stream.
    /// </summary>
    private static async Task<(TcpPeerNetwork A, Recorder Ra, PeerId B, RawPeer Old, Task<RawPeer> Newer, TamperingStream Held)>
        OldConnectionFinishedDuringSecondHandshake(Nets nets, PrivateKey ka, PrivateKey kb)
    {
        var (a, ra) = nets.Start(ka, Nets.Options() with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, 0) });
        var b = new PeerId(kb.PublicKey);
        int port = a.ListenEndpoint!.Port;
        var old = await RawPeer.ConnectAsync(port, kb);
        await Wait.Until(() => a.ConnectedPeers.Contains(b), "a to register the first connection");
        TamperingStream? held = null;
        var newer = RawPeer.ConnectAsync(port, kb, s => held = new TamperingStream(s) { HoldWrite = 1 });
        await Wait.Until(() => held is not null, "the second dial");
        await Wait.For(held!.HoldReached, "the second handshake to reach the remote's authentication frame");
        old.Socket.Socket.Shutdown(SocketShutdown.Send);
        await Wait.Until(() => a.RemoteFinishedOn(b), "a to read the end of the old connection");
        return (a, ra, b, old, newer, held);
    }

    [Fact]
    public async Task Three_nodes_in_a_full_mesh_receive_each_others_broadcasts()
    {
        await using var nets = new Nets();
        var keys = new[] { Keys.Node(1), Keys.Node(2), Keys.Node(3) };
        var ports = keys.Select(_ => FreePort()).ToArray();
        var started = keys.Select((k, i) => nets.Start(k, Nets.Options(
                keys.Select((other, j) => new PeerAddress("127.0.0.1", ports[j], other.PublicKey)).Where((_, j) => j != i).ToArray())
            with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, ports[i]) })).ToArray();
        await Wait.Until(() => started.All(s => s.Network.ConnectedPeers.Count == 2), "every node connected to the other two");
        // Sent straight away: a link that a simultaneous dial replaces afterwards still delivers what is in flight.

        for (int i = 0; i < 3; i++) started[i].Network.Broadcast(MessageChannel.Consensus, [(byte)i]);
        await Wait.Until(() => started.All(s => s.Recorder.Messages.Count == 2), "every node to receive the other two broadcasts");
        for (int i = 0; i < 3; i++)
        {
            var received = started[i].Recorder.Messages.Select(m => (m.From, m.Payload[0])).OrderBy(x => x.Item2).ToList();
            var expected = Enumerable.Range(0, 3).Where(j => j != i).Select(j => (started[j].Network.Self, (byte)j)).ToList();
            Assert.Equal(expected, received);
        }
        foreach (var key in keys) key.Dispose();
    }

    [Fact]
    public async Task Dialing_ourselves_is_refused_and_not_retried()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        int port = FreePort();
        var (a, ra) = nets.Start(ka, Nets.Options(new PeerAddress("127.0.0.1", port)) with { ListenEndpoint = new IPEndPoint(IPAddress.Loopback, port) });
        await Wait.Until(() => ra.Failures.Count(f => f.Reason.Contains("ourselves")) == 2, "both ends of the self-connection refused");
        Assert.Empty(ra.Connected);
        Assert.Empty(a.ConnectedPeers);
    }

    [Fact]
    public async Task Bad_sends_are_refused_with_a_clear_error_and_queue_nothing()
    {
        await using var nets = new Nets();
        using var ka = Keys.Node(1);
        var (a, _) = nets.Start(ka, Nets.Options() with { MaxPayloadBytes = 8 });
        var e = Assert.Throws<ArgumentException>(() => a.Broadcast(MessageChannel.Sync, new byte[9]));
        Assert.Contains("limit is 8", e.Message);
        Assert.Throws<ArgumentException>(() => a.Send(a.Self, (MessageChannel)99, [1]));
        Assert.False(a.Send(new PeerId(Keys.Node(5).PublicKey), MessageChannel.Sync, [1]));
        Assert.Equal(0, a.MessagesSent);
    }

    [Fact]
    public void Invalid_options_are_refused_naming_the_option()
    {
        using var ka = Keys.Node(1);
        var e = Assert.Throws<ArgumentException>(() => new TcpPeerNetwork(ka, Nets.Options() with { MaxPeers = 0 }));
        Assert.Contains("MaxPeers", e.Message);
        e = Assert.Throws<ArgumentException>(() => new TcpPeerNetwork(ka, Nets.Options() with { ReconnectBackoffMax = TimeSpan.FromMilliseconds(1) }));
        Assert.Contains("ReconnectBackoffMax", e.Message);
    }

    [Fact]
    public void Peer_addresses_parse_with_and_without_a_key()
    {
        using var kb = Keys.Node(2);
        Assert.Equal(new PeerAddress("node1.example", 26656), PeerAddress.Parse("node1.example:26656"));
        var withKey = PeerAddress.Parse($"{kb.PublicKey}@10.0.0.1:1234");
        Assert.Equal(new PeerAddress("10.0.0.1", 1234, kb.PublicKey), withKey);
        Assert.Equal(withKey, PeerAddress.Parse(withKey.ToString()));
        Assert.Equal(new PeerAddress("::1", 9), PeerAddress.Parse("[::1]:9"));
        Assert.Contains("host:port", Assert.Throws<FormatException>(() => PeerAddress.Parse("nohost")).Message);
        Assert.Contains("port", Assert.Throws<FormatException>(() => PeerAddress.Parse("h:99999")).Message);
        Assert.Contains("not hex", Assert.Throws<FormatException>(() => PeerAddress.Parse("zz@h:1")).Message);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
