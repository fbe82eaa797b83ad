using System.Text;
using Chain.Core.Hashing;

namespace Chain.Core.Crypto;

/// <summary>The kinds of object a key signs. Each has its own tag in the sign bytes.</summary>
public enum SignDomain : byte
{
    Transaction,
    Vote,
    Proposal,
}

/// <summary>
/// Builds the exact bytes a key signs:
/// <c>tagLen:u8 || "chain/v1/sign/" + kind || chainIdLen:u8 || chainId (ASCII) || payload</c>,
/// where payload is the object's canonical encoding without its signature. Binding both the kind
/// and the chain id means no signature can be replayed on another chain or as another type.
/// </summary>
public static class SignBytes
{
    /// <summary>The kind's tag in the one registry (<see cref="HashDomain"/>).</summary>
    public static HashDomain Domain(SignDomain domain) => domain switch
    {
        SignDomain.Transaction => HashDomain.SignTransaction,
        SignDomain.Vote => HashDomain.SignVote,
        SignDomain.Proposal => HashDomain.SignProposal,
        _ => throw new ArgumentOutOfRangeException(nameof(domain)),
    };

    public static byte[] Build(SignDomain domain, ChainId chainId, ReadOnlySpan<byte> payload)
    {
        var result = new byte[Length(domain, chainId, payload.Length)];
        Write(domain, chainId, payload, result);
        return result;
    }

    /// <summary>The length of the sign bytes for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int Length(SignDomain domain, ChainId chainId, int payloadLength) =>
        DomainHash.Tag(Domain(domain)).Length + 1 + (chainId.Value ?? throw new ArgumentException("chain id is not set", nameof(chainId))).Length + payloadLength;

    /// <summary>Writes the sign bytes into <paramref name="destination"/> (exactly <see cref="Length"/> bytes): for a verifier's pooled buffer.</summary>
    public static void Write(SignDomain domain, ChainId chainId, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        var tag = DomainHash.Tag(Domain(domain));
        string id = chainId.Value ?? throw new ArgumentException("chain id is not set", nameof(chainId));
        if (destination.Length != tag.Length + 1 + id.Length + payload.Length)
            throw new ArgumentException($"sign bytes are {tag.Length + 1 + id.Length + payload.Length} bytes, the destination {destination.Length}", nameof(destination));
        tag.CopyTo(destination);
        destination[tag.Length] = (byte)id.Length;
        Encoding.ASCII.GetBytes(id, destination[(tag.Length + 1)..]);
        payload.CopyTo(destination[(tag.Length + 1 + id.Length)..]);
    }
}
