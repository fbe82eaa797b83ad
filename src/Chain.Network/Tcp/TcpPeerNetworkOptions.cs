using System.Net;
using Chain.Core;

namespace Chain.Network.Tcp;

/// <summary>Settings of a <see cref="TcpPeerNetwork"/>. <see cref="Validate"/> names the first bad one.</summary>
public sealed record TcpPeerNetworkOptions
{
    public required ChainId ChainId { get; init; }

    /// <summary>Where to accept connections; port 0 picks a free port (see <see cref="TcpPeerNetwork.ListenEndpoint"/>). Null = dial only.</summary>
    public IPEndPoint? ListenEndpoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Peers dialed at start and re-dialed (with backoff) whenever the connection drops.</summary>
    public IReadOnlyList<PeerAddress> PersistentPeers { get; init; } = [];

    /// <summary>Connected peers plus retiring duplicates plus inbound handshakes in progress; further inbound connections are closed at once.</summary>
    public int MaxPeers { get; init; } = 50;

    /// <summary>Per-peer send queue bound in messages; a send to a full queue is dropped and counted.</summary>
    public int SendQueueMessages { get; init; } = 1024;

    /// <summary>Per-peer send queue bound in payload bytes (one message larger than this is still accepted into an empty queue).</summary>
    public long SendQueueBytes { get; init; } = 128L << 20;

    /// <summary>Inbound token bucket per peer: sustained messages per second (burst: one second's worth); above it the reader waits (back-pressure), nobody is punished.</summary>
    public double InboundMessagesPerSecond { get; init; } = 2000;

    /// <summary>Inbound token bucket per peer: sustained payload bytes per second (burst: one second's worth, at least one maximal message).</summary>
    public double InboundBytesPerSecond { get; init; } = 64 << 20;

    /// <summary>Largest payload sent or accepted; at most <see cref="NetworkLimits.MaxPayloadBytes"/>.</summary>
    public int MaxPayloadBytes { get; init; } = NetworkLimits.MaxPayloadBytes;

    /// <summary>
    /// Largest payload accepted from an unknown peer: one that connected to us and whose node key is not a persistent
    /// peer's (a persistent peer, and any peer we dialed, gets <see cref="MaxPayloadBytes"/>). A larger frame is refused as
    /// oversize before any buffer is sized. Capped at <see cref="MaxPayloadBytes"/> when that is lower.
    /// </summary>
    public int UnknownPeerMaxPayloadBytes { get; init; } = NetworkLimits.UnknownPeerMaxPayloadBytes;

    /// <summary>
    /// Node-wide bytes that large inbound frames (over <see cref="FrameMemoryBudget.SmallFrameBytes"/>) may hold while
    /// they are received and decrypted, across all peers; a frame reserves twice its length (ciphertext and plaintext).
    /// At least one maximal frame. Default: four maximal frames (about 134 MB).
    /// </summary>
    public long InboundFrameBudgetBytes { get; init; } = 4L * NetworkLimits.MaxFrameCiphertextBytes;

    /// <summary>A large frame's body must arrive at least this fast (after <see cref="LargeFrameGrace"/>), or the peer is disconnected.</summary>
    public long LargeFrameMinBytesPerSecond { get; init; } = 1 << 20;

    /// <summary>Time every large frame gets on top of its size ÷ <see cref="LargeFrameMinBytesPerSecond"/>.</summary>
    public TimeSpan LargeFrameGrace { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for the TCP connect of a dial.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan ReconnectBackoffBase { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan ReconnectBackoffMax { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a banned peer's node key and IP address are refused.</summary>
    public TimeSpan BanDuration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Whether a ban also refuses the peer's IP address (turn off when honest peers share an address, e.g. behind NAT).</summary>
    public bool BanAddresses { get; init; } = true;

    /// <summary>A peer starts at this score; at zero or below it is disconnected and banned.</summary>
    public int InitialScore { get; init; } = 100;

    /// <summary>Score lost per <see cref="IPeerNetwork.ReportMisbehaviour"/> call.</summary>
    public int MisbehaviourPenalty { get; init; } = 10;


    /// <summary>Score lost per authenticated frame on an unknown channel (the frame is dropped).</summary>
    public int UnknownChannelPenalty { get; init; } = 25;

    /// <summary>Most banned keys (and, separately, addresses) remembered.</summary>
    public int MaxBans { get; init; } = 10_000;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Source of reconnect jitter; seed it for reproducible schedules.</summary>
    public Random Random { get; init; } = new(0);

    public void Validate()
    {
        static void Check(bool ok, string what)
        {
            if (!ok) throw new ArgumentException($"invalid network option: {what}");
        }
        Check(ChainId.Value is not null, "ChainId is required");
        Check(PersistentPeers is not null, "PersistentPeers must not be null");
        Check(MaxPeers >= 1, $"MaxPeers must be at least 1, got {MaxPeers}");
        Check(SendQueueMessages >= 1, $"SendQueueMessages must be at least 1, got {SendQueueMessages}");
        Check(SendQueueBytes >= 1, $"SendQueueBytes must be at least 1, got {SendQueueBytes}");
        Check(InboundMessagesPerSecond > 0, $"InboundMessagesPerSecond must be positive, got {InboundMessagesPerSecond}");
        Check(InboundBytesPerSecond > 0, $"InboundBytesPerSecond must be positive, got {InboundBytesPerSecond}");
        Check(MaxPayloadBytes is >= 1 and <= NetworkLimits.MaxPayloadBytes,
            $"MaxPayloadBytes must be 1..{NetworkLimits.MaxPayloadBytes}, got {MaxPayloadBytes}");
        Check(UnknownPeerMaxPayloadBytes >= 1, $"UnknownPeerMaxPayloadBytes must be at least 1, got {UnknownPeerMaxPayloadBytes}");
        Check(InboundFrameBudgetBytes >= NetworkLimits.MaxFrameCiphertextBytes,
            $"InboundFrameBudgetBytes must hold one maximal frame ({NetworkLimits.MaxFrameCiphertextBytes} bytes), got {InboundFrameBudgetBytes}");
        Check(LargeFrameMinBytesPerSecond >= 1, $"LargeFrameMinBytesPerSecond must be at least 1, got {LargeFrameMinBytesPerSecond}");
        Check(LargeFrameGrace > TimeSpan.Zero, $"LargeFrameGrace must be positive, got {LargeFrameGrace}");
        Check(HandshakeTimeout > TimeSpan.Zero, $"HandshakeTimeout must be positive, got {HandshakeTimeout}");
        Check(DialTimeout > TimeSpan.Zero, $"DialTimeout must be positive, got {DialTimeout}");
        Check(ReconnectBackoffBase > TimeSpan.Zero, $"ReconnectBackoffBase must be positive, got {ReconnectBackoffBase}");
        Check(ReconnectBackoffMax >= ReconnectBackoffBase, $"ReconnectBackoffMax ({ReconnectBackoffMax}) must be at least ReconnectBackoffBase ({ReconnectBackoffBase})");
        Check(BanDuration > TimeSpan.Zero, $"BanDuration must be positive, got {BanDuration}");
        Check(InitialScore >= 1, $"InitialScore must be at least 1, got {InitialScore}");
        Check(MisbehaviourPenalty >= 1 && UnknownChannelPenalty >= 1, "penalties must be at least 1");
        Check(MaxBans >= 1, $"MaxBans must be at least 1, got {MaxBans}");
        Check(TimeProvider is not null, "TimeProvider must not be null");
        Check(Random is not null, "Random must not be null");
        foreach (var peer in PersistentPeers!)
            Check(peer is not null && !string.IsNullOrWhiteSpace(peer.Host) && peer.Port is >= 1 and <= 65535, $"persistent peer '{peer}' needs a host and a port 1..65535");
    }
}
