using System.Text;

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
    private static readonly byte[][] Tags = BuildTags();

    private static byte[][] BuildTags()
    {
        var values = Enum.GetValues<SignDomain>();
        var tags = new byte[values.Length][];
        foreach (var d in values)
        {
            var bytes = Encoding.ASCII.GetBytes("chain/v1/sign/" + TagName(d));
            tags[(int)d] = [(byte)bytes.Length, .. bytes];
        }
        return tags;
    }

    public static string TagName(SignDomain domain) => domain switch
    {
        SignDomain.Transaction => "tx",
        SignDomain.Vote => "vote",
        SignDomain.Proposal => "proposal",
        _ => throw new ArgumentOutOfRangeException(nameof(domain)),
    };

    public static byte[] Build(SignDomain domain, ChainId chainId, ReadOnlySpan<byte> payload)
    {
        var tag = Tags[(int)domain];
        string id = chainId.Value ?? throw new ArgumentException("chain id is not set", nameof(chainId));
        var result = new byte[tag.Length + 1 + id.Length + payload.Length];
        tag.CopyTo(result, 0);
        result[tag.Length] = (byte)id.Length;
        Encoding.ASCII.GetBytes(id, result.AsSpan(tag.Length + 1));
        payload.CopyTo(result.AsSpan(tag.Length + 1 + id.Length));
        return result;
    }
}
