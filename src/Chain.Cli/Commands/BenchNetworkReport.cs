namespace Chain.Cli.Commands;

/// <summary>What the transactions of a `chain bench network` run are: all transfers, all Infer, or 3 Infer : 1 transfer.</summary>
internal enum BenchMix
{
    Transfers,
    Infer,
    Mixed,
}

/// <summary>
/// What bounds the network from below, measured in the same run before any node starts: the disk, the loopback,
/// Ed25519 on one and on all cores, one raw canonical inference of the genesis MLP, and one block's re-execution.
/// </summary>
internal sealed record BenchFloor(
    int Cores, double FsyncP50Ms, double LoopbackRttP50Ms, double VerifyPerSecondOneCore, double VerifyPerSecondAllCores,
    double InferenceP50Ms, double TransferBlockMs, double InferBlockColdMs, double InferBlockWarmMs)
{
    /// <summary>One Ed25519 verification on one core, in milliseconds.</summary>
    public double VerifyMs => 1000 / VerifyPerSecondOneCore;
}

/// <summary>
/// One load applied to a running network: "light" (one transaction at a time, each waited for), "burst" (all at once,
/// as fast as the nodes admit them), or "rate R" (open loop: transaction i is due at i / R s; finality counts from then).
/// <see cref="SubmittedTxPerSecond"/> is what the client managed (transactions ÷ time to submit them all): below the
/// offered rate, the client or admission fell behind.
/// </summary>
internal sealed record LoadPhase(
    string Name, double OfferedTxPerSecond, double SubmittedTxPerSecond, int Transactions, int Committed, double Seconds, double TxPerSecond,
    double FinalityP50Ms, double FinalityP95Ms, double FinalityMaxMs, int StaleNonceRetries)
{
    /// <summary>The traced stages of the heights committed during this phase alone (every node's metrics before and after it).</summary>
    public IReadOnlyList<StageFigure> Stages { get; init; } = [];

    /// <summary>P2P bytes all nodes sent during this phase per transaction it committed.</summary>
    public double P2pBytesPerCommittedTx { get; init; } = double.NaN;
}

/// <summary>One traced stage: its mean milliseconds per height over every node, and how many node-heights it covers.</summary>
internal sealed record StageFigure(string Stage, double MeanMs, long Heights);

/// <summary>
/// One of issue 14's goals: <see cref="Measured"/> against <see cref="Bound"/> (a floor for throughput, a ceiling
/// for finality and bytes). <see cref="Ratio"/> is measured ÷ bound; NaN when the goal does not apply to this run.
/// </summary>
internal sealed record GoalRatio(string Goal, string Formula, double Measured, double Bound, bool AtLeast)
{
    public double Ratio => Measured / Bound;

    public bool Applies => double.IsFinite(Measured) && double.IsFinite(Bound) && Bound > 0;

    public bool Pass => Applies && (AtLeast ? Measured >= Bound : Measured <= Bound);

    public string Verdict => !Applies ? "n/a" : Pass ? "PASS" : "MISS";
}

/// <summary>
/// One network of <see cref="Validators"/> processes under every load phase of the run, and what it cost.
/// <see cref="Stages"/> and the bytes count the measured phases only (from the end of the warm-up to the end of the last phase).
/// </summary>
internal sealed record NetworkRun(
    int Validators, IReadOnlyList<LoadPhase> Phases, ulong Heights, int MaxRound, IReadOnlyList<StageFigure> Stages,
    double P2pBytesPerCommittedTx, double MeanTransactionBytes)
{
    public IReadOnlyList<GoalRatio> Goals { get; init; } = [];

    /// <summary>Where <see cref="P2pBytesPerCommittedTx"/> goes: the same ratio per P2P channel (chain_p2p_channel_bytes_sent_total).</summary>
    public IReadOnlyDictionary<string, double> P2pBytesPerCommittedTxByChannel { get; init; } = new Dictionary<string, double>();

    public LoadPhase? Light => Phases.FirstOrDefault(p => p.Name == BenchNetworkGoals.LightPhase);

    /// <summary>The heaviest load phase: the burst, or the highest open-loop rate.</summary>
    public LoadPhase? Saturation => Phases.Where(p => p.Name != BenchNetworkGoals.LightPhase).MaxBy(p => p.OfferedTxPerSecond);

    public bool AllCommitted => Phases.All(p => p.Committed == p.Transactions);
}

internal sealed record BenchNetworkReport(
    string Mix, IReadOnlyList<double> Rates, int TransactionsPerPhase, ulong MinBlockIntervalMs, string Machine,
    BenchFloor Floor, IReadOnlyList<NetworkRun> Runs)
{
    public bool AllCommitted => Runs.All(r => r.AllCommitted);

    /// <summary>At most this many transactions per POST /txs/batch (1: one POST /txs each), burst and open loop alike.</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Transactions burst through each network before its measured phases (not measured).</summary>
    public int Warmup { get; init; }
}

/// <summary>Issue 14's goals, as the issue states them, computed from one run's figures and floor.</summary>
internal static class BenchNetworkGoals
{
    public const string LightPhase = "light";

    public static IReadOnlyList<GoalRatio> For(BenchMix mix, NetworkRun run, BenchFloor floor)
    {
        int v = run.Validators;
        double tps = run.Saturation?.TxPerSecond ?? double.NaN;
        var goals = new List<GoalRatio>
        {
            new("transfers tx/s", "≥ 0.5 × (Ed25519 verifies/s on all cores ÷ validators)",
                mix == BenchMix.Transfers ? tps : double.NaN, 0.5 * floor.VerifyPerSecondAllCores / v, AtLeast: true),
            new("infer tx/s", "≥ 0.5 × (cores ÷ validators) ÷ (one verify + one raw inference)",
                mix == BenchMix.Infer ? tps : double.NaN, 0.5 * ((double)floor.Cores / v) / ((floor.VerifyMs + floor.InferenceP50Ms) / 1000), AtLeast: true),
            new("finality p50 at light load, ms", "≤ 10 × (3 RTT + 2 fsync + one block's execution)",
                run.Light?.FinalityP50Ms ?? double.NaN, 10 * (3 * floor.LoopbackRttP50Ms + 2 * floor.FsyncP50Ms + BlockExecutionMs(mix, floor)), AtLeast: false),
            new("finality p95 at saturation, ms", "≤ 1 s",
                run.Saturation?.FinalityP95Ms ?? double.NaN, 1000, AtLeast: false),
            new("p2p bytes per committed tx", "≤ 1.5 × (validators − 1) × tx size",
                run.P2pBytesPerCommittedTx, v < 2 ? double.NaN : 1.5 * (v - 1) * run.MeanTransactionBytes, AtLeast: false),
        };
        return goals;
    }

    /// <summary>
    /// One light-load block's execution: the light phase commits one transaction per block, so a one-transaction
    /// block of the mix's heavier kind (a transfer only when every transaction is one). An Infer block as a live
    /// validator runs it: re-executed on a warm executor whose mempool admitted the transaction (signature and
    /// inference cached), plus the one raw inference that pre-execution did — not the cold executor's model load.
    /// </summary>
    public static double BlockExecutionMs(BenchMix mix, BenchFloor floor) =>
        mix == BenchMix.Transfers ? floor.TransferBlockMs : floor.InferBlockWarmMs + floor.InferenceP50Ms;
}
