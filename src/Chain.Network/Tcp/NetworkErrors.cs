namespace Chain.Network.Tcp;

/// <summary>The handshake with a remote endpoint failed; the message says why (naming both sides' values where they differ).</summary>
public sealed class HandshakeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What kind of rule a connected peer broke.</summary>
public enum ProtocolViolation
{
    /// <summary>A frame failed ChaCha20-Poly1305 authentication: tampered, replayed, reordered or dropped.</summary>
    AuthenticationFailed,
    /// <summary>A frame's length prefix is above the maximum.</summary>
    Oversize,
    /// <summary>A frame too short to hold a channel byte, or otherwise not a message.</summary>
    Malformed,
    /// <summary>An authenticated frame names a channel this protocol version does not have.</summary>
    UnknownChannel,
    /// <summary>A large frame's body did not arrive within its deadline (a peer holding frame memory by trickling).</summary>
    TooSlow,
}

/// <summary>A connected peer sent something the protocol does not allow.</summary>
public sealed class PeerProtocolException(ProtocolViolation violation, string message) : Exception(message)
{
    public ProtocolViolation Violation { get; } = violation;
}
