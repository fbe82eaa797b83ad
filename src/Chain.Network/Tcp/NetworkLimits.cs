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

    /// <summary>
    /// Largest message payload accepted from an <em>unknown</em> peer (one that is neither a persistent peer nor dialed by
    /// us: every stranger that completes a handshake): 8 MiB plus 64 KiB of envelope. It covers every message such a
    /// peer sends in the ordinary course: a transaction batch (at most 1 MiB plus one maximal transaction), a parts
    /// response (at most 8 MiB of bodies, or one body), a sync response within the 8 MiB response budget, compact
    /// proposals and evidence. Only what carries a single block or evidence above that (a sync response whose one
    /// block is over 8 MiB, a full proposal or decision, a compact proposal with more than 8 MiB of evidence) needs
    /// <see cref="MaxPayloadBytes"/>, and those come from known peers (docs/network.md, "Limits").
    /// </summary>
    public const int UnknownPeerMaxPayloadBytes = (8 << 20) + (64 << 10);

    /// <summary>ChaCha20-Poly1305 tag size.</summary>
    public const int TagBytes = 16;

    /// <summary>Largest ciphertext a length prefix may announce: channel byte + payload + tag.</summary>
    public const int MaxFrameCiphertextBytes = 1 + MaxPayloadBytes + TagBytes;

    /// <summary>Smallest message ciphertext: a channel byte and the tag.</summary>
    public const int MinMessageCiphertextBytes = 1 + TagBytes;
}
