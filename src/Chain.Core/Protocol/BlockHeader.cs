using Chain.Core.Codec;
using Chain.Core.Hashing;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>
/// The signed-over summary of a block. Its hash is the block's identity; commits sign it.
/// Roots describe the state after executing this block's own transactions.
/// Encoding (13 items, in this order):
/// <c>[version, chainId, height, timeMs, lastBlockHash, lastCommitHash, txRoot, receiptsRoot,
/// stateRoot, validatorsHash, nextValidatorsHash, evidenceRoot, proposer]</c>.
/// </summary>
public sealed class BlockHeader : CanonicalObject<BlockHeader>, ICanonicalObject<BlockHeader>
{
    /// <summary>The block format this code writes and accepts.</summary>
    public const uint CurrentVersion = 1;

    private Hash32? _hash;

    public BlockHeader(
        ChainId chainId, Height height, ulong timeMs,
        Hash32 lastBlockHash, Hash32 lastCommitHash,
        Hash32 transactionsRoot, Hash32 receiptsRoot, Hash32 stateRoot,
        Hash32 validatorsHash, Hash32 nextValidatorsHash, Hash32 evidenceRoot,
        Address proposer, uint version = CurrentVersion)
    {
        if (chainId.Value is null) throw new ArgumentException("chain id is not set", nameof(chainId));
        if (height.Value == 0) throw new ArgumentOutOfRangeException(nameof(height), "blocks start at height 1");
        if (version != CurrentVersion) throw new ArgumentOutOfRangeException(nameof(version), $"unsupported block version {version}");
        Version = version;
        ChainId = chainId;
        Height = height;
        TimeMs = timeMs;
        LastBlockHash = lastBlockHash;
        LastCommitHash = lastCommitHash;
        TransactionsRoot = transactionsRoot;
        ReceiptsRoot = receiptsRoot;
        StateRoot = stateRoot;
        ValidatorsHash = validatorsHash;
        NextValidatorsHash = nextValidatorsHash;
        EvidenceRoot = evidenceRoot;
        Proposer = proposer;
    }

    public uint Version { get; }
    public ChainId ChainId { get; }
    public Height Height { get; }
    /// <summary>Block time in Unix milliseconds, chosen by the proposer.</summary>
    public ulong TimeMs { get; }
    /// <summary>Hash of the previous block's header; zero at height 1.</summary>
    public Hash32 LastBlockHash { get; }
    /// <summary>Hash of the commit for the previous block carried in this block; zero at height 1.</summary>
    public Hash32 LastCommitHash { get; }
    public Hash32 TransactionsRoot { get; }
    public Hash32 ReceiptsRoot { get; }
    public Hash32 StateRoot { get; }
    public Hash32 ValidatorsHash { get; }
    public Hash32 NextValidatorsHash { get; }
    public Hash32 EvidenceRoot { get; }
    public Address Proposer { get; }

    public Hash32 Hash => _hash ??= DomainHash.Compute(HashDomain.BlockHeader, Encoded.Span);

    public static string KindName => "block header";
    public static int MaxEncodedSize => ProtocolLimits.MaxHeaderBytes;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(13);
        writer.Write(Version);
        writer.Write(ChainId.Value);
        writer.Write(Height.Value);
        writer.Write(TimeMs);
        writer.Write(LastBlockHash);
        writer.Write(LastCommitHash);
        writer.Write(TransactionsRoot);
        writer.Write(ReceiptsRoot);
        writer.Write(StateRoot);
        writer.Write(ValidatorsHash);
        writer.Write(NextValidatorsHash);
        writer.Write(EvidenceRoot);
        writer.Write(Proposer);
    }

    public static BlockHeader ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(13, "block header");
        long at = reader.Offset;
        uint version = reader.ReadUInt32("version");
        if (version != CurrentVersion)
            throw reader.Error(DecodeError.InvalidValue, $"unsupported block version {version} (this node speaks {CurrentVersion})", at);
        var chainId = reader.ReadChainId("chain id");
        at = reader.Offset;
        ulong height = reader.ReadUInt64("height");
        if (height == 0) throw reader.Error(DecodeError.InvalidValue, "block height 0 (blocks start at 1)", at);
        return new BlockHeader(
            chainId, new Height(height), reader.ReadUInt64("time"),
            reader.ReadHash32("last block hash"), reader.ReadHash32("last commit hash"),
            reader.ReadHash32("transactions root"), reader.ReadHash32("receipts root"), reader.ReadHash32("state root"),
            reader.ReadHash32("validators hash"), reader.ReadHash32("next validators hash"), reader.ReadHash32("evidence root"),
            reader.ReadAddress("proposer"), version);
    }
}
