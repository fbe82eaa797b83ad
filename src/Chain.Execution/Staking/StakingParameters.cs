using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Execution;

/// <summary>
/// Staking rules fixed by genesis (docs/staking.md, "Parameters"); part of the genesis hash. A genesis file without a
/// "staking" object gets <see cref="Default"/>. Heights count blocks; fractions are parts per million.
/// </summary>
public sealed record StakingParameters
{
    public const ulong PartsPerMillion = 1_000_000;

    public static StakingParameters Default { get; } = new();

    /// <summary>Tokens per unit of voting power: power = tokens / PowerReduction (at least 16, so total power stays under 2^60).</summary>
    public ulong PowerReduction { get; init; } = 1_000_000;

    /// <summary>How many validators (the most powerful non-jailed candidates) a set may hold.</summary>
    public int MaxValidators { get; init; } = 100;

    /// <summary>Heights between an Unbond and the payout; the window in which unbonding stake can still be slashed.</summary>
    public ulong UnbondingPeriod { get; init; } = 1_000;

    public ulong SlashDuplicateVotePpm { get; init; } = 50_000;
    public ulong SlashInvalidProposalPpm { get; init; } = 10_000;
    public ulong SlashLightClientAttackPpm { get; init; } = 50_000;

    /// <summary>Downtime: a validator that missed more than <see cref="MaxMissed"/> of its last <see cref="DowntimeWindow"/> commits is jailed (no slash).</summary>
    public ulong DowntimeWindow { get; init; } = 100;
    public ulong MaxMissed { get; init; } = 50;

    /// <summary>Heights a validator jailed for downtime must wait before an Unjail is accepted.</summary>
    public ulong DowntimeJailHeights { get; init; } = 100;

    /// <summary>Heights a validator jailed for an invalid proposal must wait (double signing tombstones: no unjail ever).</summary>
    public ulong EvidenceJailHeights { get; init; } = 1_000;

    /// <summary>Evidence older than this (offence height to including height) is refused; at most <see cref="UnbondingPeriod"/>.</summary>
    public ulong EvidenceMaxAge { get; init; } = 1_000;

    /// <summary>The slash fraction of an evidence kind (EvidenceCheck.Kind), in parts per million.</summary>
    public ulong SlashFraction(string kind) => kind switch
    {
        "duplicate-vote" => SlashDuplicateVotePpm,
        "invalid-proposal" => SlashInvalidProposalPpm,
        "light-client-attack" => SlashLightClientAttackPpm,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), $"unknown evidence kind '{kind}'"),
    };

    /// <summary>Double signing (duplicate votes, light-client attacks) tombstones: the validator can never unjail.</summary>
    public static bool Tombstones(string kind) => kind is "duplicate-vote" or "light-client-attack";

    /// <summary>Checks ranges; returns the first problem or null.</summary>
    public string? Validate()
    {
        if (PowerReduction < 16) return "power_reduction must be at least 16 (total voting power stays under 2^60)";
        if (MaxValidators < 1 || MaxValidators > ProtocolLimits.MaxValidators) return $"max_validators must be in [1, {ProtocolLimits.MaxValidators}]";
        if (UnbondingPeriod == 0) return "unbonding_period must be at least 1";
        foreach (var (name, value) in new[] { ("slash_duplicate_vote_ppm", SlashDuplicateVotePpm), ("slash_invalid_proposal_ppm", SlashInvalidProposalPpm),
                     ("slash_light_client_attack_ppm", SlashLightClientAttackPpm) })
            if (value > PartsPerMillion) return $"{name} must be at most {PartsPerMillion}";
        if (DowntimeWindow == 0 || DowntimeWindow > ProtocolLimits.MaxDowntimeWindow) return $"downtime_window must be in [1, {ProtocolLimits.MaxDowntimeWindow}]";
        if (MaxMissed >= DowntimeWindow) return "max_missed must be below downtime_window";
        if (EvidenceMaxAge == 0 || EvidenceMaxAge > UnbondingPeriod) return "evidence_max_age must be in [1, unbonding_period] (stake that can be slashed must still be bonded or unbonding)";
        if (EvidenceMaxAge > ProtocolLimits.MaxEvidenceAgeHeights) return $"evidence_max_age must be at most {ProtocolLimits.MaxEvidenceAgeHeights} (the consensus evidence window)";
        return null;
    }

    /// <summary>The genesis-hash encoding: the fields in declaration order.</summary>
    internal void WriteTo(ref MessagePackWriter w)
    {
        w.WriteArrayHeader(12);
        w.Write(PowerReduction); w.Write((ulong)MaxValidators); w.Write(UnbondingPeriod);
        w.Write(SlashDuplicateVotePpm); w.Write(SlashInvalidProposalPpm); w.Write(SlashLightClientAttackPpm);
        w.Write(DowntimeWindow); w.Write(MaxMissed); w.Write(DowntimeJailHeights); w.Write(EvidenceJailHeights); w.Write(EvidenceMaxAge);
        w.Write(1UL); // version of the staking rules
    }
}
