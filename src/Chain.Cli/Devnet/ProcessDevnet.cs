using System.Diagnostics;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;
using Spectre.Console;

namespace Chain.Cli.Devnet;

/// <summary>What one finalized height looked like, as the devnet driver saw it over the nodes' RPC.</summary>
internal sealed record ObservedHeight(ulong Height, uint Round, int Transactions, int Inferences, int Correct, double FinalityP50Ms,
    string Predictions, bool Identical, string BlockHash);

/// <summary>
/// `chain devnet` (the job of `make run`): a 4-validator network of `chain start` processes on loopback, fed a
/// stream of Infer transactions on real MNIST test digits (and transfers) through every node's RPC; a live
/// table of heights; a check that every node returns identical blocks and receipts (their Merkle proofs
/// verified by the client); a summary; a clean shutdown of every process.
/// </summary>
internal sealed class ProcessDevnet(TextWriter output)
{
    private readonly IAnsiConsole _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });

    /// <param name="arm64">Run the last validators as the arm64 build (LocalNetwork.Arm64.cs); null for none.</param>
    public async Task<int> RunAsync(string dataDir, int validators, int heights, int perBlock, bool keepRunning = false, Arm64Nodes? arm64 = null)
    {
        if (!_console.Profile.Capabilities.Interactive) _console.Profile.Width = Math.Max(_console.Profile.Width, 140); // logs and pipes: no wrapping
        var repository = Commands.HomeCommands.RepositoryGenesis();
        var modelsDir = Commands.HomeCommands.RepositoryModelsDirectory();
        var models = GenesisModels.Load(modelsDir);
        // 200 real MNIST test digits, alternating between the two genesis models; the expected output of each
        // is computed here with the canonical executor, so every receipt is checked against an independent run.
        var testDigits = GenesisModels.LoadTestDigits(modelsDir);
        var executors = models.ToDictionary(m => m.ModelId, m => CanonicalExecutor.Load(m.Bytes));
        var digits = testDigits.Select((d, i) => (Model: models[i % models.Count], Label: d.Label, Input: GenesisModels.ImageTensor(d.Pixels))).ToArray();
        var labels = new Dictionary<Hash32, int>();
        var known = new Dictionary<(Hash32 Model, Hash32 Input), Hash32>();
        foreach (var d in digits)
        {
            labels[d.Input.Hash] = d.Label;
            var executor = executors[d.Model.ModelId];
            known[(d.Model.ModelId, d.Input.Hash)] = executor.Run([new NamedTensor(executor.Inputs[0].Name, d.Input)])[0].Value.Hash;
        }

        OutputFiles.RecreateOwnedDirectory(dataDir, "devnet");
        bool mixed = arm64 is { Count: > 0 };
        await using var net = LocalNetwork.Create(dataDir, validators, repository, configure: c =>
        {
            // An emulated node builds, verifies and executes blocks many times slower: its proposals need longer to arrive.
            c.Consensus.TimeoutProposeMs = mixed ? 20_000UL : 3000UL;
            c.Consensus.MinBlockIntervalMs = 700;
        });
        if (mixed) net.RunOnArm64(arm64!);
        _console.MarkupLine($"devnet [bold]{net.Genesis.ChainId}[/]: {validators} validator processes on loopback, homes in [blue]{Markup.Escape(Path.GetFullPath(dataDir))}[/]");
        for (int i = 0; i < validators; i++)
        {
            net.Start(i);
            _console.MarkupLine($"  {net.Nodes[i].Name}{(net.Arm64Indices.Contains(i) ? " [yellow](arm64 build, fast path off)[/]" : "")}: started, p2p 127.0.0.1:{net.Nodes[i].P2pPort}, rpc {net.Clients[i].BaseAddress}, log {Markup.Escape(net.LogPath(i))}");
        }
        _console.MarkupLine($"  explorer (verifies in your browser): [bold]{net.Clients[0].BaseAddress}explorer[/]");
        bool connected = await LocalNetwork.WaitUntilAsync(async () =>
        {
            foreach (var c in net.Clients)
                if ((await c.StatusAsync().ConfigureAwait(false)).PeersConnected < validators - 1) return false;
            return true;
        }, TimeSpan.FromSeconds(mixed ? 300 : 90)).ConfigureAwait(false);
        if (!connected) throw new CliException($"the nodes did not all connect within {(mixed ? 300 : 90)} s; see {net.LogPath(validators - 1)}");
        _console.MarkupLine("all nodes up and fully connected; sending transactions");

        // One sending account per node, each always sending through the same node (see DevnetKeys.FundedSenders).
        var accounts = DevnetKeys.FundedSenders(Math.Max(validators, 1));
        var nonces = new ulong[accounts.Length];
        var submittedAt = new Dictionary<Hash32, double>();
        var clock = Stopwatch.StartNew();
        int next = 0, totalTxs = 0, inferred = 0, correct = 0, unknownOutputs = 0;
        bool allIdentical = true;
        var finality = new List<double>();
        var observed = new List<ObservedHeight>();
        ulong startHeight = (await net.Clients[0].StatusAsync().ConfigureAwait(false)).Height;
        ulong target = startHeight + (ulong)heights;

        // Submits one height's batch (perBlock digits + a transfer), spread over the nodes' RPC endpoints.
        async Task SubmitBatchAsync()
        {
            for (int k = 0; k <= perBlock; k++)
            {
                int a = next % accounts.Length;
                TransactionBody body;
                if (k < perBlock)
                {
                    var (model, _, input) = digits[next % digits.Length];
                    body = new InferBody(model.ModelId, Canonical.Encode(input), 1_000_000);
                }
                else
                {
                    body = new TransferBody(accounts[(a + 1) % accounts.Length].Address, 1 + (ulong)next);
                }
                ulong fee = Gas.MinFee(body, net.Genesis.Parameters); // the genesis gas price, not an assumed 1
                var tx = new Transaction(net.Genesis.ChainId, accounts[a].PublicKey, nonces[a], fee, body).Sign(accounts[a]);
                SubmitResponse response;
                try
                {
                    response = await net.Clients[a % validators].SubmitAsync(tx, SubmitMode.Sync).ConfigureAwait(false);
                }
                catch (RpcClientException e)
                {
                    throw new CliException($"node {a % validators} refused transaction {tx.Hash}: {e.Message}");
                }
                if (response.Status != "pending") throw new CliException($"node {a % validators} did not accept a transaction: {response.Status}");
                nonces[a]++;
                submittedAt[tx.Hash] = clock.Elapsed.TotalMilliseconds;
                next++;
            }
        }

        var table = new Table().AddColumns("height", "round", "txs", "infer", "finality p50 ms", "tx/s", "predicted (label when wrong)", "identical on all", "block");
        async Task ObserveAsync(Action refresh)
        {
            await SubmitBatchAsync().ConfigureAwait(false);
            ulong seen = startHeight;
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds((60 + 10 * heights) * (mixed ? 6 : 1)));
            await foreach (var ev in net.Clients[0].BlockEventsAsync(cancel.Token).ConfigureAwait(false))
            {
                double now = clock.Elapsed.TotalMilliseconds;
                if (ev.Height <= seen) continue;
                for (ulong h = seen + 1; h <= ev.Height; h++)
                {
                    var o = await DescribeAsync(net, h, submittedAt, now, labels, known).ConfigureAwait(false);
                    observed.Add(o.Height);
                    finality.AddRange(o.Finality);
                    totalTxs += o.Height.Transactions;
                    inferred += o.Height.Inferences;
                    correct += o.Height.Correct;
                    unknownOutputs += o.UnknownOutputs;
                    allIdentical &= o.Height.Identical;
                    var x = o.Height;
                    table.AddRow(x.Height.ToString(), x.Round.ToString(), x.Transactions.ToString(), x.Inferences.ToString(),
                        double.IsNaN(x.FinalityP50Ms) ? "-" : x.FinalityP50Ms.ToString("F0"), (totalTxs / clock.Elapsed.TotalSeconds).ToString("F1"),
                        x.Predictions, x.Identical ? "[green]yes[/]" : "[red]NO[/]", x.BlockHash[..12]);
                    refresh();
                }
                seen = ev.Height;
                if (seen >= target) break;
                await SubmitBatchAsync().ConfigureAwait(false);
            }
            if (seen < target) throw new CliException($"only height {seen} of {target} was reached");
        }

        if (_console.Profile.Capabilities.Interactive)
            await _console.Live(table).StartAsync(async ctx => await ObserveAsync(ctx.Refresh).ConfigureAwait(false)).ConfigureAwait(false);
        else
        {
            await ObserveAsync(() => { }).ConfigureAwait(false);
            _console.Write(table);
        }

        // Every transaction sent was committed, and every node reports the same height range.
        var heightsNow = await Task.WhenAll(Enumerable.Range(0, validators).Select(i => net.HeightAsync(i))).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        finality.Sort();
        double P(double q) => finality.Count == 0 ? double.NaN : finality[Math.Min(finality.Count - 1, (int)(q * finality.Count))];
        _console.MarkupLine($"[bold]summary[/]: {observed.Count} heights ({startHeight + 1}..{target}), {totalTxs} transactions in {elapsed:F1} s ({totalTxs / elapsed:F1} tx/s), " +
            $"finality p50 {P(0.5):F0} ms, p95 {P(0.95):F0} ms (submit → committed; a proposer with pending transactions proposes at once, an idle one waits up to 700 ms)");
        _console.MarkupLine($"{inferred} inferences on MNIST test digits: {correct} predicted the label; {inferred - unknownOutputs}/{inferred} outputs equal this client's own canonical run");
        _console.MarkupLine($"rounds: {string.Join(" ", observed.GroupBy(o => o.Round).OrderBy(g => g.Key).Select(g => $"{g.Count()}×r{g.Key}"))}; node heights now: {string.Join(", ", heightsNow.Select(h => h?.ToString() ?? "down"))}");
        foreach (var i in net.Arm64Indices)
            _console.MarkupLine($"{net.Nodes[i].Name} (arm64): proposed {await net.ProposalsAsync(i, startHeight + 1, target).ConfigureAwait(false)} of the {observed.Count} blocks; " +
                $"{elapsed / Math.Max(observed.Count, 1):F1} s per height");
        _console.MarkupLine(allIdentical
            ? "[green]every node returned identical blocks and receipts (proofs verified) at every height[/]"
            : "[red]nodes disagree on blocks or receipts[/]");

        if (keepRunning)
        {
            // A devnet to try things against (the README's bring-your-own-model walkthrough): up until SIGINT/SIGTERM.
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
            _console.MarkupLine($"devnet keeps running: use [bold]--node {net.Clients[0].BaseAddress}[/] (or any node's rpc above) with `chain tx` and `chain query`; Ctrl-C stops it");
            await stop.Task.ConfigureAwait(false);
        }
        var exits = await Task.WhenAll(Enumerable.Range(0, validators).Select(i => net.StopAsync(i, TimeSpan.FromSeconds(20)))).ConfigureAwait(false);
        bool clean = exits.All(e => e == 0);
        _console.MarkupLine(clean ? "all nodes shut down cleanly (exit 0 on SIGTERM)" : $"[red]unclean shutdown: exit codes {string.Join(", ", exits.Select(e => e?.ToString() ?? "killed"))}[/]");
        return allIdentical && clean && unknownOutputs == 0 ? 0 : 1;
    }

    private sealed record Description(ObservedHeight Height, IReadOnlyList<double> Finality, int UnknownOutputs);

    // One height across all nodes: the same block hash everywhere, each transaction's receipt fetched (proof-checked)
    // from every node and compared, predictions decoded from the receipts' logits.
    private static async Task<Description> DescribeAsync(LocalNetwork net, ulong height, Dictionary<Hash32, double> submittedAt, double nowMs,
        Dictionary<Hash32, int> labels, Dictionary<(Hash32 Model, Hash32 Input), Hash32> known)
    {
        // The first node to commit announced it; the others may be a few milliseconds behind.
        if (!await LocalNetwork.WaitUntilAsync(async () => (await Task.WhenAll(Enumerable.Range(0, net.Nodes.Count).Select(i => net.HeightAsync(i))).ConfigureAwait(false))
                .All(h => h >= height), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20)).ConfigureAwait(false))
            throw new CliException($"not every node reached height {height} within 30 s");
        var blocks = await Task.WhenAll(net.Clients.Select(c => c.BlockAsync(height))).ConfigureAwait(false);
        var block = blocks[0].Block;
        bool identical = blocks.All(b => b.Block.Hash == block.Hash);
        var commit = (await net.Clients[0].CommitAsync(height).ConfigureAwait(false)).Commit;
        var predictions = new List<string>();
        var finality = new List<double>();
        int inferences = 0, correctCount = 0, unknown = 0;
        foreach (var tx in block.Transactions)
        {
            var receipts = await Task.WhenAll(net.Clients.Select(c => c.TransactionAsync(tx.Hash))).ConfigureAwait(false);
            identical &= receipts.All(r => r.Receipt.Hash == receipts[0].Receipt.Hash);
            if (submittedAt.Remove(tx.Hash, out var sent)) finality.Add(nowMs - sent);
            if (receipts[0].Receipt.Inference is not { } inference) continue;
            inferences++;
            if (!known.TryGetValue((inference.ModelId, inference.InputHash), out var expected) || expected != inference.OutputHash) unknown++;
            int predicted = GenesisModels.PredictedDigit(Canonical.Decode<Tensor>(inference.Output));
            int label = labels.TryGetValue(inference.InputHash, out var l) ? l : -1;
            if (predicted == label) correctCount++;
            predictions.Add(predicted == label ? $"[green]{predicted}[/]" : $"[red]{predicted}({label})[/]");
        }
        var sorted = finality.Order().ToList();
        double p50 = sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
        return new Description(new ObservedHeight(height, commit.Round.Value, block.Transactions.Count, inferences, correctCount, p50,
            string.Join(" ", predictions), identical, block.Hash.ToString()), finality, unknown);
    }
}
