using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Chain.Cli.Devnet;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using GenesisModel = Chain.Inference.Runtime.GenesisModel;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Commands;

/// <summary>
/// One network of `chain start` processes under `chain bench network`'s load phases: after an unmeasured warm-up burst
/// (fresh processes spend their first seconds compiling their hot paths: a third of the CPU in a profile), the light phase
/// (<see cref="LightTransactions"/> transactions one at a time), then the burst or each open-loop rate in turn, each
/// phase waited out before the next; commit times come from node 0's block stream.
/// </summary>
internal sealed class BenchNetworkRunner(BenchMix mix, IReadOnlyList<double> rates, int transactionsPerPhase, ulong minBlockIntervalMs, int burstBatch,
    int warmup, TextWriter output)
{
    public const int LightTransactions = 20; // enough for a p50 that one slow height does not move

    private readonly ConcurrentDictionary<Hash32, double> _committedAt = new();
    private int _committedBlocks; // blocks the watcher has recorded: a waiter looks again only when it changed
    private readonly Stopwatch _clock = new();

    public async Task<NetworkRun> RunAsync(string directory, int validators, Genesis repositoryGenesis, IReadOnlyList<GenesisModel> models,
        IReadOnlyList<(int Label, byte[] Pixels)> digits)
    {
        _committedAt.Clear();
        // Release defaults (3 s / 1 s / 1 s timeouts) except the pause before building, which would otherwise set the pace.
        await using var network = LocalNetwork.Create(directory, validators, repositoryGenesis, configure: c =>
        {
            c.Consensus.MinBlockIntervalMs = minBlockIntervalMs;
            c.Log.Level = "warn";
        });
        output.WriteLine($"starting {validators} validators in {directory} ...");
        for (int i = 0; i < validators; i++) network.Start(i);
        if (!await LocalNetwork.WaitUntilAsync(async () => (await Task.WhenAll(Enumerable.Range(0, validators).Select(i => network.HeightAsync(i)))).All(h => h >= 1),
                TimeSpan.FromSeconds(120)))
            throw new CliException($"the network did not commit height 1 within 120 s; logs: {network.LogPath(0)} ...");

        int loads = Math.Max(1, rates.Count);
        var transactions = BuildTransactions(network.Genesis.ChainId, network.Genesis.Parameters, models, digits, validators, warmup + LightTransactions + loads * transactionsPerPhase);
        int maxRound = 0;
        _clock.Restart();
        using var stop = new CancellationTokenSource();
        var firstEvent = new TaskCompletionSource();
        var watcher = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in network.Clients[0].BlockEventsAsync(stop.Token))
                {
                    double at = _clock.Elapsed.TotalMilliseconds;
                    firstEvent.TrySetResult();
                    if (e.TxCount == 0) continue;
                    var (served, _) = await network.Clients[0].BlockAsync(e.Height, stop.Token);
                    foreach (var tx in served.Transactions) _committedAt.TryAdd(Hash32.Parse(tx.Hash), at);
                    Interlocked.Increment(ref _committedBlocks);
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
        if (warmup > 0)
        {
            output.WriteLine($"warm-up: {warmup} transactions, as fast as admitted, not measured ...");
            var warm = await LoadAsync(network, transactions[..warmup], rate: null, watcher);
            if (warm.Committed < warm.Transactions) throw new CliException($"the warm-up committed {warm.Committed} of {warm.Transactions} transactions; logs: {network.LogPath(0)} ...");
        }
        ulong startHeight = await network.HeightAsync(0) ?? 0;

        var phases = new List<LoadPhase>();
        // Every node's metrics before and after each phase: its own stages and bytes, none of the warm-up's.
        var measuredFrom = await BenchNetworkMetrics.ScrapeAsync(network, validators);
        var before = measuredFrom;
        async Task<LoadPhase> Measured(LoadPhase phase)
        {
            var after = await BenchNetworkMetrics.ScrapeAsync(network, validators);
            var cost = after.Since(before);
            before = after;
            return phase with { Stages = cost.Stages(), P2pBytesPerCommittedTx = cost.BytesPerCommitted(phase.Committed).All };
        }
        output.WriteLine($"light load: {LightTransactions} transactions, one at a time ...");
        phases.Add(await Measured(await LightAsync(network, transactions[warmup..(warmup + LightTransactions)], watcher)));
        for (int p = 0; p < loads; p++)
        {
            var slice = transactions.GetRange(warmup + LightTransactions + p * transactionsPerPhase, transactionsPerPhase);
            double? rate = rates.Count == 0 ? null : rates[p];
            output.WriteLine(rate is { } r
                ? $"open loop at {r.ToString(CultureInfo.InvariantCulture)} tx/s: {slice.Count} transactions through {validators} nodes ..."
                : $"burst: {slice.Count} transactions through {validators} nodes, as fast as admitted, {burstBatch} per request ...");
            var phase = await Measured(await LoadAsync(network, slice, rate, watcher));
            output.WriteLine($"  {phase.Committed} of {phase.Transactions} committed, {phase.TxPerSecond:F1} tx/s, finality p50 {phase.FinalityP50Ms:F0} ms");
            phases.Add(phase);
        }

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
        var measured = (await BenchNetworkMetrics.ScrapeAsync(network, validators)).Since(measuredFrom);
        var measuredTransactions = transactions[warmup..];
        int committed = measuredTransactions.Count(t => _committedAt.ContainsKey(t.Tx.Hash));
        var (bytesPerTx, bytesPerTxByChannel) = measured.BytesPerCommitted(committed);
        return new NetworkRun(validators, phases, endHeight - startHeight, maxRound, measured.Stages(), bytesPerTx, measuredTransactions.Average(t => t.Tx.Encoded.Length))
        {
            P2pBytesPerCommittedTxByChannel = bytesPerTxByChannel,
        };
    }

    // One transaction at a time, each submitted once the one before is seen committed: one transaction per block.
    private async Task<LoadPhase> LightAsync(LocalNetwork network, List<(int Node, SignedTransaction Tx)> transactions, Task watcher)
    {
        var submittedAt = new Dictionary<Hash32, double>();
        int retries = 0;
        foreach (var (node, tx) in transactions)
        {
            submittedAt[tx.Hash] = _clock.Elapsed.TotalMilliseconds;
            retries += await SubmitAsync(network.Clients[node], tx);
            await WaitCommittedAsync([tx.Hash], TimeSpan.FromSeconds(30), watcher);
        }
        return Summarize(BenchNetworkGoals.LightPhase, double.NaN, double.NaN, submittedAt, retries);
    }

    // The burst (rate null): every signer's transactions back to back. Open loop: transaction i is due at i / rate s
    // and counts its finality from then, so a client falling behind shows as latency rather than as less load.
    private async Task<LoadPhase> LoadAsync(LocalNetwork network, List<(int Node, SignedTransaction Tx)> transactions, double? rate, Task watcher)
    {
        var submittedAt = new ConcurrentDictionary<Hash32, double>();
        int retries = 0;
        double start = _clock.Elapsed.TotalMilliseconds;
        // One task per signer, in nonce order, each through its own node (a node's mempool needs a sender's nonces in order).
        var senders = transactions.Select((t, i) => (t.Node, t.Tx, DueMs: rate is { } r ? start + i * 1000 / r : double.NaN))
            .GroupBy(t => t.Tx.Transaction.Sender).Select(g => Task.Run(async () =>
            {
                if (burstBatch > 1)
                {
                    // The load measures the network, not the client's request round trips: a signer's transactions go
                    // in batches (POST /txs/batch) — in the burst, --batch at a time; open loop, whatever is due when
                    // the first of them is (at most --batch). Finality counts from the batch's departure in the burst,
                    // from each transaction's due time open loop.
                    var own = g.ToList();
                    for (int i = 0; i < own.Count;)
                    {
                        if (rate is not null)
                        {
                            double wait = own[i].DueMs - _clock.Elapsed.TotalMilliseconds;
                            if (wait > 0) await Task.Delay(TimeSpan.FromMilliseconds(wait));
                        }
                        double now = _clock.Elapsed.TotalMilliseconds;
                        int end = i + 1;
                        while (end < own.Count && end - i < burstBatch && (rate is null || own[end].DueMs <= now)) end++;
                        var chunk = own.GetRange(i, end - i);
                        foreach (var t in chunk) submittedAt[t.Tx.Hash] = rate is null ? now : t.DueMs;
                        Interlocked.Add(ref retries, await BenchSubmission.SubmitBatchAsync(network.Clients[chunk[0].Node], [.. chunk.Select(t => t.Tx)],
                            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10)));
                        i = end;
                    }
                    return;
                }
                foreach (var (node, tx, due) in g)
                {
                    if (double.IsNaN(due)) submittedAt[tx.Hash] = _clock.Elapsed.TotalMilliseconds;
                    else
                    {
                        double wait = due - _clock.Elapsed.TotalMilliseconds;
                        if (wait > 0) await Task.Delay(TimeSpan.FromMilliseconds(wait));
                        submittedAt[tx.Hash] = due;
                    }
                    Interlocked.Add(ref retries, await SubmitAsync(network.Clients[node], tx));
                }
            })).ToArray();
        await Task.WhenAll(senders);
        double submitted = transactions.Count / Math.Max(1e-3, (_clock.Elapsed.TotalMilliseconds - start) / 1000);
        await WaitCommittedAsync([.. transactions.Select(t => t.Tx.Hash)], TimeSpan.FromSeconds(Math.Max(60, transactions.Count / 10.0)), watcher);
        return Summarize(rate is { } rr ? $"rate {rr.ToString(CultureInfo.InvariantCulture)}" : "burst", rate ?? submitted, submitted, submittedAt, retries);
    }

    private async Task WaitCommittedAsync(IReadOnlyList<Hash32> hashes, TimeSpan deadline, Task watcher)
    {
        var waiting = Stopwatch.StartNew();
        // The client shares the cores with the nodes it measures: only the hashes not yet seen are looked at again, and
        // only after the watcher recorded another block (looking at 20,000 every 5 ms took 5 % of the machine's CPU).
        var remaining = hashes.ToHashSet();
        int seenBlocks = -1;
        while (waiting.Elapsed < deadline && !watcher.IsCompleted)
        {
            int blocks = Volatile.Read(ref _committedBlocks);
            if (blocks != seenBlocks)
            {
                seenBlocks = blocks;
                remaining.RemoveWhere(_committedAt.ContainsKey);
                if (remaining.Count == 0) return;
            }
            await Task.Delay(5);
        }
    }

    // Committed tx/s over first submission → last commit of the phase; finality = submission (or due time) → seen committed.
    // Light (offered and submitted NaN): both are what it achieved.
    private LoadPhase Summarize(string name, double offered, double submitted, IReadOnlyDictionary<Hash32, double> submittedAt, int retries)
    {
        var latencies = submittedAt.Where(s => _committedAt.ContainsKey(s.Key)).Select(s => _committedAt[s.Key] - s.Value).Order().ToArray();
        double first = submittedAt.Values.DefaultIfEmpty(0).Min();
        double last = submittedAt.Keys.Where(_committedAt.ContainsKey).Select(h => _committedAt[h]).DefaultIfEmpty(first).Max();
        double seconds = Math.Max(1e-3, (last - first) / 1000);
        double tps = latencies.Length / seconds;
        return new LoadPhase(name, double.IsNaN(offered) ? tps : offered, double.IsNaN(submitted) ? tps : submitted, submittedAt.Count, latencies.Length, seconds, tps,
            Percentile.Of(latencies, 0.50), Percentile.Of(latencies, 0.95), latencies.DefaultIfEmpty(double.NaN).Max(), retries);
    }

    /// <summary>
    /// The mix over the funded devnet keys, each key bound to one node. Infer inputs are the 200 shipped MNIST test
    /// digits: on the genesis MLP alone for the infer mix (the model issue 14's goal names), alternating over both
    /// genesis models for the mixed one (400 distinct inferences before any repeats).
    /// </summary>
    private List<(int Node, SignedTransaction Tx)> BuildTransactions(ChainId chainId, ExecutionParameters parameters, IReadOnlyList<GenesisModel> models,
        IReadOnlyList<(int Label, byte[] Pixels)> testDigits, int validators, int count)
    {
        var keys = DevnetKeys.FundedSenders(3 + validators);
        var inferModels = mix == BenchMix.Infer ? models.Where(m => m.File == "mlp.onnx").ToArray() : [.. models];
        var digits = inferModels.SelectMany(m => testDigits.Select(d => (m.ModelId, Input: Canonical.Encode(GenesisModels.ImageTensor(d.Pixels))))).ToArray();
        var nonces = new ulong[keys.Length];
        var list = new List<(int, SignedTransaction)>(count);
        for (int i = 0; i < count; i++)
        {
            int k = i % keys.Length;
            bool transfer = mix switch { BenchMix.Transfers => true, BenchMix.Infer => false, _ => i % 4 == 3 };
            TransactionBody body = transfer
                ? new TransferBody(keys[(k + 1) % keys.Length].Address, 1)
                : new InferBody(digits[i % digits.Length].ModelId, digits[i % digits.Length].Input, 1_000_000);
            ulong fee = Gas.MinFee(body, parameters); // the genesis gas price, not an assumed 1
            list.Add((k % validators, new Transaction(chainId, keys[k].PublicKey, nonces[k]++, fee, body).Sign(keys[k])));
        }
        foreach (var key in keys) key.Dispose();
        return list;
    }

    private static Task<int> SubmitAsync(RpcClient client, SignedTransaction tx) =>
        BenchSubmission.SubmitAsync(client, tx, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));
}
