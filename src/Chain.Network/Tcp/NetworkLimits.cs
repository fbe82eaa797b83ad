using Chain.Core.Protocol;

namespace Chain.Network.Tcp;

/// <summary>Wire-level constants of the peer protocol.</summary>
public static class NetworkLimits
{
    /// <summary>Bumped whenever the handshake or framing changes; peers with another version are refused.</summary>
    public const ushort ProtocolVersion = 1;

    /// <summary>
    /// Largest message payload. A sync response carries one maximal block plus its commit, which is the biggest
    /// thing any channel sends (a maximal model-registration transaction is far smaller); 64 KiB covers envelopes.
    /// </summary>
    public const int MaxPayloadBytes = ProtocolLimits.MaxBlockBytes + ProtocolLimits.MaxCommitBytes + (64 << 10);

    /// <summary>ChaCha20-Poly1305 tag size.</summary>
    public const int TagBytes = 16;

    /// <summary>Largest ciphertext a length prefix may announce: channel byte + payload + tag.</summary>
    public const int MaxFrameCiphertextBytes = 1 + MaxPayloadBytes + TagBytes;

    /// <summary>Smallest message ciphertext: a channel byte and the tag.</summary>
    public const int MinMessageCiphertextBytes = 1 + TagBytes;
}
