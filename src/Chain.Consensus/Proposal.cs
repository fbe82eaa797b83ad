using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Consensus;

/// <summary>
/// A proposer's claim "at (height, round) I propose block X", with the proof-of-lock round (polRound) the
/// block was last seen with 2/3+ prevotes, or nil when it is fresh.
/// Encoding: <c>[height: uint, round: uint, polRound: uint | nil, blockHash: bin32, timestampMs: uint, proposer: bin20]</c>.
/// Signed with the "proposal" sign domain.
/// </summary>
public sealed class Proposal : CanonicalObject<Proposal>, ICanonicalObject<Proposal>
{
    public Proposal(Height height, Round round, Round? polRound, Hash32 blockHash, ulong timestampMs, Address proposer)
    {
        if (polRound is { } pr && pr >= round)
            throw new ArgumentOutOfRangeException(nameof(polRound), $"polRound {pr} must be below round {round}");
        Height = height;
        Round = round;
        PolRound = polRound;
        BlockHash = blockHash;
        TimestampMs = timestampMs;
        Proposer = proposer;
    }

    public Height Height { get; }
    public Round Round { get; }
    /// <summary>The round of the 2/3+ prevotes that justify re-proposing this block; null for a new block.</summary>
    public Round? PolRound { get; }
    public Hash32 BlockHash { get; }
    public ulong TimestampMs { get; }
    public Address Proposer { get; }

    public static string KindName => "proposal";
    public static int MaxEncodedSize => 256;

    public byte[] SignBytes(ChainId chainId) => Core.Crypto.SignBytes.Build(SignDomain.Proposal, chainId, Encoded.Span);

    public SignedProposal Sign(ChainId chainId, PrivateKey key)
    {
        if (key.Address != Proposer) throw new ArgumentException($"key {key.Address} is not proposer {Proposer}", nameof(key));
        return new SignedProposal(this, key.Sign(SignBytes(chainId)));
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(6);
        writer.Write(Height.Value);
        writer.Write(Round.Value);
        if (PolRound is { } pr) writer.Write(pr.Value); else writer.WriteNil();
        writer.Write(BlockHash);
        writer.Write(TimestampMs);
        writer.Write(Proposer);
    }

    public static Proposal ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(6, "proposal");
        var height = new Height(reader.ReadUInt64("height"));
        var round = new Round(reader.ReadUInt32("round"));
        long at = reader.Offset;
        Round? polRound = reader.TryReadNil() ? null : new Round(reader.ReadUInt32("pol round"));
        if (polRound is { } pr && pr >= round)
            throw reader.Error(DecodeError.InvalidValue, $"polRound {pr} is not below round {round}", at);
        var hash = reader.ReadHash32("block hash");
        ulong ts = reader.ReadUInt64("timestamp");
        var proposer = reader.ReadAddress("proposer");
        return new Proposal(height, round, polRound, hash, ts, proposer);
    }
}

/// <summary>A proposal with the proposer's signature. Encoding: <c>[proposal, signature: bin64]</c>.</summary>
public sealed class SignedProposal : CanonicalObject<SignedProposal>, ICanonicalObject<SignedProposal>
{
    public SignedProposal(Proposal proposal, Signature signature)
    {
        Proposal = proposal ?? throw new ArgumentNullException(nameof(proposal));
        Signature = signature;
    }

    public Proposal Proposal { get; }
    public Signature Signature { get; }

    public static string KindName => "signed proposal";
    public static int MaxEncodedSize => 512;

    public bool Verify(ChainId chainId, in PublicKey publicKey) =>
        publicKey.Address == Proposal.Proposer && Ed25519.Verify(publicKey, Proposal.SignBytes(chainId), Signature);

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        Proposal.WriteTo(ref writer);
        writer.Write(Signature);
    }

    public static SignedProposal ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "signed proposal");
        var p = Proposal.ReadFrom(ref reader);
        return new SignedProposal(p, reader.ReadSignature("signature"));
    }
}
