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

    /// <summary>Key of an unsealed chunked upload (Chain.Execution's <c>ModelUpload</c>): one per (owner, model id), so nobody can block another's upload.</summary>
    public static Hash32 ModelUpload(Address owner, Hash32 modelId) => DomainHash.Compute(HashDomain.StateModelUpload, OwnerModel(owner, modelId, null));

    /// <summary>Key of chunk <paramref name="index"/> of <paramref name="owner"/>'s upload of <paramref name="modelId"/>; it stays after the seal.</summary>
    public static Hash32 ModelChunk(Address owner, Hash32 modelId, uint index) => DomainHash.Compute(HashDomain.StateModelChunk, OwnerModel(owner, modelId, index));

    /// <summary>Key of a sealed model's chunk layout (Chain.Execution's <c>ModelLayout</c>): whose chunks, how many, how many bytes.</summary>
    public static Hash32 ModelLayout(Hash32 modelId) => DomainHash.Compute(HashDomain.StateModelLayout, modelId.Bytes);

    /// <summary>Key of the queue of unsealed uploads in expiry order (bounded; the state cannot be iterated by prefix).</summary>
    public static Hash32 ModelUploads { get; } = DomainHash.Compute(HashDomain.StateModelUploads, "queue"u8);

    // owner (20) || model id (32) [|| index, 4 bytes big-endian]
    private static byte[] OwnerModel(Address owner, Hash32 modelId, uint? index)
    {
        var id = new byte[Address.Size + Hash32.Size + (index is null ? 0 : 4)];
        owner.Bytes.CopyTo(id);
        modelId.Bytes.CopyTo(id.AsSpan(Address.Size));
        if (index is { } i) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(id.AsSpan(Address.Size + Hash32.Size), i);
        return id;
    }

    /// <summary>Key of included evidence (Chain.Execution's <c>CommittedEvidence</c>), by the evidence hash.</summary>
    public static Hash32 Evidence(Hash32 evidenceHash) => DomainHash.Compute(HashDomain.StateEvidence, evidenceHash.Bytes);

    /// <summary>Key of a validator record, by its operator address (docs/staking.md).</summary>
    public static Hash32 Validator(Address operatorAddress) => DomainHash.Compute(HashDomain.StateValidator, operatorAddress.Bytes);

    /// <summary>Key of the index from a consensus address to its validator's operator; never removed (a key serves one validator, ever).</summary>
    public static Hash32 ConsensusAddress(Address consensusAddress) => DomainHash.Compute(HashDomain.StateConsensusAddress, consensusAddress.Bytes);

    /// <summary>Key of a delegation: the delegator's shares in a validator (operator address).</summary>
    public static Hash32 Delegation(Address delegator, Address validator)
    {
        Span<byte> id = stackalloc byte[2 * Address.Size];
        delegator.Bytes.CopyTo(id);
        validator.Bytes.CopyTo(id[Address.Size..]);
        return DomainHash.Compute(HashDomain.StateDelegation, id);
    }

    /// <summary>Key of the list of validators a delegator has shares in (bounded; the state cannot be iterated by prefix).</summary>
    public static Hash32 Delegator(Address delegator) => DomainHash.Compute(HashDomain.StateDelegator, delegator.Bytes);

    /// <summary>Key of the list of every validator candidate.</summary>
    public static Hash32 Candidates { get; } = Staking("candidates");

    /// <summary>Key of the unbonding queue, in completion order.</summary>
    public static Hash32 UnbondingQueue { get; } = Staking("unbonding");

    /// <summary>Key of the validator sets of the next two heights.</summary>
    public static Hash32 ValidatorSets { get; } = Staking("validator-sets");

    /// <summary>Key of the total of slashed (burned) tokens.</summary>
    public static Hash32 Burned { get; } = Staking("burned");

    private static Hash32 Staking(string record) => DomainHash.Compute(HashDomain.StateStaking, System.Text.Encoding.ASCII.GetBytes(record));
}
