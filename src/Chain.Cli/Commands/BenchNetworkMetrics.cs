using Chain.Cli.Devnet;

namespace Chain.Cli.Commands;

/// <summary>What `chain bench network` reads from every node's /metrics after a run.</summary>
internal static class BenchNetworkMetrics
{
    // Every node's /metrics: the stage histograms' sums and counts (mean per stage over all nodes' heights), and the
    // p2p bytes sent (the run's whole network traffic, including the idle heights around it).
    public static async Task<(IReadOnlyList<StageFigure> Stages, long P2pBytesSent, IReadOnlyDictionary<string, long> P2pBytesByChannel)> ScrapeAsync(
        LocalNetwork network, int validators)
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
        string[] order = ["build", "propose", "verify", "prevote", "precommit", "commit", "apply", "total"];
        var stages = order.Where(sums.ContainsKey).Select(s => new StageFigure(s, sums[s].Count == 0 ? double.NaN : sums[s].Seconds * 1000 / sums[s].Count, sums[s].Count)).ToList();
        // Not a stage of finality: how long the loops waited for a proposal verification in flight, per height (≈ 0:
        // re-execution runs off the loop, docs/node.md).
        if (sums.TryGetValue("total", out var total) && total.Count > 0)
            stages.Add(new StageFigure("loop blocked on verify", loopBlockedSeconds * 1000 / total.Count, total.Count));
        return (stages, bytes, byChannel);
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
