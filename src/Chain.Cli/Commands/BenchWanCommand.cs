using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Chain.Cli.Devnet;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference.Runtime;
using Chain.Lab;
using Chain.Node;
using Chain.Rpc;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain bench wan`: one workload (3 Infer : 1 transfer, submitted through every validator) on a network of
/// `chain start` processes twice — on loopback, then with each validator in its own network namespace behind
/// `tc netem` (set up by tools/netem-devnet.sh, which also tears it down) — and the finality and committed tx/s of
/// both side by side. docs/node.md, "WAN-like devnet".
/// </summary>
internal static class BenchWanCommand
{
    public sealed record Run(string Network, int Validators, int Transactions, int Committed, double Seconds, double TxPerSecond,
        double FinalityP50Ms, double FinalityP95Ms, double FinalityMaxMs, ulong Heights, int MaxRound);

    public static Command Create()
    {
        var validators = new Option<int>("--validators") { Description = "Validator processes", DefaultValueFactory = _ => 7 };
        var txs = new Option<int>("--txs") { Description = "Transactions to submit per run (3 Infer : 1 transfer)", DefaultValueFactory = _ => 300 };
        var netns = new Option<string?>("--netns") { Description = "Namespace prefix: validator i runs in namespace PREFIXi (tools/netem-devnet.sh makes them); without it only the loopback run" };
        var subnet = new Option<string>("--subnet") { Description = "Validator i listens on SUBNET.(i+1) inside its namespace", DefaultValueFactory = _ => "10.77.0" };
        var netem = new Option<string>("--netem") { Description = "What the namespaces' links do (printed with the figures)", DefaultValueFactory = _ => "netem" };
        var relayDelay = new Option<int>("--relay-delay-ms") { Description = "Emulate the link in user space instead (kernels without sch_netem): every P2P connection through a DelayRelay adding this one-way delay; 0 = off", DefaultValueFactory = _ => 0 };
        var relayJitter = new Option<int>("--relay-jitter-ms") { Description = "± uniform jitter of the relay's delay", DefaultValueFactory = _ => 0 };
        var relayLoss = new Option<double>("--relay-loss-percent") { Description = "Chunks held one retransmission timeout (200 ms) longer, as a lost segment would be", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Write both runs' figures as JSON to this file" };
        var command = new Command("wan", "Finality and committed tx/s of one workload on loopback and across network namespaces with tc netem (tools/netem-devnet.sh)")
        {
            validators, txs, netns, subnet, netem, relayDelay, relayJitter, relayLoss, json,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int v = result.GetValue(validators), n = result.GetValue(txs);
            if (v is < 1 or > 16) throw new CliException("--validators must be 1..16");
            if (n is < 1 or > 20_000) throw new CliException("--txs must be 1..20000");
            string? prefix = result.GetValue(netns);
            string net = result.GetValue(subnet)!;
            if (prefix is not null && !System.Net.IPAddress.TryParse($"{net}.1", out _)) throw new CliException($"--subnet '{net}' is not the first three octets of an IPv4 address");
            int delay = result.GetValue(relayDelay), jitter = result.GetValue(relayJitter);
            double loss = result.GetValue(relayLoss);
            if (delay < 0 || jitter < 0 || jitter > delay || loss is < 0 or > 50)
                throw new CliException("--relay-delay-ms ≥ 0, --relay-jitter-ms 0..delay, --relay-loss-percent 0..50");
            var relay = delay > 0 ? new RelayLink(TimeSpan.FromMilliseconds(delay), TimeSpan.FromMilliseconds(jitter), loss) : null;
            var runs = new List<Run>();
            try
            {
                runs.Add(RunAsync(v, n, null, null, net, output).GetAwaiter().GetResult());
                if (prefix is not null || relay is not null) runs.Add(RunAsync(v, n, prefix, relay, net, output).GetAwaiter().GetResult());
            }
            catch (RpcClientException e)
            {
                throw new CliException($"a node refused or did not answer: {e.Message}");
            }
            Print(runs, relay is not null ? $"user-space relay: delay {delay}ms {jitter}ms, {loss}% of chunks +200 ms" : result.GetValue(netem), output);
            if (result.GetValue(json) is { } file)
                OutputFiles.WriteText(file, JsonSerializer.Serialize(runs, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return runs.All(r => r.Committed == r.Transactions) ? 0 : 1;
        }));
        return command;
    }

    /// <summary>The link a <see cref="DelayRelay"/> emulates.</summary>
    private sealed record RelayLink(TimeSpan Delay, TimeSpan Jitter, double LossPercent);

    /// <summary>
    /// Homes on free ports; on loopback as `chain devnet`, or validator i listening on SUBNET.(i+1) inside namespace
    /// PREFIXi. With a <paramref name="relay"/>, validator i reaches validator j through a relay of its own (on
    /// SUBNET.254, the bridge, or on loopback).
    /// </summary>
    private static async Task<Run> RunAsync(int validators, int count, string? netnsPrefix, RelayLink? relay, string subnet, TextWriter output)
    {
        // Free ports are found by binding and letting go, so another program can take one before a node binds it.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await RunOnceAsync(validators, count, netnsPrefix, relay, subnet, output);
            }
            catch (PortTakenException e) when (attempt < 3)
            {
                output.WriteLine($"{e.Message}; again on other ports");
            }
        }
    }

    private sealed class PortTakenException(string message) : Exception(message);

    private static async Task<Run> RunOnceAsync(int validators, int count, string? netnsPrefix, RelayLink? relay, string subnet, TextWriter output)
    {
        string name = (netnsPrefix is null ? "loopback" : $"namespaces {netnsPrefix}0..{validators - 1}") + (relay is null ? "" : " + relay");
        var modelsDir = HomeCommands.RepositoryModelsDirectory();
        var models = GenesisModels.Load(modelsDir);
        var genesis = HomeCommands.RepositoryGenesis();
        var directory = Path.Combine(Path.GetTempPath(), $"chain-bench-wan-{Guid.NewGuid():N}");
        int basePort = LocalNetwork.FindFreePorts(2 * validators);
        string Host(int i) => netnsPrefix is null ? "127.0.0.1" : $"{subnet}.{i + 1}";
        var relays = new Dictionary<(int From, int To), DelayRelay>();
        if (relay is not null)
        {
            var relayHost = System.Net.IPAddress.Parse(netnsPrefix is null ? "127.0.0.1" : $"{subnet}.254");
            for (int i = 0; i < validators; i++)
                for (int j = 0; j < validators; j++)
                    if (i != j)
                        relays[(i, j)] = new DelayRelay(new System.Net.IPEndPoint(relayHost, 0), new System.Net.IPEndPoint(System.Net.IPAddress.Parse(Host(j)), basePort + 2 * j),
                            relay.Delay, relay.Jitter, relay.LossPercent, seed: 1000 * i + j);
        }
        try
        {
            // Release consensus timeouts; only the pause before building is shortened, as in `chain bench network`.
            await using var network = LocalNetwork.Create(directory, validators, genesis, basePort, configure: c =>
            {
                c.Consensus.MinBlockIntervalMs = 100;
                c.Log.Level = "warn";
                int i = (PortOf(c.P2p.Listen) - basePort) / 2;
                c.P2p.Listen = $"{Host(i)}:{PortOf(c.P2p.Listen)}";
                c.Rpc.Listen = $"{Host(i)}:{PortOf(c.Rpc.Listen)}";
                c.P2p.PersistentPeers = c.P2p.PersistentPeers.Select(p =>
                {
                    int port = PortOf(p), j = (port - basePort) / 2;
                    string key = p[..p.IndexOf('@', StringComparison.Ordinal)];
                    return relays.TryGetValue((i, j), out var r) ? $"{key}@{r.Endpoint.Address}:{r.Endpoint.Port}" : $"{key}@{Host(j)}:{port}";
                }).ToList();
            }, launcher: netnsPrefix is null ? null : InNamespace(netnsPrefix));
            var clients = network.Nodes.Select((node, i) => new RpcClient(new Uri($"http://{Host(i)}:{node.RpcPort}/"), network.Genesis.Validators, TimeSpan.FromSeconds(30))).ToArray();
            output.WriteLine($"{name}: starting {validators} validators in {directory} ...");
            for (int i = 0; i < validators; i++) network.Start(i);
            bool up = await LocalNetwork.WaitUntilAsync(async () =>
                (await Task.WhenAll(clients.Select(HeightAsync))).All(h => h >= 1) || Enumerable.Range(0, validators).Any(i => !network.IsRunning(i)), TimeSpan.FromSeconds(180));
            if (Enumerable.Range(0, validators).FirstOrDefault(i => !network.IsRunning(i), -1) is var exited and >= 0)
            {
                string log = File.Exists(network.LogPath(exited)) ? File.ReadAllText(network.LogPath(exited)).Trim() : "";
                if (log.Contains("Address already in use", StringComparison.Ordinal)) throw new PortTakenException($"{name}: validator {exited}'s port was taken");
                throw new CliException($"{name}: validator {exited} exited at start: {log}");
            }
            if (!up) throw new CliException($"{name}: the network did not commit height 1 within 180 s; logs: {network.LogPath(0)} ...");

            var transactions = Workload(network.Genesis, models, GenesisModels.LoadTestDigits(modelsDir), validators, count);
            var committedAt = new ConcurrentDictionary<Hash32, double>();
            var submittedAt = new ConcurrentDictionary<Hash32, double>();
            int maxRound = 0;
            var clock = Stopwatch.StartNew();
            using var stop = new CancellationTokenSource();
            var firstEvent = new TaskCompletionSource();
            var watcher = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in clients[0].BlockEventsAsync(stop.Token))
                    {
                        double at = clock.Elapsed.TotalMilliseconds;
                        firstEvent.TrySetResult();
                        if (e.TxCount == 0) continue;
                        var (served, _) = await clients[0].BlockAsync(e.Height, stop.Token);
                        foreach (var tx in served.Transactions) committedAt.TryAdd(Hash32.Parse(tx.Hash), at);
                        var (commit, _) = await clients[0].CommitAsync(e.Height, stop.Token);
                        maxRound = Math.Max(maxRound, (int)commit.Round);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
            });
            if (await Task.WhenAny(firstEvent.Task, Task.Delay(TimeSpan.FromSeconds(60))) != firstEvent.Task)
                throw new CliException($"{name}: no block event from node 0 within 60 s");
            ulong startHeight = await HeightAsync(clients[0]) ?? 0;

            output.WriteLine($"{name}: submitting {count} transactions through {validators} nodes ...");
            var senders = transactions.GroupBy(t => t.Node).Select(g => Task.Run(async () =>
            {
                foreach (var (node, tx) in g)
                {
                    submittedAt[tx.Hash] = clock.Elapsed.TotalMilliseconds;
                    await SubmitAsync(clients[node], tx);
                }
            })).ToArray();
            await Task.WhenAll(senders);
            var deadline = TimeSpan.FromSeconds(Math.Max(120, count / 5.0));
            if (!await LocalNetwork.WaitUntilAsync(() => Task.FromResult(committedAt.Count >= count || watcher.IsCompleted), deadline, TimeSpan.FromMilliseconds(50)))
                output.WriteLine($"{name}: {committedAt.Count} of {count} committed after {deadline.TotalSeconds:F0} s; giving up");
            await stop.CancelAsync();
            try
            {
                await watcher;
            }
            catch (RpcClientException e)
            {
                output.WriteLine($"{name}: block stream ended: {e.Message}");
            }
            ulong endHeight = await HeightAsync(clients[0]) ?? 0;

            var latencies = submittedAt.Where(s => committedAt.ContainsKey(s.Key)).Select(s => committedAt[s.Key] - s.Value).Order().ToArray();
            double first = submittedAt.Values.DefaultIfEmpty(0).Min();
            double last = committedAt.Values.DefaultIfEmpty(first).Max();
            double seconds = Math.Max(1e-3, (last - first) / 1000);
            return new Run(name, validators, count, committedAt.Count, seconds, committedAt.Count / seconds,
                Percentile(latencies, 0.50), Percentile(latencies, 0.95), latencies.DefaultIfEmpty(double.NaN).Max(), endHeight - startHeight, maxRound);
        }
        finally
        {
            foreach (var r in relays.Values) await r.DisposeAsync();
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

    /// <summary>
    /// This program under `ip netns exec PREFIXi`, i taken from the home directory (`.../node-i`, the last argument
    /// LocalNetwork passes); `ip netns exec` execs, so the process LocalNetwork signals is the node itself.
    /// </summary>
    private static ProcessWorkerLauncher InNamespace(string prefix)
    {
        var self = ProcessWorkerLauncher.ForCurrentProcess();
        const string script = "for a; do home=$a; done; exec ip netns exec \"$NETNS_PREFIX${home##*-}\" \"$0\" \"$@\"";
        return new ProcessWorkerLauncher("/bin/sh", ["-c", script, self.FileName, .. self.LeadingArguments],
            new Dictionary<string, string>(self.BaseEnvironment) { ["NETNS_PREFIX"] = prefix });
    }

    private static int PortOf(string hostPort) => int.Parse(hostPort[(hostPort.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);

    private static async Task<ulong?> HeightAsync(RpcClient client)
    {
        try
        {
            return (await client.StatusAsync()).Height;
        }
        catch (Exception e) when (e is RpcClientException or HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }

    /// <summary>3 Infer (the shipped test digits over both genesis models) : 1 transfer, each funded key bound to one node.</summary>
    private static List<(int Node, SignedTransaction Tx)> Workload(Execution.Genesis genesis, IReadOnlyList<GenesisModel> models,
        IReadOnlyList<(int Label, byte[] Pixels)> digits, int validators, int count)
    {
        var keys = DevnetKeys.FundedSenders(3 + validators);
        var inputs = models.SelectMany(m => digits.Select(d => (m.ModelId, Input: Canonical.Encode(GenesisModels.ImageTensor(d.Pixels))))).ToArray();
        var nonces = new ulong[keys.Length];
        var list = new List<(int, SignedTransaction)>(count);
        for (int i = 0; i < count; i++)
        {
            int k = i % keys.Length;
            TransactionBody body = i % 4 == 3
                ? new TransferBody(keys[(k + 1) % keys.Length].Address, 1)
                : new InferBody(inputs[i % inputs.Length].ModelId, inputs[i % inputs.Length].Input, 1_000_000);
            list.Add((k % validators, new Transaction(genesis.ChainId, keys[k].PublicKey, nonces[k]++, Execution.Gas.MinFee(body, genesis.Parameters), body).Sign(keys[k])));
        }
        foreach (var key in keys) key.Dispose();
        return list;
    }

    private static Task SubmitAsync(RpcClient client, SignedTransaction tx) =>
        BenchSubmission.SubmitAsync(client, tx, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(20));

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[(int)Math.Round(q * (sorted.Length - 1))];

    private static void Print(IReadOnlyList<Run> runs, string? netem, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        var table = new Table().AddColumn("figure");
        foreach (var r in runs) table.AddColumn(r.Network == "loopback" ? "loopback" : $"{r.Network} ({netem})");
        void Row(string figure, Func<Run, string> value) => table.AddRow([figure, .. runs.Select(value)]);
        Row("validators / transactions", r => $"{r.Validators} / {r.Transactions} ({r.Committed} committed)");
        Row("heights / highest round", r => $"{r.Heights} / {r.MaxRound}");
        Row("[bold]committed tx/s[/]", r => $"{r.TxPerSecond:F1} (over {r.Seconds:F1} s)");
        Row("[bold]finality p50 / p95[/]", r => $"{r.FinalityP50Ms:F0} / {r.FinalityP95Ms:F0} ms");
        Row("finality max", r => $"{r.FinalityMaxMs:F0} ms");
        console.Write(table);
    }
}
