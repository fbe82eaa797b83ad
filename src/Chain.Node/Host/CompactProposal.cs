using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Node.Host;

/// <summary>
/// Node-level messages of hash-only block propagation, on the Consensus channel beside <see cref="ConsensusMessages"/>
/// (their kinds, 16..18, are outside the engine's). Encoding: <c>[kind: uint, ...fields]</c>:
/// <list type="bullet">
/// <item>a compact proposal <c>[16, signedProposal, header, lastCommit | nil, [evidence: bin, ...], [txHash: bin32, ...]]</c>:
/// the block without its transaction bodies;</item>
/// <item>a parts request <c>[17, height: uint, blockHash: bin32, [txHash: bin32, ...]]</c> (1..<see cref="ProtocolLimits.MaxTransactionsPerBlock"/> hashes);</item>
/// <item>a parts response <c>[18, height: uint, blockHash: bin32, [signedTx, ...]]</c>: those of the asked bodies the peer has.</item>
/// </list>
/// All are bounded (<see cref="MaxEncodedSize"/>) and strictly decoded; the receiver checks every body against the
/// hashes it asked for and the rebuilt block against the header's transactions root.
/// </summary>
public abstract class BlockPartsMessage : CanonicalObject<BlockPartsMessage>, ICanonicalObject<BlockPartsMessage>
{
    public const byte KindCompactProposal = 16, KindPartsRequest = 17, KindPartsResponse = 18;

    public abstract byte Kind { get; }

    public static string KindName => "block parts message";

    /// <summary>A response carries at most one block's transactions (the block bound) plus framing.</summary>
    public static int MaxEncodedSize => ProtocolLimits.MaxBlockBytes + 1024;

    /// <summary>Whether a Consensus-channel payload is one of these (its kind byte), not an engine message.</summary>
    public static bool IsOne(ReadOnlySpan<byte> payload) =>
        payload.Length >= 2 && payload[0] is >= 0x90 and <= 0x9f && payload[1] is >= KindCompactProposal and <= KindPartsResponse;

    public static BlockPartsMessage ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("block parts message", 6);
        long kindAt = reader.Offset;
        byte kind = reader.ReadByte("block parts message kind");
        int expected = kind switch
        {
            KindCompactProposal => 6,
            KindPartsRequest or KindPartsResponse => 4,
            _ => throw reader.Error(DecodeError.InvalidValue, $"unknown block parts message kind {kind}", kindAt),
        };
        if (count != expected)
            throw reader.Error(DecodeError.WrongArity, $"block parts message kind {kind} has {count} item(s), expected {expected}", at);
        if (kind == KindCompactProposal)
        {
            var proposal = SignedProposal.ReadFrom(ref reader);
            var header = BlockHeader.ReadFrom(ref reader);
            var lastCommit = reader.TryReadNil() ? null : Commit.ReadFrom(ref reader);
            int evidenceCount = reader.ReadArrayCount("evidence", ProtocolLimits.MaxEvidencePerBlock);
            var evidence = new ReadOnlyMemory<byte>[evidenceCount];
            for (int i = 0; i < evidenceCount; i++)
            {
                long itemAt = reader.Offset;
                evidence[i] = reader.ReadBytes("evidence item", ProtocolLimits.MaxEvidenceBytes);
                if (evidence[i].Length == 0) throw reader.Error(DecodeError.InvalidValue, "empty evidence item", itemAt);
            }
            return new CompactProposal(proposal, header, lastCommit, evidence, ReadHashes(ref reader, allowEmpty: true));
        }
        var height = new Height(reader.ReadUInt64("height"));
        var blockHash = reader.ReadHash32("block hash");
        if (kind == KindPartsRequest) return new PartsRequest(height, blockHash, ReadHashes(ref reader, allowEmpty: false));
        int n = reader.ReadArrayCount("transactions", ProtocolLimits.MaxTransactionsPerBlock);
        var txs = new SignedTransaction[n];
        for (int i = 0; i < n; i++) txs[i] = SignedTransaction.ReadFrom(ref reader);
        return new PartsResponse(height, blockHash, txs);
    }

    private static Hash32[] ReadHashes(ref CanonicalReader reader, bool allowEmpty)
    {
        long at = reader.Offset;
        int n = reader.ReadArrayCount("transaction hashes", ProtocolLimits.MaxTransactionsPerBlock);
        if (n == 0 && !allowEmpty) throw reader.Error(DecodeError.InvalidValue, "a parts request asks for nothing", at);
        var hashes = new Hash32[n];
        for (int i = 0; i < n; i++) hashes[i] = reader.ReadHash32("transaction hash");
        return hashes;
    }

    protected static void WriteHashes(ref MessagePackWriter writer, IReadOnlyList<Hash32> hashes)
    {
        writer.WriteArrayHeader(hashes.Count);
        foreach (var h in hashes) writer.Write(h);
    }
}

/// <summary>A proposal with its block's header, last commit, evidence and transaction hashes, but not the transaction bodies.</summary>
public sealed class CompactProposal(SignedProposal proposal, BlockHeader header, Commit? lastCommit, IReadOnlyList<ReadOnlyMemory<byte>> evidence,
    IReadOnlyList<Hash32> transactionHashes) : BlockPartsMessage
{
    public SignedProposal Proposal { get; } = proposal;
    public BlockHeader Header { get; } = header;
    public Commit? LastCommit { get; } = lastCommit;
    public IReadOnlyList<ReadOnlyMemory<byte>> Evidence { get; } = evidence;
    public IReadOnlyList<Hash32> TransactionHashes { get; } = transactionHashes;
    public Height Height => Header.Height;
    public Hash32 BlockHash => Header.Hash;
    public override byte Kind => KindCompactProposal;

    public static CompactProposal Of(ProposalReceived full) =>
        new(full.Proposal, full.Block.Header, full.Block.LastCommit, full.Block.Evidence, full.Block.Transactions.Select(t => t.Hash).ToArray());

    /// <summary>
    /// The full proposal from the bodies, in hash order; null with the reason when they do not make the header's block
    /// (<see cref="Block.ValidateBasic"/>: transactions and evidence roots, last-commit links, chain id).
    /// </summary>
    public ProposalReceived? Rebuild(IReadOnlyList<SignedTransaction> bodies, ChainId chainId, out string reason)
    {
        if (bodies.Count != TransactionHashes.Count)
        {
            reason = $"{bodies.Count} bodies for {TransactionHashes.Count} hashes";
            return null;
        }
        for (int i = 0; i < bodies.Count; i++)
            if (bodies[i].Hash != TransactionHashes[i])
            {
                reason = $"body {i} is {bodies[i].Hash}, the proposal lists {TransactionHashes[i]}";
                return null;
            }
        var block = new Block(Header, bodies, LastCommit, Evidence);
        if (!block.ValidateBasic(chainId, out var basic))
        {
            reason = $"the rebuilt block does not match its header: {basic}";
            return null;
        }
        reason = "";
        return new ProposalReceived(Proposal, block);
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(6);
        writer.Write(Kind);
        Proposal.WriteTo(ref writer);
        Header.WriteTo(ref writer);
        if (LastCommit is null) writer.WriteNil();
        else LastCommit.WriteTo(ref writer);
        writer.WriteArrayHeader(Evidence.Count);
        foreach (var e in Evidence) writer.Write(e.Span);
        WriteHashes(ref writer, TransactionHashes);
    }
}

/// <summary>Asks a peer for the bodies of some transactions of the proposed block <see cref="BlockHash"/> at <see cref="Height"/>.</summary>
public sealed class PartsRequest(Height height, Hash32 blockHash, IReadOnlyList<Hash32> transactionHashes) : BlockPartsMessage
{
    public Height Height { get; } = height;
    public Hash32 BlockHash { get; } = blockHash;
    public IReadOnlyList<Hash32> TransactionHashes { get; } = transactionHashes;
    public override byte Kind => KindPartsRequest;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(Kind);
        writer.Write(Height.Value);
        writer.Write(BlockHash);
        WriteHashes(ref writer, TransactionHashes);
    }
}

/// <summary>The bodies a peer has of those a <see cref="PartsRequest"/> asked for, in the asked order.</summary>
public sealed class PartsResponse(Height height, Hash32 blockHash, IReadOnlyList<SignedTransaction> transactions) : BlockPartsMessage
{
    public Height Height { get; } = height;
    public Hash32 BlockHash { get; } = blockHash;
    public IReadOnlyList<SignedTransaction> Transactions { get; } = transactions;
    public override byte Kind => KindPartsResponse;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(Kind);
        writer.Write(Height.Value);
        writer.Write(BlockHash);
        writer.WriteArrayHeader(Transactions.Count);
        foreach (var tx in Transactions) tx.WriteTo(ref writer);
    }
}
