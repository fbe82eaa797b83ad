using Chain.Core.Hashing;

namespace Chain.Core.State;

/// <summary>
/// State keys. The authenticated tree is keyed by 32-byte hashes, so each record's key is the domain hash
/// SHA-256(len || "chain/v1/state/" + kind || id) (<see cref="HashDomain.StateAccount"/> and its siblings): fixed
/// length, uniformly spread (a balanced sparse tree), and no two kinds can collide. docs/execution.md lists them.
/// </summary>
public static class StateKeys
{
    /// <summary>Key of an account record (<see cref="Account"/>).</summary>
    public static Hash32 Account(Address address) => DomainHash.Compute(HashDomain.StateAccount, address.Bytes);

    /// <summary>Key of a model's metadata (Chain.Execution's <c>ModelInfo</c>).</summary>
    public static Hash32 Model(Hash32 modelId) => DomainHash.Compute(HashDomain.StateModel, modelId.Bytes);

    /// <summary>Key of a model's ONNX bytes, addressed by their content (the model id is their hash).</summary>
    public static Hash32 ModelCode(Hash32 modelId) => DomainHash.Compute(HashDomain.StateModelCode, modelId.Bytes);

    /// <summary>Key of included evidence (Chain.Execution's <c>CommittedEvidence</c>), by the evidence hash.</summary>
    public static Hash32 Evidence(Hash32 evidenceHash) => DomainHash.Compute(HashDomain.StateEvidence, evidenceHash.Bytes);
}
