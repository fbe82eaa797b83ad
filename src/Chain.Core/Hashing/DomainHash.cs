using System.Security.Cryptography;
using System.Text;

namespace Chain.Core.Hashing;

/// <summary>
/// The one registry of domain tags. Every protocol hash is SHA-256 over a domain tag followed by the data, so two
/// kinds of object can never share a hash; sign bytes start with a tag of their own. The tag is the ASCII string
/// "chain/v1/" + <see cref="DomainHash.TagName"/>, preceded by its length as one byte (see docs/protocol.md,
/// "Hashing"). The one untagged hash is the genesis hash (docs/protocol.md). Values are appended, never reordered.
/// </summary>
public enum HashDomain : byte
{
    Address,
    Transaction,
    BlockHeader,
    Vote,
    Commit,
    Receipt,
    ValidatorSet,
    Tensor,
    Model,
    /// <summary>Authenticated-state tree nodes and values; a kind byte separates them (docs/state.md).</summary>
    State,
    /// <summary>Evidence of misbehaviour (its hash names it in blocks and in state).</summary>
    Evidence,
    /// <summary>State keys: SHA-256(tag || id) for each kind of record (docs/execution.md).</summary>
    StateAccount,
    StateModel,
    StateModelCode,
    StateEvidence,
    /// <summary>Sign-bytes tags (never hashed: the prefix of what a key signs, see <see cref="Crypto.SignBytes"/>).</summary>
    SignTransaction,
    SignVote,
    SignProposal,
    /// <summary>Staking state keys (docs/staking.md): a validator by operator, the consensus-address index, a delegation,
    /// a delegator's validators, and the singleton records (candidates, unbonding queue, next validator sets, burned).</summary>
    StateValidator,
    StateConsensusAddress,
    StateDelegation,
    StateDelegator,
    StateStaking,
    /// <summary>Chunked model registration (docs/execution.md): an unsealed upload by (owner, model id), a chunk by
    /// (owner, model id, index), a sealed model's chunk layout by model id, and the upload expiry queue.</summary>
    StateModelUpload,
    StateModelChunk,
    StateModelLayout,
    StateModelUploads,
}

public static class DomainHash
{
    private static readonly byte[][] Tags = BuildTags();

    private static byte[][] BuildTags()
    {
        var values = Enum.GetValues<HashDomain>();
        var tags = new byte[values.Length][];
        foreach (var d in values)
        {
            var name = "chain/v1/" + TagName(d);
            var bytes = Encoding.ASCII.GetBytes(name);
            tags[(int)d] = [(byte)bytes.Length, .. bytes];
        }
        return tags;
    }

    /// <summary>The domain's name as it appears in the tag, e.g. "tx".</summary>
    public static string TagName(HashDomain domain) => domain switch
    {
        HashDomain.Address => "address",
        HashDomain.Transaction => "tx",
        HashDomain.BlockHeader => "header",
        HashDomain.Vote => "vote",
        HashDomain.Commit => "commit",
        HashDomain.Receipt => "receipt",
        HashDomain.ValidatorSet => "validators",
        HashDomain.Tensor => "tensor",
        HashDomain.Model => "model",
        HashDomain.State => "state",
        HashDomain.Evidence => "evidence",
        HashDomain.StateAccount => "state/account",
        HashDomain.StateModel => "state/model",
        HashDomain.StateModelCode => "state/model-code",
        HashDomain.StateEvidence => "state/evidence",
        HashDomain.SignTransaction => "sign/tx",
        HashDomain.SignVote => "sign/vote",
        HashDomain.SignProposal => "sign/proposal",
        HashDomain.StateValidator => "state/validator",
        HashDomain.StateConsensusAddress => "state/consensus-address",
        HashDomain.StateDelegation => "state/delegation",
        HashDomain.StateDelegator => "state/delegator",
        HashDomain.StateStaking => "state/staking",
        HashDomain.StateModelUpload => "state/model-upload",
        HashDomain.StateModelChunk => "state/model-chunk",
        HashDomain.StateModelLayout => "state/model-layout",
        HashDomain.StateModelUploads => "state/model-uploads",
        _ => throw new ArgumentOutOfRangeException(nameof(domain)),
    };

    /// <summary>The tag bytes (length byte + ASCII name) that prefix the data.</summary>
    public static ReadOnlySpan<byte> Tag(HashDomain domain) => Tags[(int)domain];

    public static Hash32 Compute(HashDomain domain, ReadOnlySpan<byte> data)
    {
        var tag = Tag(domain);
        Span<byte> digest = stackalloc byte[Hash32.Size];
        if (data.Length <= 480)
        {
            // Small inputs (votes, addresses, headers): one contiguous buffer on the stack, no allocation.
            Span<byte> buffer = stackalloc byte[tag.Length + data.Length];
            tag.CopyTo(buffer);
            data.CopyTo(buffer[tag.Length..]);
            SHA256.HashData(buffer, digest);
            return new Hash32(digest);
        }
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hasher.AppendData(Tag(domain));
        hasher.AppendData(data);
        hasher.GetHashAndReset(digest);
        return new Hash32(digest);
    }

    /// <summary>Plain SHA-256 with no domain tag (used only where a standard demands it, e.g. RFC 6962 Merkle nodes).</summary>
    public static Hash32 Sha256(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Hash32.Size];
        SHA256.HashData(data, digest);
        return new Hash32(digest);
    }
}
