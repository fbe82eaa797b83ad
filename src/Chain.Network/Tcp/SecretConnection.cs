using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Crypto;
using NSec.Cryptography;
using PublicKey = Chain.Core.Crypto.PublicKey;

namespace Chain.Network.Tcp;

/// <summary>
/// Produces the node-key proof for a handshake: the node's public key and its signature over the transcript hash.
/// Only tests substitute this (to play a man in the middle replaying someone else's signature).
/// </summary>
internal delegate (PublicKey NodeKey, Signature Signature) HandshakeAuthenticator(ReadOnlySpan<byte> transcriptHash);

/// <summary>
/// An authenticated, encrypted connection over a stream (the anchors are CometBFT's SecretConnection and Noise).
/// Handshake: both sides send a hello (magic, version, chain id, ephemeral X25519 key), derive directional
/// ChaCha20-Poly1305 keys and a transcript hash, then each proves its Ed25519 node key by signing the transcript.
/// After it, every frame is a 4-byte big-endian length and a ciphertext whose nonce is a per-direction counter.
/// One reader and one writer may use it concurrently; it is not safe for two concurrent readers or writers.
/// See docs/network.md for the bytes on the wire.
/// </summary>
public sealed class SecretConnection : IAsyncDisposable
{
    internal static readonly byte[] Magic = "CHAINP2P"u8.ToArray();
    internal const int EphemeralKeyBytes = 32;
    private const int NonceBytes = 12;
    private const int AuthPlaintextBytes = PublicKey.Size + Signature.Size;
    private static readonly byte[] TranscriptLabel = "chain/p2p/transcript/v1"u8.ToArray();
    private static readonly byte[] KeysLabel = "chain/p2p/keys/v1"u8.ToArray();
    private static readonly byte[] AuthLabel = "chain/p2p/auth/v1"u8.ToArray();
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;

    private readonly Stream _stream;
    private readonly Key _sendKey;
    private readonly Key _receiveKey;
    private readonly byte[] _lengthBuffer = new byte[4];
    private ulong _sendCounter;
    private ulong _receiveCounter;
    private TimeProvider _time = TimeProvider.System;

    private SecretConnection(Stream stream, Key sendKey, Key receiveKey, int maxPayloadBytes)
    {
        _stream = stream;
        _sendKey = sendKey;
        _receiveKey = receiveKey;
        MaxPayloadBytes = maxPayloadBytes;
    }

    /// <summary>The remote's Ed25519 node key, proven by its signature over the transcript.</summary>
    public PublicKey RemoteKey { get; private set; }

    public int MaxPayloadBytes { get; }

    /// <summary>
    /// Largest payload accepted from the remote (at most <see cref="MaxPayloadBytes"/>, which stays the send limit): the
    /// owner lowers it after the handshake for a peer it does not know. A larger announced frame is refused as
    /// <see cref="ProtocolViolation.Oversize"/> before anything is allocated for it.
    /// </summary>
    public int MaxReceivePayloadBytes
    {
        get => _maxReceivePayloadBytes ?? MaxPayloadBytes;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxPayloadBytes);
            _maxReceivePayloadBytes = value;
        }
    }

    private int? _maxReceivePayloadBytes;

    /// <summary>
    /// The node-wide budget large inbound frames reserve before their buffers are sized (null: no shared bound, each
    /// frame is still limited to <see cref="MaxPayloadBytes"/>). Set by the owner after the handshake.
    /// </summary>
    public FrameMemoryBudget? FrameBudget { get; set; }

    /// <summary>
    /// A large frame's body must arrive at this rate at least (after <see cref="LargeFrameGrace"/>), or the frame is
    /// refused as <see cref="ProtocolViolation.TooSlow"/>: a peer cannot hold reserved frame memory by trickling.
    /// </summary>
    public long LargeFrameMinBytesPerSecond { get; set; } = 1 << 20;

    /// <summary>Time every large frame gets on top of its size ÷ <see cref="LargeFrameMinBytesPerSecond"/>.</summary>
    public TimeSpan LargeFrameGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>SHA-256 binding the prologue and both ephemeral keys; what each side signs.</summary>
    internal byte[] TranscriptHash { get; private set; } = [];

    /// <summary>The remote's signature over <see cref="TranscriptHash"/> (kept for tests of replayed proofs).</summary>
    internal Signature RemoteSignature { get; private set; }

    /// <summary>
    /// Runs the handshake on <paramref name="stream"/>. Throws <see cref="HandshakeException"/> with the reason
    /// when the remote speaks another version or chain, fails to prove its key, is not
    /// <paramref name="expectedRemoteKey"/> (when given), or does not finish within <paramref name="timeout"/>.
    /// On failure the caller must close the stream.
    /// </summary>
    public static Task<SecretConnection> EstablishAsync(
        Stream stream, ChainId chainId, PrivateKey nodeKey, PublicKey? expectedRemoteKey,
        TimeSpan timeout, TimeProvider time, CancellationToken cancellation,
        int maxPayloadBytes = NetworkLimits.MaxPayloadBytes) =>
        EstablishAsync(stream, chainId, t => (nodeKey.PublicKey, nodeKey.Sign(AuthMessage(t))), expectedRemoteKey,
            timeout, time, cancellation, maxPayloadBytes);

    internal static async Task<SecretConnection> EstablishAsync(
        Stream stream, ChainId chainId, HandshakeAuthenticator authenticator, PublicKey? expectedRemoteKey,
        TimeSpan timeout, TimeProvider time, CancellationToken cancellation, int maxPayloadBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPayloadBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPayloadBytes, NetworkLimits.MaxPayloadBytes);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellation);
        // Not every stream honours cancellation while blocked in a read; closing it always unblocks.
        await using var closeOnDeadline = deadline.Token.Register(stream.Dispose);
        try
        {
            var connection = await HandshakeAsync(stream, chainId, authenticator, expectedRemoteKey, maxPayloadBytes, linked.Token)
                .ConfigureAwait(false);
            connection._time = time;
            return connection;
        }
        catch (Exception e) when (e is not HandshakeException && deadline.IsCancellationRequested)
        {
            throw new HandshakeException($"handshake did not finish within {timeout.TotalMilliseconds:0} ms", e);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ObjectDisposedException)
        {
            throw new HandshakeException($"connection closed during the handshake ({e.Message})", e);
        }
    }

    private static async Task<SecretConnection> HandshakeAsync(
        Stream stream, ChainId chainId, HandshakeAuthenticator authenticator, PublicKey? expectedRemoteKey,
        int maxPayloadBytes, CancellationToken ct)
    {
        byte[] prologue = Prologue(chainId);
        using var ephemeral = Key.Create(KeyAgreementAlgorithm.X25519);
        byte[] localEphemeral = ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);

        await stream.WriteAsync(Concat(prologue, localEphemeral), ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
        byte[] remoteEphemeral = await ReadHelloAsync(stream, chainId, ct).ConfigureAwait(false);

        // A reflected hello (our own key echoed back) would make both directions use one key.
        if (CryptographicOperations.FixedTimeEquals(localEphemeral, remoteEphemeral))
            throw new HandshakeException("remote sent our own ephemeral key back (reflection)");
        bool localIsLow = localEphemeral.AsSpan().SequenceCompareTo(remoteEphemeral) < 0;
        byte[] low = localIsLow ? localEphemeral : remoteEphemeral;
        byte[] high = localIsLow ? remoteEphemeral : localEphemeral;
        byte[] transcript = SHA256.HashData(Concat(TranscriptLabel, prologue, low, high));

        if (!NSec.Cryptography.PublicKey.TryImport(KeyAgreementAlgorithm.X25519, remoteEphemeral,
                KeyBlobFormat.RawPublicKey, out var remotePublic) || remotePublic is null)
            throw new HandshakeException("remote ephemeral key is not an X25519 public key");
        using var shared = KeyAgreementAlgorithm.X25519.Agree(ephemeral, remotePublic)
            ?? throw new HandshakeException("remote ephemeral key is a low-order point (no shared secret)");
        byte[] keys = KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, transcript, KeysLabel, 64);
        var lowToHigh = Key.Import(Aead, keys.AsSpan(0, 32), KeyBlobFormat.RawSymmetricKey);
        var highToLow = Key.Import(Aead, keys.AsSpan(32, 32), KeyBlobFormat.RawSymmetricKey);
        CryptographicOperations.ZeroMemory(keys);
        var connection = localIsLow
            ? new SecretConnection(stream, lowToHigh, highToLow, maxPayloadBytes)
            : new SecretConnection(stream, highToLow, lowToHigh, maxPayloadBytes);
        connection.TranscriptHash = transcript;
        try
        {
            var (nodeKey, signature) = authenticator(transcript);
            byte[] auth = Concat(nodeKey.Bytes.ToArray(), signature.Bytes.ToArray());
            await connection.WriteFrameAsync(auth, ct).ConfigureAwait(false);

            byte[] remoteAuth;
            try { remoteAuth = await connection.ReadFrameAsync(AuthPlaintextBytes + NetworkLimits.TagBytes, ct).ConfigureAwait(false); }
            catch (PeerProtocolException e) { throw new HandshakeException($"bad authentication frame: {e.Message}", e); }
            if (remoteAuth.Length != AuthPlaintextBytes)
                throw new HandshakeException($"authentication frame is {remoteAuth.Length} bytes, expected {AuthPlaintextBytes}");
            var remoteKey = new PublicKey(remoteAuth.AsSpan(0, PublicKey.Size));
            var remoteSignature = new Signature(remoteAuth.AsSpan(PublicKey.Size));
            if (!Chain.Core.Crypto.Ed25519.Verify(remoteKey, AuthMessage(transcript), remoteSignature))
                throw new HandshakeException($"node key {remoteKey} did not sign this handshake's transcript (man in the middle or broken peer)");
            if (expectedRemoteKey is { } expected && expected != remoteKey)
                throw new HandshakeException($"expected peer node key {expected}, but the remote proved key {remoteKey}");
            connection.RemoteKey = remoteKey;
            connection.RemoteSignature = remoteSignature;
            return connection;
        }
        catch
        {
            connection.DisposeKeys();
            throw;
        }
    }

    /// <summary>Magic, version (u16 BE), chain id length (u8) and chain id (ASCII). Equal on both sides after a good hello.</summary>
    internal static byte[] Prologue(ChainId chainId)
    {
        byte[] id = Encoding.ASCII.GetBytes(chainId.Value);
        var prologue = new byte[Magic.Length + 2 + 1 + id.Length];
        Magic.CopyTo(prologue, 0);
        BinaryPrimitives.WriteUInt16BigEndian(prologue.AsSpan(Magic.Length), NetworkLimits.ProtocolVersion);
        prologue[Magic.Length + 2] = (byte)id.Length;
        id.CopyTo(prologue, Magic.Length + 3);
        return prologue;
    }

    /// <summary>Bytes of a hello before its chain id: magic, version (u16 BE), chain id length (u8).</summary>
    internal static int HelloHeadBytes => Magic.Length + 3;

    private static async Task<byte[]> ReadHelloAsync(Stream stream, ChainId chainId, CancellationToken ct)
    {
        var head = new byte[HelloHeadBytes];
        await stream.ReadExactlyAsync(head, ct).ConfigureAwait(false);
        var hello = new byte[HelloLength(head)];
        head.CopyTo(hello, 0);
        await stream.ReadExactlyAsync(hello.AsMemory(head.Length), ct).ConfigureAwait(false);
        return ParseHello(hello, chainId);
    }

    /// <summary>
    /// The whole hello's length from its head (<see cref="HelloHeadBytes"/>); throws <see cref="HandshakeException"/>
    /// for another magic, version or an impossible chain id length, before anything more is read.
    /// </summary>
    internal static int HelloLength(ReadOnlySpan<byte> head)
    {
        if (head.Length < HelloHeadBytes)
            throw new HandshakeException($"hello is {head.Length} bytes, shorter than its {HelloHeadBytes}-byte head");
        if (!head[..Magic.Length].SequenceEqual(Magic))
            throw new HandshakeException($"not a Chain peer: expected magic {Convert.ToHexStringLower(Magic)}, got {Convert.ToHexStringLower(head[..Magic.Length])}");
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(head[Magic.Length..]);
        if (version != NetworkLimits.ProtocolVersion)
            throw new HandshakeException($"protocol version mismatch: remote speaks version {version}, we speak version {NetworkLimits.ProtocolVersion}");
        int idLength = head[HelloHeadBytes - 1];
        if (idLength is 0 or > ChainId.MaxLength)
            throw new HandshakeException($"remote chain id length {idLength} is outside 1..{ChainId.MaxLength}");
        return HelloHeadBytes + idLength + EphemeralKeyBytes;
    }

    /// <summary>
    /// Checks a stranger's hello (the first bytes any connection reads) and returns its ephemeral key; throws
    /// <see cref="HandshakeException"/> with the reason. Bytes after the hello are not its concern.
    /// </summary>
    internal static byte[] ParseHello(ReadOnlySpan<byte> hello, ChainId chainId)
    {
        int length = HelloLength(hello);
        if (hello.Length < length)
            throw new HandshakeException($"hello is {hello.Length} bytes, its head announces {length}");
        int idLength = length - HelloHeadBytes - EphemeralKeyBytes;
        string remoteChain = Encoding.ASCII.GetString(hello.Slice(HelloHeadBytes, idLength));
        if (!ChainId.IsValid(remoteChain, out string reason))
            throw new HandshakeException($"remote chain id is invalid ({reason})");
        if (remoteChain != chainId.Value)
            throw new HandshakeException($"chain id mismatch: remote is on chain '{remoteChain}', we are on chain '{chainId.Value}'");
        return hello.Slice(HelloHeadBytes + idLength, EphemeralKeyBytes).ToArray();
    }

    internal static byte[] AuthMessage(ReadOnlySpan<byte> transcriptHash) => Concat(AuthLabel, transcriptHash.ToArray());

    /// <summary>Sends one message as one frame. Not for concurrent use by two writers.</summary>
    public Task WriteMessageAsync(MessageChannel channel, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        if (!Enum.IsDefined(channel)) throw new ArgumentException($"unknown channel {(byte)channel}", nameof(channel));
        if (payload.Length > MaxPayloadBytes)
            throw new ArgumentException($"payload is {payload.Length} bytes, the limit is {MaxPayloadBytes}", nameof(payload));
        var plaintext = new byte[1 + payload.Length];
        plaintext[0] = (byte)channel;
        payload.Span.CopyTo(plaintext.AsSpan(1));
        return WriteFrameAsync(plaintext, ct);
    }

    /// <summary>Reads the next message. Throws <see cref="PeerProtocolException"/> on a bad frame and <see cref="EndOfStreamException"/> on a clean close.</summary>
    public async Task<(MessageChannel Channel, byte[] Payload)> ReadMessageAsync(CancellationToken ct)
    {
        byte[] plaintext = await ReadFrameAsync(1 + MaxReceivePayloadBytes + NetworkLimits.TagBytes, ct).ConfigureAwait(false);
        if (plaintext.Length < 1)
            throw new PeerProtocolException(ProtocolViolation.Malformed, "frame has no channel byte");
        var channel = (MessageChannel)plaintext[0];
        if (!Enum.IsDefined(channel))
            throw new PeerProtocolException(ProtocolViolation.UnknownChannel, $"unknown channel {plaintext[0]}");
        return (channel, plaintext.AsSpan(1).ToArray());
    }

    /// <summary>How long the body of a frame of <paramref name="length"/> bytes may take to arrive.</summary>
    public TimeSpan LargeFrameDeadline(long length) =>
        LargeFrameGrace + TimeSpan.FromSeconds((double)length / Math.Max(1, LargeFrameMinBytesPerSecond));

    /// <summary>Sends an arbitrary plaintext as one frame, bypassing the message checks (tests play broken peers with it).</summary>
    internal Task WritePlaintextFrameAsync(byte[] plaintext, CancellationToken ct) => WriteFrameAsync(plaintext, ct);

    private async Task WriteFrameAsync(byte[] plaintext, CancellationToken ct)
    {
        int ciphertextLength = plaintext.Length + NetworkLimits.TagBytes;
        // Length and ciphertext go out in one write, so a frame is never interleaved or half-sent by us.
        byte[] frame = ArrayPool<byte>.Shared.Rent(4 + ciphertextLength);
        try
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)ciphertextLength);
            Span<byte> nonce = stackalloc byte[NonceBytes];
            NextNonce(ref _sendCounter, nonce);
            Aead.Encrypt(_sendKey, nonce, [], plaintext, frame.AsSpan(4, ciphertextLength));
            await _stream.WriteAsync(frame.AsMemory(0, 4 + ciphertextLength), ct).ConfigureAwait(false);
            await _stream.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async Task<byte[]> ReadFrameAsync(int maxCiphertextBytes, CancellationToken ct)
    {
        await _stream.ReadExactlyAsync(_lengthBuffer, ct).ConfigureAwait(false);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(_lengthBuffer);
        // Refused before any buffer is sized by it: a peer cannot make us allocate what it announces.
        if (length > (uint)maxCiphertextBytes)
            throw new PeerProtocolException(ProtocolViolation.Oversize, $"frame length {length} is above the limit {maxCiphertextBytes}");
        if (length < NetworkLimits.TagBytes)
            throw new PeerProtocolException(ProtocolViolation.Malformed, $"frame length {length} is shorter than the {NetworkLimits.TagBytes}-byte tag");
        if (length > FrameMemoryBudget.SmallFrameBytes) return await ReadLargeFrameAsync((int)length, ct).ConfigureAwait(false);
        byte[] ciphertext = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            await _stream.ReadExactlyAsync(ciphertext.AsMemory(0, (int)length), ct).ConfigureAwait(false);
            return Decrypt(ciphertext.AsSpan(0, (int)length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(ciphertext);
        }
    }

    // A large frame: reserve its bytes (ciphertext and plaintext) in the shared budget first, then read the body
    // against a deadline into a buffer that is not pooled, so nothing outlives the frame once the GC runs.
    private async Task<byte[]> ReadLargeFrameAsync(int length, CancellationToken ct)
    {
        using var lease = FrameBudget is { } budget
            ? await budget.ReserveAsync(Math.Min(budget.Capacity, 2L * length), ct).ConfigureAwait(false)
            : null;
        var deadline = LargeFrameDeadline(length);
        using var timeout = new CancellationTokenSource(deadline, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        byte[]? ciphertext = null;
        try
        {
            // The buffer is sized only once the body starts to arrive: a peer that announced a frame and left (or sends
            // nothing) makes us allocate nothing when its turn in the budget comes.
            var head = new byte[Math.Min(length, 4096)];
            int got = await _stream.ReadAsync(head, linked.Token).ConfigureAwait(false);
            if (got == 0) throw new EndOfStreamException($"the connection closed before the body of a {length}-byte frame");
            ciphertext = GC.AllocateUninitializedArray<byte>(length);
            head.AsSpan(0, got).CopyTo(ciphertext);
            await _stream.ReadExactlyAsync(ciphertext.AsMemory(got), linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            if (ciphertext is not null) FrameBudget?.Abandoned(length);
            throw new PeerProtocolException(ProtocolViolation.TooSlow,
                $"the body of a {length}-byte frame did not arrive within {deadline.TotalSeconds:0.#} s");
        }
        catch
        {
            if (ciphertext is not null) FrameBudget?.Abandoned(length); // closed or cut mid-body
            throw;
        }
        return Decrypt(ciphertext);
    }

    private byte[] Decrypt(ReadOnlySpan<byte> ciphertext)
    {
        {
            var plaintext = new byte[ciphertext.Length - NetworkLimits.TagBytes];
            Span<byte> nonce = stackalloc byte[NonceBytes];
            NextNonce(ref _receiveCounter, nonce);
            if (!Aead.Decrypt(_receiveKey, nonce, [], ciphertext, plaintext))
                throw new PeerProtocolException(ProtocolViolation.AuthenticationFailed,
                    "frame failed authentication (tampered, replayed, reordered or dropped)");
            return plaintext;
        }
    }

    /// <summary>32 zero bits then the 64-bit little-endian counter (as in Noise); a counter is never reused.</summary>
    private static void NextNonce(ref ulong counter, Span<byte> nonce)
    {
        if (counter == ulong.MaxValue) throw new InvalidOperationException("nonce counter exhausted; reconnect");
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
        counter++;
    }

    private static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }
        return result;
    }

    /// <summary>Half-closes a TCP stream (the remote reads end of stream after our last frame); other streams are left as they are.</summary>
    internal void ShutdownSend()
    {
        if (_stream is System.Net.Sockets.NetworkStream network)
            network.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
    }

    private void DisposeKeys()
    {
        _sendKey.Dispose();
        _receiveKey.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        DisposeKeys();
    }
}
