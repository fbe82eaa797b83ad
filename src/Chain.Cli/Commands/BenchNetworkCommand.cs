using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Chain.Cli.Devnet;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain bench network`: a loopback network of `chain start` processes under a burst of Infer and transfer
/// transactions: committed tx/s and submit→commit finality, beside what bounds them from below, measured in the
/// same run: fsync of a 4 KiB write on this disk, a loopback TCP round trip, and single-core Ed25519 verification.
/// </summary>
internal static class BenchNetworkCommand
{
    /// <summary>One traced stage: its mean milliseconds per height over every node, and how many node-heights it covers.</summary>
    public sealed record StageFigure(string Stage, double MeanMs, long Heights);

    public sealed record Report(
        int Validators, int Transactions, int Committed, double Seconds, double TxPerSecond,
        double FinalityP50Ms, double FinalityP95Ms, double FinalityMaxMs,
        double FsyncP50Ms, double LoopbackRttP50Ms, double VerifyPerSecond,
        double FinalityFloorMs, double FinalityOverFloor, double TxPerSecondOverVerifyLimit,
        ulong Heights, int MaxRound, int StaleNonceRetries, ulong MinBlockIntervalMs)
    {
        /// <summary>Mean milliseconds per height of each traced stage (chain_height_stage_seconds), over every node.</summary>
        public IReadOnlyList<StageFigure> Stages { get; init; } = [];

        /// <summary>P2P bytes all nodes sent during the run, per committed transaction.</summary>
        public double P2pBytesPerCommittedTx { get; init; } = double.NaN;

        /// <summary>Mean canonical size of the submitted transactions.</summary>
        public double MeanTransactionBytes { get; init; } = double.NaN;

        /// <summary>
        /// <see cref="P2pBytesPerCommittedTx"/> over (validators − 1) × <see cref="MeanTransactionBytes"/>: 1 is every
        /// transaction crossing to each other validator once and nothing else; issue 14's goal is ≤ 1.5.
        /// </summary>
        public double P2pBytesOverTxCopies => Validators < 2 ? double.NaN : P2pBytesPerCommittedTx / ((Validators - 1) * MeanTransactionBytes);
    }

    public static Command Create()
    {
        var validators = new Option<int>("--validators") { Description = "Validator processes", DefaultValueFactory = _ => 4 };
        var txs = new Option<int>("--txs") { Description = "Transactions to submit (3 Infer : 1 transfer)", DefaultValueFactory = _ => 500 };
        var interval = new Option<ulong>("--min-block-interval-ms") { Description = "consensus.min_block_interval_ms of every node", DefaultValueFactory = _ => 100 };
        var json = new Option<string?>("--json") { Description = "Write the figures as JSON to this file" };
        var command = new Command("network", "Committed tx/s and finality of a loopback network of `chain start` processes vs fsync, loopback RTT and Ed25519 verify")
        {
            validators, txs, interval, json,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int v = result.GetValue(validators), n = result.GetValue(txs);
            ulong minInterval = result.GetValue(interval);
            if (v is < 1 or > 16) throw new CliException("--validators must be 1..16");
            if (n is < 1 or > 20_000) throw new CliException("--txs must be 1..20000");
            if (minInterval is < 1 or >= 3000) throw new CliException("--min-block-interval-ms must be 1..2999 (below timeout_propose_ms, 3000)");
            Report report;
            try
            {
                report = RunAsync(v, n, minInterval, output).GetAwaiter().GetResult();
            }
            catch (RpcClientException e)
            {
                throw new CliException($"a node refused or did not answer: {e.Message}");
            }
            Print(report, output);
            if (result.GetValue(json) is { } file)
                OutputFiles.WriteText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return report.Committed == report.Transactions ? 0 : 1;
        }));
        return command;
    }

    private static async Task<Report> RunAsync(int validators, int count, ulong minInterval, TextWriter output)
    {
        var modelsDir = HomeCommands.RepositoryModelsDirectory();
        var models = GenesisModels.Load(modelsDir);
        var genesis = HomeCommands.RepositoryGenesis();
        var directory = Path.Combine(Path.GetTempPath(), $"chain-bench-network-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            // The floors first, on an idle machine, on the disk the nodes will write to.
            output.WriteLine("measuring fsync, loopback round trip and Ed25519 verify ...");
            double fsync = FsyncP50Ms(directory, 200);
            double rtt = await LoopbackRttP50MsAsync(2000);
            double verify = VerifyPerSecond(genesis.ChainId, 20_000);

            // Release defaults (3 s / 1 s / 1 s timeouts) except the pause before building, which would otherwise set the pace.
            await using var network = LocalNetwork.Create(Path.Combine(directory, "net"), validators, genesis, configure: c =>
            {
                c.Consensus.MinBlockIntervalMs = minInterval;
                c.Log.Level = "warn";
            });
            output.WriteLine($"starting {validators} validators in {directory} ...");
            for (int i = 0; i < validators; i++) network.Start(i);
            if (!await LocalNetwork.WaitUntilAsync(async () => (await Task.WhenAll(Enumerable.Range(0, validators).Select(i => network.HeightAsync(i)))).All(h => h >= 1),
                    TimeSpan.FromSeconds(120)))
                throw new CliException($"the network did not commit height 1 within 120 s; logs: {network.LogPath(0)} ...");

            var transactions = BuildTransactions(network.Genesis.ChainId, network.Genesis.Parameters, models, GenesisModels.LoadTestDigits(modelsDir), validators, count);
            var committedAt = new ConcurrentDictionary<Hash32, double>();
            var submittedAt = new ConcurrentDictionary<Hash32, double>();
            int maxRound = 0;
            var clock = Stopwatch.StartNew();
            using var stop = new CancellationTokenSource();

            // Commit times from node 0's block stream; each block's transaction hashes from the block itself.
            var firstEvent = new TaskCompletionSource();
            var watcher = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in network.Clients[0].BlockEventsAsync(stop.Token))
                    {
                        double at = clock.Elapsed.TotalMilliseconds;
                        firstEvent.TrySetResult();
                        if (e.TxCount == 0) continue;
                        var (served, _) = await network.Clients[0].BlockAsync(e.Height, stop.Token);
                        foreach (var tx in served.Transactions) committedAt.TryAdd(Hash32.Parse(tx.Hash), at);
                        var (commit, _) = await network.Clients[0].CommitAsync(e.Height, stop.Token);
                        maxRound = Math.Max(maxRound, (int)commit.Round);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
            });
            if (await Task.WhenAny(firstEvent.Task, Task.Delay(TimeSpan.FromSeconds(30))) != firstEvent.Task)
                throw new CliException("no block event from node 0 within 30 s");
            ulong startHeight = await network.HeightAsync(0) ?? 0;

            output.WriteLine($"submitting {count} transactions through {validators} nodes ...");
            int staleRetries = 0;
            // One task per signer, in nonce order, each through its own node (a node's mempool needs a sender's nonces in order).
            var senders = transactions.GroupBy(t => t.Node).Select(g => Task.Run(async () =>
            {
                foreach (var (node, tx) in g)
                {
                    submittedAt[tx.Hash] = clock.Elapsed.TotalMilliseconds;
                    Interlocked.Add(ref staleRetries, await SubmitAsync(network.Clients[node], tx));
                }
            })).ToArray();
            await Task.WhenAll(senders);
            double submitted = clock.Elapsed.TotalSeconds;

            var deadline = TimeSpan.FromSeconds(Math.Max(60, count / 10.0));
            var waiting = Stopwatch.StartNew();
            while (committedAt.Count < count && waiting.Elapsed < deadline && !watcher.IsCompleted) await Task.Delay(50);
            await stop.CancelAsync();
            try
            {
                await watcher;
            }
            catch (RpcClientException e)
            {
                output.WriteLine($"block stream ended: {e.Message}");
            }
            ulong endHeight = await network.HeightAsync(0) ?? 0;
            output.WriteLine($"all submitted after {submitted:F1} s; {committedAt.Count} of {count} committed");
            var (stages, p2pBytes) = await ScrapeAsync(network, validators);

            var latencies = submittedAt.Where(s => committedAt.ContainsKey(s.Key)).Select(s => committedAt[s.Key] - s.Value).Order().ToArray();
            double first = submittedAt.Values.DefaultIfEmpty(0).Min();
            double last = committedAt.Values.DefaultIfEmpty(first).Max();
            double seconds = Math.Max(1e-3, (last - first) / 1000);
            double tps = committedAt.Count / seconds;
            double floor = 3 * rtt + 2 * fsync;
            double p50 = Percentile(latencies, 0.50);
            return new Report(validators, count, committedAt.Count, seconds, tps, p50, Percentile(latencies, 0.95), latencies.DefaultIfEmpty(double.NaN).Max(),
                fsync, rtt, verify, floor, p50 / floor, tps / verify, endHeight - startHeight, maxRound, staleRetries, minInterval)
            {
                Stages = stages,
                P2pBytesPerCommittedTx = committedAt.Count == 0 ? double.NaN : (double)p2pBytes / committedAt.Count,
                MeanTransactionBytes = transactions.Average(t => t.Tx.Encoded.Length),
            };
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException e)
            {
                output.WriteLine($"could not delete {directory}: {e.Message}");
            }
        }
    }

    /// <summary>3 Infer (genesis digits, both models) : 1 transfer, over the funded devnet keys, each key bound to one node.</summary>
    // Inputs: the 200 shipped MNIST test digits alternating over the genesis models (400 distinct inferences before any repeats).
    private static List<(int Node, SignedTransaction Tx)> BuildTransactions(ChainId chainId, Execution.ExecutionParameters parameters, IReadOnlyList<Inference.Runtime.GenesisModel> models,
        IReadOnlyList<(int Label, byte[] Pixels)> testDigits, int validators, int count)
    {
        var keys = DevnetKeys.FundedSenders(3 + validators);
        var digits = models.SelectMany(m => testDigits.Select(d => (m.ModelId, Input: Canonical.Encode(GenesisModels.ImageTensor(d.Pixels))))).ToArray();
        var nonces = new ulong[keys.Length];
        var list = new List<(int, SignedTransaction)>(count);
        for (int i = 0; i < count; i++)
        {
            int k = i % keys.Length;
            TransactionBody body = i % 4 == 3
                ? new TransferBody(keys[(k + 1) % keys.Length].Address, 1)
                : new InferBody(digits[i % digits.Length].ModelId, digits[i % digits.Length].Input, 1_000_000);
            ulong fee = Execution.Gas.MinFee(body, parameters); // the genesis gas price, not an assumed 1
            list.Add((k % validators, new Transaction(chainId, keys[k].PublicKey, nonces[k]++, fee, body).Sign(keys[k])));
        }
        foreach (var key in keys) key.Dispose();
        return list;
    }

    /// <summary>Sync-mode submission; retries (returned: how often) the brief window in which a node's mempool still counts just-committed transactions, and a full mempool.</summary>
    private static async Task<int> SubmitAsync(RpcClient client, SignedTransaction tx)
    {
        var clock = Stopwatch.StartNew();
        for (int retries = 0; ; retries++)
        {
            try
            {
                await client.SubmitAsync(tx, SubmitMode.Sync);
                return retries;
            }
            catch (RpcClientException e) when (clock.Elapsed < TimeSpan.FromSeconds(30) &&
                (e.Code == "MempoolFull" || (e.Code == "BadNonce" && e.Message.Contains("pending)", StringComparison.Ordinal))))
            {
                await Task.Delay(10);
            }
        }
    }

    /// <summary>Median of write(4 KiB) + fsync, appending to one file on the disk under <paramref name="directory"/>.</summary>
    private static double FsyncP50Ms(string directory, int rounds)
    {
        var path = Path.Combine(directory, "fsync.bin");
        var block = new byte[4096];
        Random.Shared.NextBytes(block);
        var samples = new double[rounds];
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            for (int i = 0; i < rounds; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                file.Write(block);
                file.Flush(flushToDisk: true);
                samples[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
        }
        File.Delete(path);
        return Percentile([.. samples.Order()], 0.5);
    }

    /// <summary>Median round trip of one byte over a loopback TCP connection (Nagle off, as the P2P connections).</summary>
    private static async Task<double> LoopbackRttP50MsAsync(int rounds)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        server.NoDelay = true;
        var echo = Task.Run(() =>
        {
            var s = server.GetStream();
            var b = new byte[1];
            while (s.Read(b) == 1) s.Write(b);
        });
        var stream = client.GetStream();
        var one = new byte[1];
        var samples = new double[rounds];
        for (int i = -100; i < rounds; i++) // 100 warm-up rounds
        {
            long t0 = Stopwatch.GetTimestamp();
            stream.Write(one);
            stream.ReadExactly(one);
            if (i >= 0) samples[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        client.Close();
        await echo;
        return Percentile([.. samples.Order()], 0.5);
    }

    /// <summary>Ed25519 verifications per second on one core, of a real transaction's sign bytes.</summary>
    private static double VerifyPerSecond(ChainId chainId, int rounds)
    {
        using var key = DevnetKeys.For("account-0");
        var tx = new Transaction(chainId, key.PublicKey, 0, 10_000, new TransferBody(key.Address, 1)).Sign(key);
        var message = tx.Transaction.SignBytes();
        var signature = tx.Signature;
        var publicKey = key.PublicKey;
        for (int i = 0; i < 500; i++) Ed25519.Verify(publicKey, message, signature);
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < rounds; i++)
            if (!Ed25519.Verify(publicKey, message, signature)) throw new InvalidOperationException("a valid signature failed to verify");
        return rounds / Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    // Every node's /metrics: the stage histograms' sums and counts (mean per stage over all nodes' heights), and the
    // p2p bytes sent (the run's whole network traffic, including the idle heights around it).
    private static async Task<(IReadOnlyList<StageFigure> Stages, long P2pBytesSent)> ScrapeAsync(LocalNetwork network, int validators)
    {
        var sums = new Dictionary<string, (double Seconds, long Count)>();
        long bytes = 0;
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
                else if (line.StartsWith("chain_p2p_bytes_total{direction=\"out\"}", StringComparison.Ordinal)
                    && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var b))
                    bytes += (long)b;
            }
        }
        string[] order = ["build", "propose", "verify", "prevote", "precommit", "commit", "apply", "total"];
        var stages = order.Where(sums.ContainsKey).Select(s => new StageFigure(s, sums[s].Count == 0 ? double.NaN : sums[s].Seconds * 1000 / sums[s].Count, sums[s].Count)).ToList();
        return (stages, bytes);
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

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[(int)Math.Round(q * (sorted.Length - 1))];

    private static void Print(Report r, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        var table = new Table().AddColumns("figure", "value");
        table.AddRow("validators / transactions", $"{r.Validators} / {r.Transactions} ({r.Committed} committed)");
        table.AddRow("heights / highest round", $"{r.Heights} / {r.MaxRound}");
        table.AddRow("committed tx/s", $"{r.TxPerSecond:F1} (over {r.Seconds:F2} s, first submit → last commit)");
        table.AddRow("finality p50 / p95 / max", $"{r.FinalityP50Ms:F0} / {r.FinalityP95Ms:F0} / {r.FinalityMaxMs:F0} ms (submit → seen committed)");
        table.AddRow("min_block_interval_ms", r.MinBlockIntervalMs.ToString());
        table.AddRow("fsync 4 KiB p50", $"{r.FsyncP50Ms:F3} ms");
        table.AddRow("loopback TCP RTT p50", $"{r.LoopbackRttP50Ms:F3} ms");
        table.AddRow("Ed25519 verify, 1 core", $"{r.VerifyPerSecond:N0} /s");
        table.AddRow("floor = 3 × RTT + 2 × fsync", $"{r.FinalityFloorMs:F3} ms");
        table.AddRow("[bold]finality p50 / floor[/]", $"{r.FinalityOverFloor:F1}×");
        table.AddRow("[bold]tx/s / verify limit[/]", $"{r.TxPerSecondOverVerifyLimit:F4}");
        table.AddRow("stale-nonce retries", r.StaleNonceRetries.ToString());
        table.AddRow("p2p bytes sent per committed tx", double.IsNaN(r.P2pBytesPerCommittedTx) ? "-" : $"{r.P2pBytesPerCommittedTx:N0} B (all nodes)");
        table.AddRow("mean transaction size", $"{r.MeanTransactionBytes:N0} B");
        table.AddRow("[bold]p2p bytes per tx / ((validators − 1) × tx size)[/]", double.IsNaN(r.P2pBytesOverTxCopies) ? "-" : $"{r.P2pBytesOverTxCopies:F2} (goal ≤ 1.5)");
        foreach (var (stage, mean, heights) in r.Stages)
            table.AddRow($"stage {stage}, mean per height", $"{mean:F2} ms (over {heights} node-heights)");
        console.Write(table);
    }
}
