using System.Security.Cryptography;
using System.Text;
using Chain.Core;

namespace Chain.Execution;

/// <summary>
/// State keys. The authenticated tree is keyed by 32-byte hashes, so each record's key is
/// SHA-256("chain/v1/state/" + kind || id): fixed length, uniformly spread (a balanced sparse tree),
/// and no two kinds can collide. docs/execution.md lists them.
/// </summary>
public static class StateKeys
{
    private static readonly byte[] AccountTag = Encoding.ASCII.GetBytes("chain/v1/state/account");
    private static readonly byte[] ModelTag = Encoding.ASCII.GetBytes("chain/v1/state/model");
    private static readonly byte[] ModelCodeTag = Encoding.ASCII.GetBytes("chain/v1/state/model-code");
    private static readonly byte[] EvidenceTag = Encoding.ASCII.GetBytes("chain/v1/state/evidence");

    /// <summary>Key of an account record (<see cref="Account"/>).</summary>
    public static Hash32 Account(Address address) => Derive(AccountTag, address.Bytes);

    /// <summary>Key of a model's metadata (<see cref="ModelInfo"/>).</summary>
    public static Hash32 Model(Hash32 modelId) => Derive(ModelTag, modelId.Bytes);

    /// <summary>Key of a model's ONNX bytes, addressed by their content (the model id is their hash).</summary>
    public static Hash32 ModelCode(Hash32 modelId) => Derive(ModelCodeTag, modelId.Bytes);

    /// <summary>Key of included evidence (<see cref="CommittedEvidence"/>), by the evidence hash.</summary>
    public static Hash32 Evidence(Hash32 evidenceHash) => Derive(EvidenceTag, evidenceHash.Bytes);

    private static Hash32 Derive(byte[] tag, ReadOnlySpan<byte> id)
    {
        Span<byte> buffer = stackalloc byte[1 + tag.Length + id.Length];
        buffer[0] = (byte)tag.Length;
        tag.CopyTo(buffer[1..]);
        id.CopyTo(buffer[(1 + tag.Length)..]);
        Span<byte> digest = stackalloc byte[Hash32.Size];
        SHA256.HashData(buffer, digest);
        return new Hash32(digest);
    }
}
