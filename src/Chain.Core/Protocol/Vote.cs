using Chain.Core.Codec;
using Chain.Core.Crypto;
using MessagePack;

namespace Chain.Core.Protocol;

public enum VoteType : byte
{
    Prevote = 1,
    Precommit = 2,
}

/// <summary>
/// A validator's vote for a block (or for nil) at one height, round and step.
/// Encoding: <c>[type: uint, height: uint, round: uint, blockHash: bin32 | nil, timestampMs: uint, validator: bin20]</c>.
/// </summary>
public sealed class Vote : CanonicalObject<Vote>, ICanonicalObject<Vote>
{
    public Vote(VoteType type, Height height, Round round, Hash32? blockHash, ulong timestampMs, Address validator)
    {
        if (!Enum.IsDefined(type)) throw new ArgumentOutOfRangeException(nameof(type), $"unknown vote type {type}");
        Type = type;
        Height = height;
        Round = round;
        BlockHash = blockHash;
        TimestampMs = timestampMs;
        Validator = validator;
    }

    public VoteType Type { get; }
    public Height Height { get; }
    public Round Round { get; }
    /// <summary>The block voted for, or null for a nil vote.</summary>
    public Hash32? BlockHash { get; }
    public ulong TimestampMs { get; }
    public Address Validator { get; }

    public static string KindName => "vote";
    public static int MaxEncodedSize => ProtocolLimits.MaxVoteBytes;

    public byte[] SignBytes(ChainId chainId) => Crypto.SignBytes.Build(SignDomain.Vote, chainId, Encoded.Span);

    public SignedVote Sign(ChainId chainId, PrivateKey key)
    {
        if (key.Address != Validator)
            throw new ArgumentException($"key {key.Address} is not validator {Validator}", nameof(key));
        return new SignedVote(this, key.Sign(SignBytes(chainId)));
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(6);
        writer.Write((byte)Type);
        writer.Write(Height.Value);
        writer.Write(Round.Value);
        writer.WriteOptional(BlockHash);
        writer.Write(TimestampMs);
        writer.Write(Validator);
    }

    public static Vote ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(6, "vote");
        long at = reader.Offset;
        byte type = reader.ReadByte("vote type");
        if (type is not ((byte)VoteType.Prevote or (byte)VoteType.Precommit))
            throw reader.Error(DecodeError.InvalidValue, $"unknown vote type {type}", at);
        var height = new Height(reader.ReadUInt64("height"));
        var round = new Round(reader.ReadUInt32("round"));
        Hash32? blockHash = reader.TryReadNil() ? null : reader.ReadHash32("block hash");
        ulong timestamp = reader.ReadUInt64("timestamp");
        var validator = reader.ReadAddress("validator");
        return new Vote((VoteType)type, height, round, blockHash, timestamp, validator);
    }
}

/// <summary>A vote with the validator's signature. Encoding: <c>[vote, signature: bin64]</c>.</summary>
public sealed class SignedVote : CanonicalObject<SignedVote>, ICanonicalObject<SignedVote>
{
    public SignedVote(Vote vote, Signature signature)
    {
        Vote = vote ?? throw new ArgumentNullException(nameof(vote));
        Signature = signature;
    }

    public Vote Vote { get; }
    public Signature Signature { get; }

    public static string KindName => "signed vote";
    public static int MaxEncodedSize => ProtocolLimits.MaxVoteBytes;

    /// <summary>True when <paramref name="publicKey"/> belongs to the vote's validator and signed it for <paramref name="chainId"/>.</summary>
    public bool Verify(ChainId chainId, in PublicKey publicKey) =>
        publicKey.Address == Vote.Validator && Ed25519.Verify(publicKey, Vote.SignBytes(chainId), Signature);

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        Vote.WriteTo(ref writer);
        writer.Write(Signature);
    }

    public static SignedVote ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "signed vote");
        var vote = Vote.ReadFrom(ref reader);
        var signature = reader.ReadSignature("signature");
        return new SignedVote(vote, signature);
    }
}
