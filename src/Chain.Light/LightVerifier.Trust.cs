using System.Globalization;
using Chain.Core.Protocol;

namespace Chain.Light;

// Verification across validator-set changes (docs/light-client.md §3): from a trusted light block to a later one,
// adjacent (the trusted header names the next set) or skipping (enough of the trusted set signed). Pure: the clock is
// passed in as Unix milliseconds.
public static partial class LightVerifier
{
    /// <summary>
    /// <paramref name="untrusted"/> may be trusted given <paramref name="trusted"/>: adjacent heights go through
    /// <see cref="VerifyAdjacent"/>, others through <see cref="VerifyNonAdjacent"/>.
    /// </summary>
    public static VerifyFailure? Verify(LightBlock trusted, LightBlock untrusted, TrustOptions options, ulong nowMs) =>
        untrusted.Height == trusted.Height + 1
            ? VerifyAdjacent(trusted, untrusted, options, nowMs)
            : VerifyNonAdjacent(trusted, untrusted, options, nowMs);

    /// <summary>
    /// Height trusted+1: the checks of <see cref="VerifyNewBlock"/>, then the header names the set the trusted header
    /// announced (<c>validatorsHash == trusted.nextValidatorsHash</c>), links to the trusted header, and its commit
    /// carries more than 2/3 of its set.
    /// </summary>
    public static VerifyFailure? VerifyAdjacent(LightBlock trusted, LightBlock untrusted, TrustOptions options, ulong nowMs)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(untrusted);
        if (untrusted.Height != trusted.Height + 1)
            return Header($"header {untrusted.Height} is not adjacent to trusted {trusted.Height}", "height", (trusted.Height + 1).ToString(CultureInfo.InvariantCulture),
                untrusted.Height.ToString(CultureInfo.InvariantCulture));
        if (VerifyNewBlock(trusted, untrusted, options, nowMs) is { } failure) return failure;
        var (t, u) = (trusted.Header, untrusted.Header);
        if (u.ValidatorsHash != t.NextValidatorsHash)
            return new(VerifyFailureKind.WrongValidators, $"header {u.Height} names validators {u.ValidatorsHash}, trusted header {t.Height} announced {t.NextValidatorsHash}",
                Field: "validatorsHash", Expected: t.NextValidatorsHash.ToString(), Actual: u.ValidatorsHash.ToString());
        if (u.LastBlockHash != t.Hash)
            return Header($"header {u.Height} links to {u.LastBlockHash}, trusted header {t.Height} is {t.Hash}", "lastBlockHash", t.Hash.ToString(), u.LastBlockHash.ToString());
        return untrusted.Commit.Verify(u.ChainId, untrusted.Validators, u.Height, u.Hash);
    }

    /// <summary>
    /// A later, non-adjacent height: the checks of <see cref="VerifyNewBlock"/>, then validators of the trusted set holding
    /// more than the trust level of its power signed the untrusted commit (<see cref="Commit.VerifyTrusting"/>: a failure
    /// with field <see cref="Commit.NotEnoughTrustedPowerField"/> means "pivot closer"), then the commit carries more than
    /// 2/3 of the untrusted set.
    /// </summary>
    public static VerifyFailure? VerifyNonAdjacent(LightBlock trusted, LightBlock untrusted, TrustOptions options, ulong nowMs)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        ArgumentNullException.ThrowIfNull(untrusted);
        if (untrusted.Height <= trusted.Height + 1)
            return Header($"header {untrusted.Height} is not beyond trusted {trusted.Height} + 1", "height", $"> {trusted.Height + 1}",
                untrusted.Height.ToString(CultureInfo.InvariantCulture));
        if (VerifyNewBlock(trusted, untrusted, options, nowMs) is { } failure) return failure;
        var u = untrusted.Header;
        if (untrusted.Commit.VerifyTrusting(u.ChainId, trusted.Validators, options.TrustNumerator, options.TrustDenominator) is { } weak) return weak;
        return untrusted.Commit.Verify(u.ChainId, untrusted.Validators, u.Height, u.Hash);
    }

    /// <summary>True when the untrusted header failed only for lack of trusted signers: bisection pivots instead of failing.</summary>
    public static bool NeedsPivot(VerifyFailure failure) => failure.Field == Commit.NotEnoughTrustedPowerField;

    /// <summary>
    /// The checks shared by both paths, in order: the trusted header is within the trusting period at
    /// <paramref name="nowMs"/>; the untrusted header is for the same chain, higher, strictly later, not beyond
    /// now + max clock drift; and the served set is the one the header names.
    /// </summary>
    public static VerifyFailure? VerifyNewBlock(LightBlock trusted, LightBlock untrusted, TrustOptions options, ulong nowMs)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (t, u) = (trusted.Header, untrusted.Header);
        if (Expired(t, options, nowMs) is { } expired) return expired;
        if (u.ChainId != t.ChainId)
            return Header($"header {u.Height} is for chain {u.ChainId}, the trusted header for {t.ChainId}", "chainId", t.ChainId.ToString(), u.ChainId.ToString());
        if (u.Height.Value <= t.Height.Value)
            return Header($"header {u.Height} is not above trusted height {t.Height}", "height", $"> {t.Height}", u.Height.ToString());
        if (u.TimeMs <= t.TimeMs)
            return new(VerifyFailureKind.BadTime, $"header {u.Height} time {u.TimeMs} is not after trusted header {t.Height}'s {t.TimeMs}", Field: "timeMs",
                Expected: $"> {t.TimeMs}", Actual: u.TimeMs.ToString(CultureInfo.InvariantCulture));
        ulong horizon = nowMs + (ulong)options.MaxClockDrift.TotalMilliseconds;
        if (u.TimeMs >= horizon)
            return new(VerifyFailureKind.BadTime, $"header {u.Height} time {u.TimeMs} is in the future (now {nowMs}, max drift {options.MaxClockDrift.TotalSeconds:F0} s)",
                Field: "timeMs", Expected: $"< {horizon}", Actual: u.TimeMs.ToString(CultureInfo.InvariantCulture));
        if (untrusted.Validators.Hash != u.ValidatorsHash)
            return new(VerifyFailureKind.WrongValidators, $"the served validator set for {u.Height} hashes to {untrusted.Validators.Hash}, the header names {u.ValidatorsHash}",
                Field: "validators", Expected: u.ValidatorsHash.ToString(), Actual: untrusted.Validators.Hash.ToString());
        return null;
    }

    /// <summary>A failure when <paramref name="trusted"/>'s time plus the trusting period is not after <paramref name="nowMs"/>.</summary>
    public static VerifyFailure? Expired(BlockHeader trusted, TrustOptions options, ulong nowMs)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        ulong until = trusted.TimeMs + (ulong)options.TrustingPeriod.TotalMilliseconds;
        return until > nowMs ? null
            : new(VerifyFailureKind.BadTime, $"trusted header {trusted.Height} (time {trusted.TimeMs}) expired at {until}, now is {nowMs}: re-initialise from a fresh trusted hash",
                Field: "trusted.timeMs", Expected: $"> now - trusting period = {(long)nowMs - (long)options.TrustingPeriod.TotalMilliseconds}", Actual: trusted.TimeMs.ToString(CultureInfo.InvariantCulture));
    }
}
