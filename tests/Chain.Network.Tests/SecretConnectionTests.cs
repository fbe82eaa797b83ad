using System.Buffers.Binary;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Network.Tcp;

namespace Chain.Network.Tests;

public class SecretConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly ChainId Chain = new("test-chain");

    private static Task<SecretConnection> Establish(Stream stream, PrivateKey key, PublicKey? expected = null, ChainId? chain = null, TimeSpan? timeout = null) =>
        SecretConnection.EstablishAsync(stream, chain ?? Chain, key, expected, timeout ?? Timeout, TimeProvider.System, CancellationToken.None);

    [Fact]
    public async Task Handshake_proves_both_node_keys_and_carries_messages_both_ways_on_every_channel()
    {
        using var pair = await SocketPair.CreateAsync();
        using var alice = Keys.Node(1);
        using var bob = Keys.Node(2);
        var (a, b) = (Establish(pair.A, alice, bob.PublicKey), Establish(pair.B, bob));
        await using var ca = await Wait.For(a, "alice's handshake");
        await using var cb = await Wait.For(b, "bob's handshake");
        Assert.Equal(bob.PublicKey, ca.RemoteKey);
        Assert.Equal(alice.PublicKey, cb.RemoteKey);
        Assert.Equal(ca.TranscriptHash, cb.TranscriptHash);

        foreach (var channel in Enum.GetValues<MessageChannel>())
        {
            byte[] there = [(byte)channel, 1, 2, 3], back = [(byte)channel, 9];
            await ca.WriteMessageAsync(channel, there, CancellationToken.None);
            var received = await Wait.For(cb.ReadMessageAsync(CancellationToken.None), "bob reading");
            Assert.Equal(channel, received.Channel);
            Assert.Equal(there, received.Payload);
            await cb.WriteMessageAsync(channel, back, CancellationToken.None);
            received = await Wait.For(ca.ReadMessageAsync(CancellationToken.None), "alice reading");
            Assert.Equal(channel, received.Channel);
            Assert.Equal(back, received.Payload);
        }
        // An empty payload is a valid message too.
        await ca.WriteMessageAsync(MessageChannel.Status, Array.Empty<byte>(), CancellationToken.None);
        Assert.Empty((await Wait.For(cb.ReadMessageAsync(CancellationToken.None), "empty message")).Payload);
    }

    [Fact]
    public async Task Wrong_chain_id_is_refused_on_both_sides_naming_both_chains()
    {
        using var pair = await SocketPair.CreateAsync();
        using var alice = Keys.Node(1);
        using var bob = Keys.Node(2);
        var a = Establish(pair.A, alice, chain: new ChainId("chain-one"));
        var b = Establish(pair.B, bob, chain: new ChainId("chain-two"));
        var ea = await Assert.ThrowsAsync<HandshakeException>(() => a);
        var eb = await Assert.ThrowsAsync<HandshakeException>(() => b);
        foreach (var e in new[] { ea, eb })
        {
            Assert.Contains("chain-one", e.Message);
            Assert.Contains("chain-two", e.Message);
        }
    }

    [Fact]
    public async Task Expected_key_mismatch_is_refused_naming_both_keys()
    {
        using var pair = await SocketPair.CreateAsync();
        using var alice = Keys.Node(1);
        using var bob = Keys.Node(2);
        using var someoneElse = Keys.Node(3);
        var a = Establish(pair.A, alice, expected: someoneElse.PublicKey);
        var b = Establish(pair.B, bob);
        var e = await Assert.ThrowsAsync<HandshakeException>(() => a);
        Assert.Contains(someoneElse.PublicKey.ToString(), e.Message);
        Assert.Contains(bob.PublicKey.ToString(), e.Message);
        pair.Client.Dispose(); // alice hangs up; bob's side ends either way
        await Wait.For(b.ContinueWith(_ => true), "bob's side to finish");
    }

    [Fact]
    public async Task Man_in_the_middle_substituting_its_ephemeral_keys_cannot_present_the_real_peers_signature()
    {
        // Mallory sits between alice and bob: she runs her own handshake with bob (her ephemeral key, not alice's),
        // learns bob's signature over *that* transcript, and replays it to alice claiming to be bob.
        using var toBob = await SocketPair.CreateAsync();
        using var toAlice = await SocketPair.CreateAsync();
        using var alice = Keys.Node(1);
        using var bob = Keys.Node(2);
        using var mallory = Keys.Node(66);

        var bobSide = Establish(toBob.B, bob);
        await using var malloryWithBob = await Wait.For(Establish(toBob.A, mallory), "mallory's handshake with bob");
        await using var bobWithMallory = await Wait.For(bobSide, "bob's handshake");
        var stolenSignature = malloryWithBob.RemoteSignature;
        Assert.True(Ed25519.Verify(bob.PublicKey, SecretConnection.AuthMessage(malloryWithBob.TranscriptHash), stolenSignature));

        var aliceSide = Establish(toAlice.A, alice, expected: bob.PublicKey);
        var mallorySide = SecretConnection.EstablishAsync(toAlice.B, Chain, _ => (bob.PublicKey, stolenSignature), null,
            Timeout, TimeProvider.System, CancellationToken.None, NetworkLimits.MaxPayloadBytes);
        var e = await Assert.ThrowsAsync<HandshakeException>(() => aliceSide);
        Assert.Contains("did not sign this handshake's transcript", e.Message);
        toAlice.Client.Dispose();
        await Wait.For(mallorySide.ContinueWith(_ => true), "mallory's side to finish");
    }

    [Fact]
    public async Task Tampered_ciphertext_fails_authentication()
    {
        using var pair = await SocketPair.CreateAsync();
        var tampering = new TamperingStream(pair.A) { FlipByteInWrite = 2 };
        await using var writer = await HandshakeAsync(tampering, pair.B, out var readerTask);
        await using var reader = await readerTask;
        await writer.WriteMessageAsync(MessageChannel.Consensus, new byte[] { 1, 2, 3 }, CancellationToken.None);
        var e = await Assert.ThrowsAsync<PeerProtocolException>(() => reader.ReadMessageAsync(CancellationToken.None));
        Assert.Equal(ProtocolViolation.AuthenticationFailed, e.Violation);
    }

    [Fact]
    public async Task Replayed_frame_fails_authentication()
    {
        using var pair = await SocketPair.CreateAsync();
        var tampering = new TamperingStream(pair.A) { DuplicateWrite = 2 };
        await using var writer = await HandshakeAsync(tampering, pair.B, out var readerTask);
        await using var reader = await readerTask;
        await writer.WriteMessageAsync(MessageChannel.Consensus, new byte[] { 1, 2, 3 }, CancellationToken.None);
        Assert.Equal([1, 2, 3], (await reader.ReadMessageAsync(CancellationToken.None)).Payload);
        var e = await Assert.ThrowsAsync<PeerProtocolException>(() => reader.ReadMessageAsync(CancellationToken.None));
        Assert.Equal(ProtocolViolation.AuthenticationFailed, e.Violation);
    }

    [Fact]
    public async Task Garbage_instead_of_a_hello_is_refused_as_not_a_chain_peer()
    {
        using var pair = await SocketPair.CreateAsync();
        using var bob = Keys.Node(2);
        var b = Establish(pair.B, bob);
        var garbage = new byte[200];
        new Random(7).NextBytes(garbage);
        await pair.A.WriteAsync(garbage);
        var e = await Assert.ThrowsAsync<HandshakeException>(() => b);
        Assert.Contains("not a Chain peer", e.Message);
    }

    [Fact]
    public async Task Silent_peer_times_out_the_handshake()
    {
        using var pair = await SocketPair.CreateAsync();
        using var bob = Keys.Node(2);
        var e = await Assert.ThrowsAsync<HandshakeException>(() =>
            Wait.For(Establish(pair.B, bob, timeout: TimeSpan.FromMilliseconds(200)), "the handshake deadline"));
        Assert.Contains("did not finish within 200 ms", e.Message);
    }

    [Fact]
    public async Task Payload_above_the_limit_is_refused_by_the_writer()
    {
        var (reader, writer, pair) = await ConnectedAsync(maxPayload: 16);
        using var _ = pair;
        await using var r = reader;
        await using var w = writer;
        var e = await Assert.ThrowsAsync<ArgumentException>(() => w.WriteMessageAsync(MessageChannel.Sync, new byte[17], CancellationToken.None));
        Assert.Contains("limit is 16", e.Message);
    }

    private static async Task<(SecretConnection Reader, SecretConnection Writer, SocketPair Pair)> ConnectedAsync(int maxPayload = NetworkLimits.MaxPayloadBytes)
    {
        var pair = await SocketPair.CreateAsync();
        using var alice = Keys.Node(1);
        using var bob = Keys.Node(2);
        var a = SecretConnection.EstablishAsync(pair.A, Chain, alice, null, Timeout, TimeProvider.System, CancellationToken.None, maxPayload);
        var b = SecretConnection.EstablishAsync(pair.B, Chain, bob, null, Timeout, TimeProvider.System, CancellationToken.None, maxPayload);
        return (await Wait.For(b, "reader handshake"), await Wait.For(a, "writer handshake"), pair);
    }

    private static Task<SecretConnection> HandshakeAsync(Stream writerStream, Stream readerStream, out Task<SecretConnection> reader)
    {
        var alice = Keys.Node(1);
        var bob = Keys.Node(2);
        reader = Establish(readerStream, bob);
        return Wait.For(Establish(writerStream, alice), "writer handshake");
    }
}
