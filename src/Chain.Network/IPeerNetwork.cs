using Chain.Core.Crypto;

namespace Chain.Network;

/// <summary>A peer's identity: the Ed25519 node key it proved it holds during the handshake.</summary>
public readonly record struct PeerId(PublicKey NodeKey)
{
    public override string ToString() => NodeKey.ToString()[..12];
}

/// <summary>
/// What a message is for. The network only routes bytes by channel; decoding (strict, canonical) and
/// judging them is the application's job, which reports bad ones back with <see cref="IPeerNetwork.ReportMisbehaviour"/>.
/// </summary>
public enum MessageChannel : byte
{
    /// <summary>Proposals and votes (ConsensusMessages encoding).</summary>
    Consensus = 1,
    /// <summary>Signed transactions being gossiped.</summary>
    Transactions = 2,
    /// <summary>Block sync requests and responses.</summary>
    Sync = 3,
    /// <summary>A peer's height, so others know whom to sync from.</summary>
    Status = 4,
    /// <summary>Evidence of misbehaviour (canonical evidence items), gossiped until some proposer includes it.</summary>
    Evidence = 5,
    /// <summary>Transaction relay by hash: announcements, requests, the requested bodies and neighbour lists.</summary>
    TransactionRelay = 6,
}

/// <summary>A message that arrived from a connected peer.</summary>
public readonly record struct PeerMessage(PeerId From, MessageChannel Channel, byte[] Payload);

/// <summary>
/// The node's view of the peer-to-peer network. Implementations: <see cref="InMemoryNetworkHub"/> (tests,
/// partitions on demand) and the TCP transport. Sends never block: each peer has a bounded queue, and a
/// peer whose queue is full loses the message (consensus re-gossips; sync re-requests).
/// </summary>
public interface IPeerNetwork : IDisposable
{
    /// <summary>Raised on a network thread for every message; handlers must only enqueue.</summary>
    event Action<PeerMessage>? MessageReceived;
    event Action<PeerId>? PeerConnected;
    event Action<PeerId>? PeerDisconnected;

    PeerId Self { get; }
    IReadOnlyList<PeerId> ConnectedPeers { get; }

    /// <summary>Queues the payload for every connected peer (except <paramref name="except"/>).</summary>
    void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null);

    /// <summary>Queues the payload for one peer; false when it is not connected or its queue is full.</summary>
    bool Send(PeerId peer, MessageChannel channel, byte[] payload);

    /// <summary>The application found a peer's message bad; the peer loses score and is dropped (and banned a while) below a threshold.</summary>
    void ReportMisbehaviour(PeerId peer, string reason);
}
