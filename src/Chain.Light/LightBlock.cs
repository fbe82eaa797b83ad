using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Light;

/// <summary>
/// What a light client knows of one height: the header, a commit for it, and the validator set the header names
/// (<c>validatorsHash</c>). Unverified until <see cref="LightVerifier"/> says otherwise; the trusted store holds only
/// verified ones. Encoding (store files, docs/light-client.md): <c>[header, commit, validatorSet]</c>, each canonical.
/// </summary>
public sealed class LightBlock : CanonicalObject<LightBlock>, ICanonicalObject<LightBlock>
{
    public LightBlock(BlockHeader header, Commit commit, ValidatorSet validators)
    {
        Header = header ?? throw new ArgumentNullException(nameof(header));
        Commit = commit ?? throw new ArgumentNullException(nameof(commit));
        Validators = validators ?? throw new ArgumentNullException(nameof(validators));
    }

    public BlockHeader Header { get; }
    public Commit Commit { get; }
    public ValidatorSet Validators { get; }
    public ulong Height => Header.Height.Value;

    public static string KindName => "light block";
    public static int MaxEncodedSize => ProtocolLimits.MaxHeaderBytes + ProtocolLimits.MaxCommitBytes + ValidatorSet.MaxEncodedSize + 8;

    /// <summary>Null when the three parts belong together (commit for this header, set hashing to its validatorsHash).</summary>
    public string? Inconsistency() =>
        Commit.Height != Header.Height || Commit.BlockHash != Header.Hash ? $"the commit is for {Commit.BlockHash} at {Commit.Height}, not header {Header.Hash} at {Header.Height}"
        : Validators.Hash != Header.ValidatorsHash ? $"the validator set hashes to {Validators.Hash}, header {Header.Height} names {Header.ValidatorsHash}"
        : null;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        Header.WriteTo(ref writer);
        Commit.WriteTo(ref writer);
        Validators.WriteTo(ref writer);
    }

    public static LightBlock ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "light block");
        var header = BlockHeader.ReadFrom(ref reader);
        var commit = Commit.ReadFrom(ref reader);
        long at = reader.Offset;
        var validators = ValidatorSet.ReadFrom(ref reader);
        var block = new LightBlock(header, commit, validators);
        if (block.Inconsistency() is { } why) throw reader.Error(DecodeError.InvalidValue, why, at);
        return block;
    }
}

/// <summary>
/// The light client's trust parameters. <see cref="TrustNumerator"/>/<see cref="TrustDenominator"/> is the fraction of a
/// trusted set's power that must sign a header to skip to it (CometBFT's trust level; at least 1/3, at most 1).
/// </summary>
public sealed record TrustOptions(TimeSpan TrustingPeriod, TimeSpan MaxClockDrift, ulong TrustNumerator = 1, ulong TrustDenominator = 3)
{
    /// <summary>Two weeks: below the unbonding period a validator set must stay slashable for.</summary>
    public static readonly TimeSpan DefaultTrustingPeriod = TimeSpan.FromHours(336);

    public static readonly TimeSpan DefaultMaxClockDrift = TimeSpan.FromSeconds(10);

    public static TrustOptions Default { get; } = new(DefaultTrustingPeriod, DefaultMaxClockDrift);

    /// <summary>Null when usable, else why not.</summary>
    public string? Problem() =>
        TrustingPeriod <= TimeSpan.Zero ? $"trusting period {TrustingPeriod} must be positive"
        : MaxClockDrift < TimeSpan.Zero ? $"clock drift {MaxClockDrift} must not be negative"
        : TrustDenominator == 0 || (UInt128)TrustNumerator * 3 < TrustDenominator || TrustNumerator > TrustDenominator
            ? $"trust level {TrustNumerator}/{TrustDenominator} must be in [1/3, 1]"
        : null;
}
