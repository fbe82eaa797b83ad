using Chain.Cli.Devnet;

namespace Chain.Cli.Commands;

/// <summary>
/// Every node's /metrics at one moment, summed over the nodes: the stage histograms' sums and counts, the p2p bytes
/// sent (all and per channel) and the loops' time blocked on verification. Counters only grow, so the difference of two
/// snapshots (<see cref="Since"/>) is what one load phase cost.
/// </summary>
internal sealed record NodeMetricsSnapshot(
    IReadOnlyDictionary<string, (double Seconds, long Count)> StageSums, long P2pBytesSent, IReadOnlyDictionary<string, long> P2pBytesByChannel,
    double LoopBlockedSeconds)
{
    private static readonly string[] StageOrder = ["build", "propose", "verify", "prevote", "precommit", "commit", "apply", "total"];

    /// <summary>What happened between <paramref name="earlier"/> and this snapshot.</summary>
    public NodeMetricsSnapshot Since(NodeMetricsSnapshot earlier) => new(
        StageSums.ToDictionary(s => s.Key, s =>
        {
            var before = earlier.StageSums.GetValueOrDefault(s.Key);
            return (s.Value.Seconds - before.Seconds, s.Value.Count - before.Count);
        }),
        P2pBytesSent - earlier.P2pBytesSent,
        P2pBytesByChannel.ToDictionary(c => c.Key, c => c.Value - earlier.P2pBytesByChannel.GetValueOrDefault(c.Key)),
        LoopBlockedSeconds - earlier.LoopBlockedSeconds);

    /// <summary>The mean milliseconds per node-height of each traced stage, in the order of a height.</summary>
    public IReadOnlyList<StageFigure> Stages()
    {
        var stages = StageOrder.Where(StageSums.ContainsKey)
            .Select(s => new StageFigure(s, StageSums[s].Count == 0 ? double.NaN : StageSums[s].Seconds * 1000 / StageSums[s].Count, StageSums[s].Count)).ToList();
        // Not a stage of finality: how long the loops waited for a proposal verification in flight, per height (≈ 0:
        // re-execution runs off the loop, docs/node.md).
        if (StageSums.TryGetValue("total", out var total) && total.Count > 0)
            stages.Add(new StageFigure("loop blocked on verify", LoopBlockedSeconds * 1000 / total.Count, total.Count));
        return stages;
    }

    /// <summary>Bytes sent per committed transaction, over all nodes and per channel (NaN when nothing committed).</summary>
    public (double All, IReadOnlyDictionary<string, double> ByChannel) BytesPerCommitted(int committed) => (
        committed == 0 ? double.NaN : (double)P2pBytesSent / committed,
        P2pBytesByChannel.ToDictionary(c => c.Key, c => committed == 0 ? double.NaN : (double)c.Value / committed));
}

/// <summary>What `chain bench network` reads from every node's /metrics, before and after each load phase.</summary>
internal static class BenchNetworkMetrics
{
    public static async Task<NodeMetricsSnapshot> ScrapeAsync(LocalNetwork network, int validators)
    {
        var sums = new Dictionary<string, (double Seconds, long Count)>();
        var byChannel = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long bytes = 0;
        double loopBlockedSeconds = 0;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (int i = 0; i < validators; i++)
        {
            string text;
            try
            {
                text = await http.GetStringAsync($"http://127.0.0.1:{network.Nodes[i].RpcPort}/metrics");
            }
            catch (HttpRequestException)
            {
                continue; // a node that is gone contributes nothing
            }
            foreach (var line in text.Split('\n'))
            {
                if (PrometheusSample(line, "chain_height_stage_seconds_sum", "stage") is var (stage, sum) && stage is not null)
                    sums[stage] = (sums.GetValueOrDefault(stage).Seconds + sum, sums.GetValueOrDefault(stage).Count);
                else if (PrometheusSample(line, "chain_height_stage_seconds_count", "stage") is var (stageC, n) && stageC is not null)
                    sums[stageC] = (sums.GetValueOrDefault(stageC).Seconds, sums.GetValueOrDefault(stageC).Count + (long)n);
                else if (PrometheusSample(line, "chain_p2p_channel_bytes_sent_total", "channel") is var (channel, channelBytes) && channel is not null)
                    byChannel[channel] = byChannel.GetValueOrDefault(channel) + (long)channelBytes;
                else if (line.StartsWith("chain_p2p_bytes_total{direction=\"out\"}", StringComparison.Ordinal)
                    && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var b))
                    bytes += (long)b;
                else if (line.StartsWith("chain_consensus_loop_blocked_seconds_total ", StringComparison.Ordinal)
                    && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var blocked))
                    loopBlockedSeconds += blocked;
            }
        }
        return new NodeMetricsSnapshot(sums, bytes, byChannel, loopBlockedSeconds);
    }

    // `name{label="value"} number` → (value, number); (null, 0) when the line is another metric.
    private static (string? Label, double Value) PrometheusSample(string line, string name, string label)
    {
        string prefix = $"{name}{{{label}=\"";
        if (!line.StartsWith(prefix, StringComparison.Ordinal)) return (null, 0);
        int end = line.IndexOf('"', prefix.Length);
        if (end < 0) return (null, 0);
        return double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? (line[prefix.Length..end], v) : (null, 0);
    }
}
