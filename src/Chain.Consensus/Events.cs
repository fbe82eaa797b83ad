using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Consensus;

/// <summary>
/// An input to the engine. Kinds 1–3 and 7 are also the network messages (see <see cref="ConsensusMessages"/>);
/// all kinds are WAL records. Encoding: <c>[kind: uint, ...fields]</c>, one canonical form per kind.
/// </summary>
public abstract class ConsensusEvent : CanonicalObject<ConsensusEvent>, ICanonicalObject<ConsensusEvent>
{
    public const byte KindProposal = 1, KindVote = 2, KindDecision = 3, KindTimeout = 4, KindVerified = 5, KindBuilt = 6, KindStatus = 7;

    public abstract byte Kind { get; }

    public static string KindName => "consensus event";
    public static int MaxEncodedSize => ProtocolLimits.MaxBlockBytes + ProtocolLimits.MaxCommitBytes + 1024;

    public static ConsensusEvent ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("consensus event", 4);
        long kindAt = reader.Offset;
        byte kind = reader.ReadByte("event kind");
        int expected = kind switch
        {
            KindProposal => 3, KindVote => 2, KindDecision => 3, KindTimeout => 4, KindVerified => 4, KindBuilt => 4, KindStatus => 3,
            _ => throw reader.Error(DecodeError.InvalidValue, $"unknown consensus event kind {kind}", kindAt),
        };
        if (count != expected)
            throw reader.Error(DecodeError.WrongArity, $"event kind {kind} has {count} item(s), expected {expected}", at);
        switch (kind)
        {
            case KindProposal:
                return new ProposalReceived(SignedProposal.ReadFrom(ref reader), Block.ReadFrom(ref reader));
            case KindVote:
                return new VoteReceived(SignedVote.ReadFrom(ref reader));
            case KindDecision:
                return new DecisionReceived(Block.ReadFrom(ref reader), Commit.ReadFrom(ref reader));
            case KindTimeout:
            {
                var h = new Height(reader.ReadUInt64("height"));
                var r = new Round(reader.ReadUInt32("round"));
                long stepAt = reader.Offset;
                byte s = reader.ReadByte("step");
                if (s is < 1 or > 3) throw reader.Error(DecodeError.InvalidValue, $"unknown step {s}", stepAt);
                return new TimeoutElapsed(h, r, (Step)s);
            }
            case KindStatus:
                return new StatusReceived(new Height(reader.ReadUInt64("height")), new Round(reader.ReadUInt32("round")));
            case KindVerified:
                return new ProposalVerified(new Height(reader.ReadUInt64("height")), reader.ReadHash32("block hash"), reader.ReadBoolean("valid"));
            default:
                return new BlockBuilt(new Height(reader.ReadUInt64("height")), new Round(reader.ReadUInt32("round")), Block.ReadFrom(ref reader));
        }
    }
}

/// <summary>A signed proposal and the block it names (they travel together).</summary>
public sealed class ProposalReceived(SignedProposal proposal, Block block) : ConsensusEvent
{
    public SignedProposal Proposal { get; } = proposal;
    public Block Block { get; } = block;
    public override byte Kind => KindProposal;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        Proposal.WriteTo(ref writer);
        Block.WriteTo(ref writer);
    }
}

public sealed class VoteReceived(SignedVote vote) : ConsensusEvent
{
    public SignedVote Vote { get; } = vote;
    public override byte Kind => KindVote;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write(Kind);
        Vote.WriteTo(ref writer);
    }
}

/// <summary>
/// A validator's position (height, round), gossiped periodically. Peers further ahead answer with the
/// decision for that height; the engine itself ignores it. It carries no signature and no authority.
/// </summary>
public sealed class StatusReceived(Height height, Round round) : ConsensusEvent
{
    public Height Height { get; } = height;
    public Round Round { get; } = round;
    public override byte Kind => KindStatus;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        writer.Write(Height.Value);
        writer.Write(Round.Value);
    }
}

/// <summary>A decided block with its commit, sent to peers that lag behind (catch-up).</summary>
public sealed class DecisionReceived(Block block, Commit commit) : ConsensusEvent
{
    public Block Block { get; } = block;
    public Commit Commit { get; } = commit;
    public override byte Kind => KindDecision;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        Block.WriteTo(ref writer);
        Commit.WriteTo(ref writer);
    }
}

/// <summary>A timeout the engine scheduled has fired.</summary>
public sealed class TimeoutElapsed(Height height, Round round, Step step) : ConsensusEvent
{
    public Height Height { get; } = height;
    public Round Round { get; } = round;
    public Step Step { get; } = step;
    public override byte Kind => KindTimeout;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(Kind);
        writer.Write(Height.Value);
        writer.Write(Round.Value);
        writer.Write((byte)Step);
    }
}

/// <summary>The application's verdict on a <see cref="VerifyProposalRequest"/>: re-execution matched (valid) or not.</summary>
public sealed class ProposalVerified(Height height, Hash32 blockHash, bool valid) : ConsensusEvent
{
    public Height Height { get; } = height;
    public Hash32 BlockHash { get; } = blockHash;
    public bool Valid { get; } = valid;
    public override byte Kind => KindVerified;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(Kind);
        writer.Write(Height.Value);
        writer.Write(BlockHash);
        writer.Write(Valid);
    }
}

/// <summary>The application's answer to a <see cref="BuildBlockRequest"/>.</summary>
public sealed class BlockBuilt(Height height, Round round, Block block) : ConsensusEvent
{
    public Height Height { get; } = height;
    public Round Round { get; } = round;
    public Block Block { get; } = block;
    public override byte Kind => KindBuilt;
    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(4);
        writer.Write(Kind);
        writer.Write(Height.Value);
        writer.Write(Round.Value);
        Block.WriteTo(ref writer);
    }
}

/// <summary>Wire messages between validators: proposals, votes, decisions and status, strictly decoded.</summary>
public static class ConsensusMessages
{
    public static byte[] Encode(ConsensusEvent message)
    {
        if (!IsNetworkKind(message.Kind))
            throw new ArgumentException($"event kind {message.Kind} is local, not a network message", nameof(message));
        return message.Encoded.ToArray();
    }

    public static bool IsNetworkKind(byte kind) =>
        kind is ConsensusEvent.KindProposal or ConsensusEvent.KindVote or ConsensusEvent.KindDecision or ConsensusEvent.KindStatus;

    /// <summary>Decodes a peer's bytes; anything but the canonical encoding of a network message is refused.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> bytes, out ConsensusEvent? message, out string reason)
    {
        message = null;
        if (!Canonical.TryDecode<ConsensusEvent>(bytes, out var ev, out var error))
        {
            reason = error!.Message;
            return false;
        }
        if (!IsNetworkKind(ev!.Kind))
        {
            reason = $"event kind {ev.Kind} is local and may not come from the network";
            return false;
        }
        message = ev;
        reason = "";
        return true;
    }
}
