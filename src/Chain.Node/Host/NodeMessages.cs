using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Node.Host;

/// <summary>
/// A node's latest stored height, sent on the Status channel so peers know whom to sync from.
/// Encoding: <c>[height: uint]</c>. It carries no signature: a lie only makes peers ask for blocks that never come.
/// </summary>
public sealed class PeerStatus(Height latestHeight) : CanonicalObject<PeerStatus>, ICanonicalObject<PeerStatus>
{
    public Height LatestHeight { get; } = latestHeight;

    public static string KindName => "peer status";
    public static int MaxEncodedSize => 16;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(1);
        writer.Write(LatestHeight.Value);
    }

    public static PeerStatus ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(1, "peer status");
        return new PeerStatus(new Height(reader.ReadUInt64("height")));
    }
}

/// <summary>A decided block with the commit that finalizes it, as block sync carries it.</summary>
public sealed record SyncedBlock(Block Block, Commit Commit);

/// <summary>
/// Block sync messages (Sync channel). Encoding: <c>[kind: uint, ...fields]</c>: a request is
/// <c>[1, fromHeight: uint, maxBlocks: uint]</c>, a response <c>[2, [[block, commit], ...]]</c> with blocks in
/// height order starting at the requested height. Both are bounded (<see cref="SyncLimits"/>).
/// </summary>
public abstract class SyncMessage : CanonicalObject<SyncMessage>, ICanonicalObject<SyncMessage>
{
    public const byte KindRequest = 1, KindResponse = 2;

    public abstract byte Kind { get; }

    public static string KindName => "sync message";
    public static int MaxEncodedSize => SyncLimits.MaxResponseBytes;

    public static SyncMessage ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("sync message", 3);
        long kindAt = reader.Offset;
        byte kind = reader.ReadByte("sync message kind");
        int expected = kind switch
        {
            KindRequest => 3,
            KindResponse => 2,
            _ => throw reader.Error(DecodeError.InvalidValue, $"unknown sync message kind {kind}", kindAt),
        };
        if (count != expected)
            throw reader.Error(DecodeError.WrongArity, $"sync message kind {kind} has {count} item(s), expected {expected}", at);
        if (kind == KindRequest)
        {
            var from = reader.ReadUInt64("from height");
            long maxAt = reader.Offset;
            var max = reader.ReadUInt32("max blocks");
            if (from == 0) throw reader.Error(DecodeError.InvalidValue, "heights start at 1", maxAt);
            if (max is 0 or > SyncLimits.MaxBlocksPerResponse)
                throw reader.Error(DecodeError.InvalidValue, $"max blocks {max} is outside 1..{SyncLimits.MaxBlocksPerResponse}", maxAt);
            return new SyncRequest(new Height(from), max);
        }
        int n = reader.ReadArrayCount("synced blocks", SyncLimits.MaxBlocksPerResponse);
        var blocks = new List<SyncedBlock>(n);
        for (int i = 0; i < n; i++)
        {
            reader.ReadArrayHeader(2, "synced block");
            blocks.Add(new SyncedBlock(Block.ReadFrom(ref reader), Commit.ReadFrom(ref reader)));
        }
        return new SyncResponse(blocks);
    }
}

/// <summary>Asks a peer for up to <see cref="MaxBlocks"/> decided blocks starting at <see cref="From"/>.</summary>
public sealed class SyncRequest(Height from, uint maxBlocks) : SyncMessage
{
    public Height From { get; } = from;
    public uint MaxBlocks { get; } = maxBlocks;
    public override byte Kind => KindRequest;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        writer.Write(From.Value);
        writer.Write(MaxBlocks);
    }
}

/// <summary>Consecutive decided blocks with their commits; empty when the peer has none from the requested height.</summary>
public sealed class SyncResponse(IReadOnlyList<SyncedBlock> blocks) : SyncMessage
{
    public IReadOnlyList<SyncedBlock> Blocks { get; } = blocks;
    public override byte Kind => KindResponse;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write(Kind);
        writer.WriteArrayHeader(Blocks.Count);
        foreach (var b in Blocks)
        {
            writer.WriteArrayHeader(2);
            b.Block.WriteTo(ref writer);
            b.Commit.WriteTo(ref writer);
        }
    }
}

/// <summary>Bounds of block sync, the same for what a node asks and what it serves.</summary>
public static class SyncLimits
{
    /// <summary>Most blocks one response may carry.</summary>
    public const int MaxBlocksPerResponse = 20;

    /// <summary>
    /// Largest response on the wire: one maximal block with its commit. A server stops adding blocks at its byte
    /// budget but always sends at least one, so this is the bound whatever the budget.
    /// </summary>
    public const int MaxResponseBytes = ProtocolLimits.MaxBlockBytes + ProtocolLimits.MaxCommitBytes + 4096;
}
