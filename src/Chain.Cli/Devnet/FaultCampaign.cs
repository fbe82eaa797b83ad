using System.Diagnostics;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Node;
using Chain.Node.Host;

namespace Chain.Cli.Devnet;

/// <summary>What a campaign runs: which faults, how many times, how long, from which seed.</summary>
internal sealed record FaultCampaignOptions(int Seed, int CrashCycles, int CommitKills, TimeSpan Duration, IReadOnlySet<string> Faults)
{
    public const string CrashLoop = "crash-loop", CommitKill = "commit-kill", DiskFull = "disk-full", ClockSkew = "clock-skew", Freeze = "sigstop";
    public static readonly IReadOnlyList<string> All = [CrashLoop, CommitKill, DiskFull, ClockSkew, Freeze];

    /// <summary>How far ahead the skewed validator's clock runs.</summary>
    public static readonly TimeSpan SkewOffset = TimeSpan.FromHours(1);

    /// <summary>Free bytes left on the tmpfs once the filler is written: the node fills them with its own writes.</summary>
    public long DiskHeadroomBytes { get; init; } = 256 << 10;
}

/// <summary>The figures of one fault; fields that do not apply to it are null.</summary>
internal sealed record FaultFigures(string Fault)
{
    public bool Ran { get; set; }
    public string? Skipped { get; set; }
    /// <summary>Fault injections made (kills, freezes, fills, skewed runs).</summary>
    public int Injections { get; set; }
    /// <summary>Injections after which the victim came back and caught up with the others.</summary>
    public int Recovered { get; set; }
    public double? CatchUpP50Ms { get; set; }
    public double? CatchUpP95Ms { get; set; }
    public double? CatchUpMaxMs { get; set; }
    /// <summary>Heights the victim had committed before the fault but not after its restart (must be 0).</summary>
    public ulong? HeightsLost { get; set; }
    /// <summary>Heights the other validators committed while the victim was down, frozen, full or skewed.</summary>
    public ulong? OthersCommitted { get; set; }
    public int? ExitCode { get; set; }
    public bool? CauseLogged { get; set; }
    public double? FillSeconds { get; set; }
    public double? MaxBlockTimeSkewMs { get; set; }
    /// <summary>The furthest a commit signature's timestamp ran ahead of the wall clock: proof that the skew was injected.</summary>
    public double? MaxVoteAheadMs { get; set; }
    public List<string> Notes { get; } = [];
}

/// <summary>The campaign's report: each fault's figures and the chain-wide invariants checked at the end.</summary>
internal sealed record FaultCampaignReport(int Seed, IReadOnlyList<FaultFigures> Faults)
{
    public double Seconds { get; set; }
    public ulong Heights { get; set; }
    public long TxSubmitted { get; set; }
    public int TxAnsweredCommitted { get; set; }
    public int TxAnsweredCommittedInChain { get; set; }
    public int TxLost { get; set; }
    public int Forks { get; set; }
    public int DoubleSigns { get; set; }
    public int EvidenceLogged { get; set; }
    public List<string> Violations { get; } = [];
    public bool Passed => Violations.Count == 0;
}

/// <summary>
/// `chain bench faults`: a 4-validator <see cref="LocalNetwork"/> under <see cref="FaultLoad"/>, and a seeded schedule of
/// faults (crash loops, kills right after a commit, a full disk, a skewed clock, SIGSTOP), each measured; at the end every
/// node must hold the same chain with every transaction any node answered "committed", and no duplicate-vote evidence.
/// </summary>
internal sealed class FaultCampaign(LocalNetwork network, FaultCampaignOptions options, IReadOnlyList<(Hash32 Model, byte[] Input)> digits, Action<string> log)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    private readonly Random _random = new(options.Seed);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    // The load does not submit to the node being faulted (submissions to it would only fail); commit-kill names its
    // victim only once killed, so that answers given just before the kill are among those checked.
    private volatile int _victim = -1;

    private int Count => network.Nodes.Count;

    public async Task<FaultCampaignReport> RunAsync()
    {
        var report = new FaultCampaignReport(options.Seed, [.. FaultCampaignOptions.All.Select(f => new FaultFigures(f))]);
        await using var load = new FaultLoad(network, digits, signers: 4, options.Seed, () => Enumerable.Range(0, Count).Where(i => i != _victim && network.IsRunning(i)).ToArray());
        await Require("every node at height 2 under load", async () =>
        {
            // A node that could not start (a port taken, a bad home) fails the campaign now, with where to look.
            if (Enumerable.Range(0, Count).FirstOrDefault(i => !network.IsRunning(i), -1) is var dead and >= 0)
                throw new CliException($"node {dead} exited before the campaign began (its log: {network.LogPath(dead)})");
            return await AllAtLeastAsync(2);
        });
        foreach (var figures in report.Faults)
        {
            if (!options.Faults.Contains(figures.Fault))
            {
                figures.Skipped = "not selected";
                continue;
            }
            log($"== {figures.Fault}");
            figures.Ran = true;
            switch (figures.Fault)
            {
                case FaultCampaignOptions.CrashLoop: await CrashLoopAsync(figures); break;
                case FaultCampaignOptions.CommitKill: await CommitKillsAsync(figures); break;
                case FaultCampaignOptions.DiskFull: await DiskFullAsync(figures); break;
                case FaultCampaignOptions.ClockSkew: await ClockSkewAsync(figures); break;
                case FaultCampaignOptions.Freeze: await FreezeAsync(figures); break;
            }
            _victim = -1;
            Check(report, figures);
        }
        await load.StopAsync();
        report.TxSubmitted = load.Submitted;
        await CheckChainsAsync(report, load);
        report.Seconds = _clock.Elapsed.TotalSeconds;
        return report;
    }

    // ---- the faults ----

    /// <summary>SIGKILL a random validator, leave it down a moment, restart it, wait until it has caught up; a few seconds later the next.</summary>
    private async Task CrashLoopAsync(FaultFigures f)
    {
        var catchUps = new List<double>();
        ulong lost = 0;
        for (int cycle = 0; cycle < options.CrashCycles; cycle++)
        {
            int victim = _victim = _random.Next(Count);
            ulong before = await network.HeightAsync(victim) ?? 0;
            network.Kill(victim);
            f.Injections++;
            await Task.Delay(_random.Next(500, 2000)); // the schedule's down time, from the seed
            var (caughtUp, ms, lostNow) = await RestartAndCatchUpAsync(victim, before);
            lost += lostNow;
            if (caughtUp) { f.Recovered++; catchUps.Add(ms); }
            log($"cycle {cycle + 1}: node {victim} killed at height {before}, {(caughtUp ? $"caught up {ms:F0} ms after restart" : "did NOT catch up")}");
            _victim = -1;
            await Task.Delay(_random.Next(1000, 3000)); // every few seconds
        }
        f.HeightsLost = lost;
        SetCatchUps(f, catchUps);
    }

    /// <summary>Poll a validator's /status until it serves a new height, SIGKILL it that moment, restart it.</summary>
    private async Task CommitKillsAsync(FaultFigures f)
    {
        var catchUps = new List<double>();
        ulong lost = 0;
        for (int k = 0; k < options.CommitKills; k++)
        {
            int victim = _random.Next(Count);
            ulong start = await network.HeightAsync(victim) ?? 0, seen = start;
            var wait = Stopwatch.StartNew();
            while (seen <= start && wait.Elapsed < Deadline)
            {
                await Task.Delay(10); // polling period: well under the RPC's per-client request rate
                seen = await network.HeightAsync(victim) ?? seen;
            }
            network.Kill(victim);
            _victim = victim;
            f.Injections++;
            var (caughtUp, ms, lostNow) = await RestartAndCatchUpAsync(victim, seen);
            lost += lostNow;
            if (caughtUp) { f.Recovered++; catchUps.Add(ms); }
            log($"kill {k + 1}: node {victim} killed as it served height {seen}, {(caughtUp ? $"caught up {ms:F0} ms after restart" : "did NOT catch up")}");
            _victim = -1;
        }
        f.HeightsLost = lost;
        SetCatchUps(f, catchUps);
    }

    /// <summary>
    /// Move a validator's data onto a small tmpfs, fill it but for a little headroom, and let the node's own writes use
    /// that up: it must stop with exit code 3 and log the cause while the others go on; then free the space, restart,
    /// catch up, and move the data back to the disk.
    /// </summary>
    private async Task DiskFullAsync(FaultFigures f)
    {
        int victim = _victim = _random.Next(Count);
        var disk = new TmpfsData(network.Nodes[victim].Home.DataDirectory);
        await network.StopAsync(victim, TimeSpan.FromSeconds(30));
        if (disk.Mount() is { } why)
        {
            f.Skipped = $"mount -t tmpfs is not permitted here ({why}); the disk-full fault was not run";
            log(f.Skipped);
            network.Start(victim);
            await Require($"node {victim} back after the skipped disk-full fault", () => CaughtUpAsync(victim));
            return;
        }
        try
        {
            network.Start(victim);
            await Require($"node {victim} on tmpfs to catch up", () => CaughtUpAsync(victim));
            long logBefore = new FileInfo(network.LogPath(victim)).Length;
            disk.Fill(options.DiskHeadroomBytes);
            f.Injections++;
            ulong others = await MaxHeightAsync(except: victim);
            log($"node {victim}: {disk.Describe()}, waiting for its writes to fill it");
            var fill = Stopwatch.StartNew();
            bool stopped = await LocalNetwork.WaitUntilAsync(() => Task.FromResult(!network.IsRunning(victim)), Deadline);
            f.FillSeconds = fill.Elapsed.TotalSeconds;
            if (!stopped)
            {
                f.Notes.Add($"node {victim} was still running {Deadline.TotalSeconds:F0} s after its disk was filled");
                network.Kill(victim);
            }
            f.ExitCode = await network.StopAsync(victim, TimeSpan.Zero);
            string tail = ReadFrom(network.LogPath(victim), logBefore);
            f.CauseLogged = tail.Contains("exiting with code 3", StringComparison.Ordinal);
            var cause = tail.Split('\n').FirstOrDefault(l => l.Contains("fatal:", StringComparison.Ordinal));
            if (cause is not null) f.Notes.Add(cause.Length > 300 ? cause[..300] + "..." : cause);
            // The others go on without it.
            bool advanced = await LocalNetwork.WaitUntilAsync(async () => await MaxHeightAsync(except: victim) >= others + 3, Deadline);
            f.OthersCommitted = await MaxHeightAsync(except: victim) - others;
            if (!advanced) f.Notes.Add("the other validators did not commit 3 heights while the node was stopped");

            disk.Free();
            var (caughtUp, ms, _) = await RestartAndCatchUpAsync(victim, 0);
            if (caughtUp) { f.Recovered++; SetCatchUps(f, [ms]); }
            log($"node {victim}: exit {f.ExitCode?.ToString() ?? "none"} after {f.FillSeconds:F1} s, cause logged: {f.CauseLogged}; after freeing space {(caughtUp ? $"caught up in {ms:F0} ms" : "did NOT catch up")}");
        }
        finally
        {
            await network.StopAsync(victim, TimeSpan.FromSeconds(30));
            disk.Restore();
        }
        network.Start(victim);
        await Require($"node {victim} back on its disk to catch up", () => CaughtUpAsync(victim));
    }

    /// <summary>Restart a validator with its clock an hour ahead; watch block time on an honest node against the wall clock.</summary>
    private async Task ClockSkewAsync(FaultFigures f)
    {
        int victim = _victim = _random.Next(Count);
        int observer = (victim + 1) % Count;
        await network.StopAsync(victim, TimeSpan.FromSeconds(30));
        network.Start(victim, "--clock-offset-ms", ((long)FaultCampaignOptions.SkewOffset.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        f.Injections++;
        // Its votes can be in commits only once it is back in the rounds. Restarting and catching up took 10-13 s
        // on a loaded machine (two `make test` runs under stress-ng at once), longer than a short campaign's 6 s window,
        // which then saw no skewed vote at all and reported the skew as not injected. The window starts here.
        if (!await LocalNetwork.WaitUntilAsync(() => CaughtUpAsync(victim), Deadline))
            f.Notes.Add($"the skewed node {victim} did not catch up after its restart within {Deadline.TotalSeconds:F0} s");
        ulong first = await network.HeightAsync(observer) ?? 0, last = first;
        double maxSkew = 0, voteAhead = double.MinValue;
        int unanswered = 0;
        string? lastError = null;
        var run = Stopwatch.StartNew();
        while (run.Elapsed < options.Duration)
        {
            try
            {
                var status = await network.Clients[observer].StatusAsync();
                double now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                if (status.Height > last && status.LatestBlockTimeMs is { } t)
                {
                    last = status.Height;
                    maxSkew = Math.Max(maxSkew, Math.Abs(t - now));
                    var (commit, _) = await network.Clients[observer].CommitAsync(status.Height);
                    voteAhead = Math.Max(voteAhead, commit.Signatures.Max(v => (double)v.TimestampMs) - now);
                }
            }
            catch (Exception e) when (e is Rpc.RpcClientException or HttpRequestException or TaskCanceledException)
            {
                unanswered++;
                lastError = e.Message;
            }
            await Task.Delay(50); // sampling period
        }
        if (unanswered > 0) f.Notes.Add($"observer node {observer}: {unanswered} status or commit reads failed, the last: {lastError}");
        f.MaxBlockTimeSkewMs = maxSkew;
        f.MaxVoteAheadMs = voteAhead == double.MinValue ? null : voteAhead;
        f.OthersCommitted = last - first;
        bool skewedCommits = await LocalNetwork.WaitUntilAsync(() => CaughtUpAsync(victim), Deadline);
        if (skewedCommits) f.Recovered++;
        else f.Notes.Add($"the skewed node {victim} did not keep up with the chain");
        log($"node {victim} 1 h ahead for {options.Duration.TotalSeconds:F0} s: {f.OthersCommitted} heights, max |block time - wall clock| {maxSkew:F0} ms, votes up to {f.MaxVoteAheadMs:F0} ms ahead");
        await network.StopAsync(victim, TimeSpan.FromSeconds(30));
        network.Start(victim);
        await Require($"node {victim} back on the right clock", () => CaughtUpAsync(victim));
    }

    /// <summary>SIGSTOP a validator for the duration, SIGCONT it, wait until it has caught up.</summary>
    private async Task FreezeAsync(FaultFigures f)
    {
        int victim = _victim = _random.Next(Count);
        ulong before = await MaxHeightAsync(except: victim);
        network.Pause(victim);
        f.Injections++;
        try
        {
            await Task.Delay(options.Duration); // the fault's length
            f.OthersCommitted = await MaxHeightAsync(except: victim) - before;
        }
        finally
        {
            network.Resume(victim);
        }
        var resumed = Stopwatch.StartNew();
        bool caughtUp = await LocalNetwork.WaitUntilAsync(() => CaughtUpAsync(victim), Deadline, TimeSpan.FromMilliseconds(50));
        double ms = resumed.Elapsed.TotalMilliseconds;
        if (caughtUp) { f.Recovered++; SetCatchUps(f, [ms]); }
        log($"node {victim} frozen {options.Duration.TotalSeconds:F0} s: the others committed {f.OthersCommitted} heights; {(caughtUp ? $"caught up {ms:F0} ms after SIGCONT" : "did NOT catch up")}");
    }

    // ---- measuring and checking ----

    /// <summary>Starts the node again; (caught up, ms from start to caught up, heights below <paramref name="before"/> it no longer had).</summary>
    private async Task<(bool CaughtUp, double Ms, ulong Lost)> RestartAndCatchUpAsync(int victim, ulong before)
    {
        network.Start(victim);
        var started = Stopwatch.StartNew();
        ulong? first = null;
        bool caughtUp = await LocalNetwork.WaitUntilAsync(async () =>
        {
            var h = await network.HeightAsync(victim);
            first ??= h;
            return h is not null && await CaughtUpAsync(victim);
        }, Deadline, TimeSpan.FromMilliseconds(50));
        return (caughtUp, started.Elapsed.TotalMilliseconds, first is { } f && f < before ? before - f : 0);
    }

    /// <summary>The node has reached the highest height the others had when asked.</summary>
    private async Task<bool> CaughtUpAsync(int node)
    {
        ulong target = await MaxHeightAsync(except: node);
        return await network.HeightAsync(node) is { } h && h >= target;
    }

    private async Task<ulong> MaxHeightAsync(int except) =>
        (await Task.WhenAll(Enumerable.Range(0, Count).Where(i => i != except).Select(i => network.HeightAsync(i)))).Max(h => h ?? 0);

    private async Task<bool> AllAtLeastAsync(ulong height) =>
        (await Task.WhenAll(Enumerable.Range(0, Count).Select(i => network.HeightAsync(i)))).All(h => h >= height);

    private static async Task Require(string what, Func<Task<bool>> condition)
    {
        if (!await LocalNetwork.WaitUntilAsync(condition, Deadline, TimeSpan.FromMilliseconds(100)))
            throw new CliException($"timed out after {Deadline.TotalSeconds:F0} s waiting for {what}");
    }

    private static void SetCatchUps(FaultFigures f, List<double> ms)
    {
        if (ms.Count == 0) return;
        var sorted = ms.Order().ToArray();
        f.CatchUpP50Ms = Percentile(sorted, 0.50);
        f.CatchUpP95Ms = Percentile(sorted, 0.95);
        f.CatchUpMaxMs = sorted[^1];
    }

    internal static double Percentile(double[] sorted, double q) => sorted[(int)Math.Round(q * (sorted.Length - 1))];

    /// <summary>The invariants of one fault, as violations in the report.</summary>
    private static void Check(FaultCampaignReport report, FaultFigures f)
    {
        if (f.Skipped is not null) return;
        void Violated(string what) => report.Violations.Add($"{f.Fault}: {what}");
        if (f.Recovered < f.Injections) Violated($"{f.Injections - f.Recovered} of {f.Injections} injections not recovered from");
        if (f.HeightsLost is > 0) Violated($"{f.HeightsLost} committed heights lost by restarted nodes");
        if (f.OthersCommitted is 0) Violated("the other validators committed nothing meanwhile");
        if (f.Fault == FaultCampaignOptions.DiskFull)
        {
            if (f.ExitCode != NodeExitCodes.StorageFailed) Violated($"the full node exited with {f.ExitCode?.ToString() ?? "nothing"}, not {NodeExitCodes.StorageFailed} (storage)");
            if (f.CauseLogged != true) Violated("the full node did not log its fatal cause");
        }
        // Half the offset: a commit seen late still shows most of an hour's lead.
        if (f.Fault == FaultCampaignOptions.ClockSkew && !(f.MaxVoteAheadMs > FaultCampaignOptions.SkewOffset.TotalMilliseconds / 2))
            Violated($"no commit signature ran ahead of the wall clock (max {f.MaxVoteAheadMs?.ToString("F0") ?? "none seen"} ms): the skew was not injected");
        if (f.MaxBlockTimeSkewMs is > MaxBlockTimeSkewMs) Violated($"block time was {f.MaxBlockTimeSkewMs:F0} ms from the wall clock (bound {MaxBlockTimeSkewMs} ms)");
    }

    /// <summary>How far block time may drift from real time with one skewed validator: a few block intervals, not the skew.</summary>
    public const double MaxBlockTimeSkewMs = 10_000;

    /// <summary>
    /// Waits for every node to reach one height, then compares every block on every node (no fork), looks for
    /// duplicate-vote evidence in the chain and "evidence recorded" in the logs (no double sign), and checks that every
    /// transaction answered "committed" is in the chain (none lost).
    /// </summary>
    private async Task CheckChainsAsync(FaultCampaignReport report, FaultLoad load)
    {
        ulong target = 0;
        var heights = new ulong?[Count];
        bool together = await LocalNetwork.WaitUntilAsync(async () =>
        {
            heights = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => network.HeightAsync(i)));
            target = Math.Max(target, heights.Max(h => h ?? 0));
            return heights.All(h => h >= target);
        }, Deadline, TimeSpan.FromMilliseconds(100));
        if (!together)
        {
            // Still compare what every node has: the chain up to the lowest height served.
            report.Violations.Add($"the nodes did not reach one height within {Deadline.TotalSeconds:F0} s after the faults: heights {string.Join(", ", heights.Select(h => h?.ToString() ?? "none"))}");
            target = heights.Min(h => h ?? 0);
        }
        report.Heights = target;
        var inChain = new HashSet<Hash32>();
        for (ulong h = 1; h <= target; h++)
        {
            var blocks = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => network.Clients[i].BlockAsync(h)));
            if (blocks.Select(b => b.Block.Hash).Distinct().Count() > 1)
            {
                report.Forks++;
                report.Violations.Add($"fork at height {h}: {string.Join(", ", blocks.Select((b, i) => $"node {i} {b.Block.Hash.ToString()[..12]}"))}");
            }
            foreach (var tx in blocks[0].Served.Transactions) inChain.Add(Hash32.Parse(tx.Hash));
            foreach (var evidence in blocks[0].Block.Evidence.Select(e => Canonical.Decode<Evidence>(e)).OfType<DuplicateVoteEvidence>())
            {
                report.DoubleSigns++;
                report.Violations.Add($"duplicate-vote evidence at height {h} names validator {evidence.Offender}");
            }
        }
        // Nodes that did not meet: the blocks above the compared height, from the highest node, count for "not lost".
        int highest = Array.IndexOf(heights, heights.Max());
        if (heights[highest] > target)
            for (ulong h = target + 1; h <= heights[highest]; h++)
                foreach (var tx in (await network.Clients[highest].BlockAsync(h)).Served.Transactions) inChain.Add(Hash32.Parse(tx.Hash));
        var answered = load.Committed.Keys.ToArray();
        report.TxAnsweredCommitted = answered.Length;
        report.TxAnsweredCommittedInChain = answered.Count(inChain.Contains);
        report.TxLost = answered.Length - report.TxAnsweredCommittedInChain;
        foreach (var lost in answered.Where(h => !inChain.Contains(h)).Take(10))
            report.Violations.Add($"transaction {lost} was answered \"committed\" by node {load.Committed[lost]} but is not in the chain");
        for (int i = 0; i < Count; i++)
            report.EvidenceLogged += ReadFrom(network.LogPath(i), 0).Split('\n').Count(l => l.Contains("evidence recorded", StringComparison.Ordinal));
        if (report.EvidenceLogged > 0) report.Violations.Add($"{report.EvidenceLogged} \"evidence recorded\" log lines (a double sign?)");
        if (report.TxAnsweredCommitted == 0) report.Violations.Add("no transaction was answered \"committed\": the load did not run");
        log($"{Count} nodes agree on {target} heights; {report.TxAnsweredCommittedInChain} of {report.TxAnsweredCommitted} transactions answered \"committed\" are in the chain");
    }

    /// <summary>A node log from byte <paramref name="offset"/> on (shared read: the node may still write).</summary>
    private static string ReadFrom(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        return new StreamReader(stream).ReadToEnd();
    }
}
