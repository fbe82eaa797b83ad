namespace Chain.Consensus.Simulation;

/// <summary>The fault classes the simulator can inject.</summary>
[Flags]
public enum Faults
{
    None = 0,
    /// <summary>Messages are lost before the network stabilises.</summary>
    Drop = 1,
    /// <summary>Long random delays (so reordering) before stabilisation.</summary>
    Delay = 2,
    /// <summary>Messages are delivered twice.</summary>
    Duplicate = 4,
    /// <summary>The validators are split in two groups that cannot talk, then healed.</summary>
    Partition = 8,
    /// <summary>Honest validators lose power (unsynced disk writes lost, torn tails) and restart.</summary>
    Crash = 16,
    /// <summary>Byzantine validators sign conflicting votes and proposals and send each to part of the network.</summary>
    Equivocate = 32,
    /// <summary>Byzantine proposers put wrong inference outputs in their blocks.</summary>
    BadInference = 64,
    /// <summary>Byzantine validators send random and mutated bytes.</summary>
    Garbage = 128,
    All = 255,
}

public static class FaultNames
{
    private static readonly (string Name, Faults Flag)[] Names =
    [
        ("drop", Faults.Drop), ("delay", Faults.Delay), ("duplicate", Faults.Duplicate), ("partition", Faults.Partition),
        ("crash", Faults.Crash), ("equivocate", Faults.Equivocate), ("badinference", Faults.BadInference), ("garbage", Faults.Garbage),
    ];

    public static IEnumerable<string> All => Names.Select(n => n.Name);

    /// <summary>"all", "none", or a comma-separated list of fault names.</summary>
    public static Faults Parse(string text)
    {
        text = text.Trim().ToLowerInvariant();
        if (text == "all") return Faults.All;
        if (text is "none" or "") return Faults.None;
        var result = Faults.None;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = Names.FirstOrDefault(n => n.Name == part);
            if (match.Name is null) throw new FormatException($"unknown fault '{part}' (use all, none, or a list of: {string.Join(", ", All)})");
            result |= match.Flag;
        }
        return result;
    }

    public static string Format(Faults faults) =>
        faults == Faults.All ? "all" : faults == Faults.None ? "none" : string.Join(",", Names.Where(n => faults.HasFlag(n.Flag)).Select(n => n.Name));
}

public sealed record SimOptions
{
    public int Validators { get; init; } = 4;
    public int Heights { get; init; } = 5;
    public Faults Faults { get; init; } = Faults.All;
    /// <summary>Random voting powers 1..4 (else all 1).</summary>
    public bool WeightedPower { get; init; } = true;
    public TimeoutConfig Timeouts { get; init; } = new(1000, 500, 500, 250, 500, 250);
    /// <summary>Longest message delay before stabilisation (with the delay fault).</summary>
    public ulong MaxAsyncDelayMs { get; init; } = 3000;
    /// <summary>Bound on message delay after stabilisation (Δ of partial synchrony).</summary>
    public ulong SyncDelayMs { get; init; } = 200;
    public ulong GossipIntervalMs { get; init; } = 1000;
    /// <summary>Global stabilisation time is drawn from this range when any fault is on (0 otherwise).</summary>
    public ulong MinGstMs { get; init; } = 5_000;
    public ulong MaxGstMs { get; init; } = 30_000;
    /// <summary>Crash this validator right after its disk's n-th write (n counts from 1), once; for crash-point tests.</summary>
    public (int Node, long Write)? CrashAtWrite { get; init; }
    public long MaxEvents { get; init; } = 3_000_000;
    /// <summary>
    /// Force this many byzantine validators (the first ones), ignoring the one-third bound. Only for showing
    /// that the invariant checks catch what happens beyond the fault model.
    /// </summary>
    public int? ForceByzantine { get; init; }

    /// <summary>
    /// Validator turnover (0: one set for all heights). Every this many heights the set slides by one node: height 1's
    /// set is nodes 0..N/2−1, then 1..N/2, … until N/2..N−1 (a complete turnover after N/2 steps), with powers that
    /// change at each step. The other nodes run as full nodes (they follow decisions and must never sign).
    /// </summary>
    public int TurnoverEvery { get; init; }

    public string ReplayCommand(ulong seed) => ForceByzantine is not null ? $"(test-only option ForceByzantine={ForceByzantine}) seed {seed}" :
        $"chain simulate --validators {Validators} --heights {Heights} --faults {FaultNames.Format(Faults)}" +
        (TurnoverEvery > 0 ? $" --turnover-every {TurnoverEvery}" : "") + $" --seed {seed}";
}

/// <summary>The outcome of one seed.</summary>
public sealed record SimResult
{
    public required ulong Seed { get; init; }
    public required IReadOnlyList<string> Violations { get; init; }
    /// <summary>The lowest committed height over honest validators.</summary>
    public required int HeightsCommitted { get; init; }
    /// <summary>Per height, the round it was decided in + 1 (first honest commit).</summary>
    public required IReadOnlyList<int> RoundsPerHeight { get; init; }
    public required long Messages { get; init; }
    public required ulong VirtualTimeMs { get; init; }
    public required ulong GstMs { get; init; }
    public required long Events { get; init; }
    public required ulong TraceHash { get; init; }
    public int Byzantine { get; init; }
    public int Crashes { get; init; }
    public int WalTailsTruncated { get; init; }
    public long GarbageRefused { get; init; }
    public long Rejected { get; init; }
    public int EvidenceRecorded { get; init; }
    /// <summary>Evidence items in decided blocks (each checked to name a byzantine validator).</summary>
    public int EvidenceIncluded { get; init; }
    public long SigningRefusals { get; init; }
    /// <summary>Per decided height (from 1), the nodes whose precommits the first honest commit carries.</summary>
    public IReadOnlyList<IReadOnlyList<int>> CommitSigners { get; init; } = [];
    /// <summary>Per height (from 1), the nodes in that height's validator set.</summary>
    public IReadOnlyList<IReadOnlyList<int>> SetMembers { get; init; } = [];
    /// <summary>Votes and proposals signed by a node outside the set of their height (an invariant: always 0).</summary>
    public long SignedOutsideSet { get; init; }
    /// <summary>Virtual time from stabilisation to the last honest commit of the target height.</summary>
    public ulong TimeAfterGstMs { get; init; }
    public bool Ok => Violations.Count == 0;
}
