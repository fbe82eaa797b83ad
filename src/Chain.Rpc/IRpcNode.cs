using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.State;
using Chain.Storage;
using Chain.Core.Merkle;

namespace Chain.Rpc;

/// <summary>
/// What the RPC server needs from a node. The node implements it (Chain.Rpc never references the node,
/// network or consensus); <see cref="InProcessRpcNode"/> implements it over a local executor for tests and tools.
/// Every member must be safe to call from any thread while the node runs.
/// </summary>
public interface IRpcNode
{
    ChainId ChainId { get; }

    /// <summary>The genesis execution parameters (gas schedule and price), served in /status.</summary>
    ExecutionParameters Parameters { get; }

    /// <summary>Committed blocks, commits and receipts.</summary>
    BlockStore Blocks { get; }

    /// <summary>
    /// The validators of <paramref name="height"/> (the set whose commit finalizes it): known for every committed height
    /// and the next two, null otherwise (the executor's <see cref="ChainExecutor.ValidatorsAt"/>).
    /// </summary>
    ActiveValidators? ValidatorsAt(Height height);

    /// <summary>The committed state with proofs; the server checks every proof against a header before serving it.</summary>
    IProvableState State { get; }

    /// <summary>Committed blocks as they are written; the node calls <see cref="CommittedBlockFeed.Publish"/> after each commit.</summary>
    CommittedBlockFeed CommittedBlocks { get; }

    /// <summary>Facts only the node knows: peers, sync state, its keys, mempool size.</summary>
    NodeInfo GetNodeInfo();

    /// <summary>Admits <paramref name="transaction"/> to the mempool and gossips it; the refusal otherwise (nothing changes then).</summary>
    Rejection? SubmitTransaction(SignedTransaction transaction);

    /// <summary>
    /// Admits a batch in order, each answered as <see cref="SubmitTransaction"/> would (signatures checked on every core
    /// first, <c>Mempool.AddRange</c>); admitted ones are gossiped.
    /// </summary>
    IReadOnlyList<Rejection?> SubmitTransactions(IReadOnlyList<SignedTransaction> transactions);

    /// <summary>
    /// Strictly decodes one evidence item (its canonical encoding), verifies it against this node's chain as a block at
    /// the next height would (the consensus EvidenceVerifier) and pools it for inclusion in a block this node proposes.
    /// </summary>
    EvidenceAdmission SubmitEvidence(ReadOnlyMemory<byte> encoded);
}

/// <summary>The node's answer to POST /evidence: the evidence hash and "pending" or "known" (already committed), or the refusal.</summary>
public sealed record EvidenceAdmission(Hash32? Hash, string? Status, string? Refusal)
{
    public static EvidenceAdmission Pending(Hash32 hash) => new(hash, "pending", null);
    public static EvidenceAdmission Known(Hash32 hash) => new(hash, "known", null);
    public static EvidenceAdmission Refused(string reason) => new(null, null, reason);
}

/// <summary>Node facts for /status that are not in the block store.</summary>
/// <param name="PeersConnected">Peers with an open connection.</param>
/// <param name="Syncing">True while the node catches up with blocks it did not see being decided.</param>
/// <param name="ValidatorAddress">This node's validator address, null for a non-validator.</param>
/// <param name="NodeKey">The node's network identity key, null when it has none (an in-process node).</param>
/// <param name="MempoolTransactions">Pending transactions.</param>
/// <param name="MempoolBytes">Their encoded size.</param>
public sealed record NodeInfo(int PeersConnected, bool Syncing, Address? ValidatorAddress, PublicKey? NodeKey, int MempoolTransactions, long MempoolBytes);

/// <summary>The committed state at the latest version, readable with proofs (the node's <see cref="JellyfishStateBackend"/>).</summary>
public interface IProvableState
{
    /// <summary>Root of the committed state.</summary>
    Hash32 Root { get; }

    byte[]? Get(Hash32 key);

    /// <summary>Inclusion or non-inclusion proof for <paramref name="key"/> against the committed root.</summary>
    StateProof Prove(Hash32 key);
}

/// <summary>Adapts the production state backend to <see cref="IProvableState"/>.</summary>
public sealed class JellyfishProvableState(JellyfishStateBackend backend) : IProvableState
{
    private readonly JellyfishStateBackend _backend = backend ?? throw new ArgumentNullException(nameof(backend));

    public Hash32 Root => _backend.Root;
    public byte[]? Get(Hash32 key) => _backend.Get(key);
    public StateProof Prove(Hash32 key) => _backend.Prove(key);
}
