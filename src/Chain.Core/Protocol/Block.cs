using Chain.Core.Codec;
using Chain.Core.Merkle;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>
/// A block: header, transactions, the commit that finalized the previous block (absent at height 1), and
/// evidence of validator misbehaviour. Encoding: <c>[header, [signedTx, ...], lastCommit | nil, [evidence: bin, ...]]</c>.
/// Evidence items are carried as the canonical bytes of the consensus layer's evidence objects: Core binds
/// them to the header (evidence root) and bounds them; the consensus layer decodes and verifies them
/// (<see cref="IEvidenceVerifier"/>) when the block is executed.
/// </summary>
public sealed class Block : CanonicalObject<Block>, ICanonicalObject<Block>
{
    private readonly SignedTransaction[] _transactions;
    private readonly ReadOnlyMemory<byte>[] _evidence;

    public Block(BlockHeader header, IEnumerable<SignedTransaction> transactions, Commit? lastCommit, IEnumerable<ReadOnlyMemory<byte>>? evidence = null)
    {
        Header = header ?? throw new ArgumentNullException(nameof(header));
        _transactions = transactions.ToArray();
        if (_transactions.Length > ProtocolLimits.MaxTransactionsPerBlock)
            throw new ArgumentException($"{_transactions.Length} transactions exceeds {ProtocolLimits.MaxTransactionsPerBlock}", nameof(transactions));
        LastCommit = lastCommit;
        _evidence = evidence?.ToArray() ?? [];
        if (_evidence.Length > ProtocolLimits.MaxEvidencePerBlock)
            throw new ArgumentException($"{_evidence.Length} evidence items exceeds {ProtocolLimits.MaxEvidencePerBlock}", nameof(evidence));
        foreach (var e in _evidence)
            if (e.Length == 0 || e.Length > ProtocolLimits.MaxEvidenceBytes)
                throw new ArgumentException($"an evidence item of {e.Length} bytes is outside 1..{ProtocolLimits.MaxEvidenceBytes}", nameof(evidence));
    }

    public BlockHeader Header { get; }
    public IReadOnlyList<SignedTransaction> Transactions => _transactions;
    public Commit? LastCommit { get; }
    /// <summary>Canonical encodings of the evidence objects, in block order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Evidence => _evidence;
    public Hash32 Hash => Header.Hash;
    public Height Height => Header.Height;

    public static string KindName => "block";
    public static int MaxEncodedSize => ProtocolLimits.MaxBlockBytes;

    /// <summary>Merkle root (RFC 6962) over the canonical encodings of the signed transactions, in block order.</summary>
    public static Hash32 ComputeTransactionsRoot(IReadOnlyList<SignedTransaction> transactions) =>
        MerkleTree.ComputeRoot(transactions.Select(t => t.Encoded).ToArray());

    /// <summary>Merkle root (RFC 6962) over the canonical encodings of the receipts, in block order.</summary>
    public static Hash32 ComputeReceiptsRoot(IReadOnlyList<Receipt> receipts) =>
        MerkleTree.ComputeRoot(receipts.Select(r => r.Encoded).ToArray());

    /// <summary>Merkle root (RFC 6962) over the evidence items' canonical encodings, in block order.</summary>
    public static Hash32 ComputeEvidenceRoot(IReadOnlyList<ReadOnlyMemory<byte>> evidence) =>
        MerkleTree.ComputeRoot(evidence.ToArray());

    /// <summary>
    /// Checks everything that can be checked without state or the validator set: chain id, the
    /// transactions and evidence roots, no duplicate transactions or evidence, and that the last commit is present exactly
    /// when height &gt; 1 and matches the header's links. Signatures are checked elsewhere.
    /// </summary>
    public bool ValidateBasic(ChainId chainId, out string reason)
    {
        if (Header.ChainId != chainId)
        {
            reason = $"wrong chain id: block is for '{Header.ChainId}', this chain is '{chainId}'";
            return false;
        }
        var seen = new HashSet<Hash32>();
        foreach (var tx in _transactions)
        {
            if (!seen.Add(tx.Hash))
            {
                reason = $"transaction {tx.Hash} appears twice";
                return false;
            }
            if (tx.Transaction.ChainId != chainId)
            {
                reason = $"transaction {tx.Hash} is for chain '{tx.Transaction.ChainId}'";
                return false;
            }
        }
        var root = ComputeTransactionsRoot(_transactions);
        if (root != Header.TransactionsRoot)
        {
            reason = $"transactions root mismatch: header says {Header.TransactionsRoot}, transactions give {root}";
            return false;
        }
        var evidenceRoot = ComputeEvidenceRoot(_evidence);
        if (evidenceRoot != Header.EvidenceRoot)
        {
            reason = $"evidence root mismatch: header says {Header.EvidenceRoot}, evidence gives {evidenceRoot}";
            return false;
        }
        for (int i = 1; i < _evidence.Length; i++)
            for (int j = 0; j < i; j++)
                if (_evidence[i].Span.SequenceEqual(_evidence[j].Span))
                {
                    reason = $"evidence item {i} repeats item {j}";
                    return false;
                }
        if (Header.Height.Value == 1)
        {
            if (LastCommit is not null || !Header.LastBlockHash.IsZero || !Header.LastCommitHash.IsZero)
            {
                reason = "the first block has no previous block or commit";
                return false;
            }
        }
        else
        {
            if (LastCommit is null)
            {
                reason = $"block {Header.Height} lacks the commit for block {Header.Height.Value - 1}";
                return false;
            }
            if (LastCommit.Height.Value != Header.Height.Value - 1 || LastCommit.BlockHash != Header.LastBlockHash)
            {
                reason = $"last commit is for block {LastCommit.BlockHash} at height {LastCommit.Height}, header links {Header.LastBlockHash} at {Header.Height.Value - 1}";
                return false;
            }
            if (LastCommit.Hash != Header.LastCommitHash)
            {
                reason = $"last commit hash mismatch: header says {Header.LastCommitHash}, commit is {LastCommit.Hash}";
                return false;
            }
        }
        reason = "";
        return true;
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        Header.WriteTo(ref writer);
        writer.WriteArrayHeader(_transactions.Length);
        foreach (var tx in _transactions) tx.WriteTo(ref writer);
        if (LastCommit is null) writer.WriteNil();
        else LastCommit.WriteTo(ref writer);
        writer.WriteArrayHeader(_evidence.Length);
        foreach (var e in _evidence) writer.Write(e.Span);
    }

    public static Block ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(4, "block");
        var header = BlockHeader.ReadFrom(ref reader);
        int count = reader.ReadArrayCount("block transactions", ProtocolLimits.MaxTransactionsPerBlock);
        var txs = new SignedTransaction[count];
        for (int i = 0; i < count; i++) txs[i] = SignedTransaction.ReadFrom(ref reader);
        var lastCommit = reader.TryReadNil() ? null : Commit.ReadFrom(ref reader);
        int evidenceCount = reader.ReadArrayCount("block evidence", ProtocolLimits.MaxEvidencePerBlock);
        var evidence = new ReadOnlyMemory<byte>[evidenceCount];
        for (int i = 0; i < evidenceCount; i++)
        {
            long at = reader.Offset;
            evidence[i] = reader.ReadBytes("evidence item", ProtocolLimits.MaxEvidenceBytes);
            if (evidence[i].Length == 0) throw reader.Error(DecodeError.InvalidValue, "empty evidence item", at);
        }
        return new Block(header, txs, lastCommit, evidence);
    }
}
