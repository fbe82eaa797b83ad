using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Chain.Cli.Bench;
using Chain.Cli.Devnet;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Runtime;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain bench models`: issue 17's goals for large models, measured in one run on a 4-validator devnet of real processes:
/// (a) registering an N MB model in chunks against N MB ÷ the committed transaction bytes per second of a batch of
/// transfers, (b) the nodes' time for the second and later Infer transactions on the cached model against the raw
/// canonical inference time, (c) every node's peak RSS against its RSS at start plus the model cache's budget plus
/// <see cref="RssConstantBytes"/> (docs/execution.md, "RSS bound").
/// </summary>
internal static class BenchModelsCommand
{
    /// <summary>The nodes' <c>inference.model_cache_bytes</c> here: smaller than the default, so the bound is not mostly budget.</summary>
    public const long BenchCacheBytes = 128L << 20;

    /// <summary>
    /// C in goal (c)'s bound, peak RSS ≤ RSS at start + model_cache_bytes + C: what a node holds outside the model
    /// cache while it takes a model of up to 32 MB, measured, not derived (docs/execution.md, "RSS bound", says how it was chosen).
    /// </summary>
    public const long RssConstantBytes = 384L << 20;

    public sealed record Report(
        int ModelBytes, int Chunks, long ModelGas, long CacheBudgetBytes,
        int Transfers, double TransferSeconds, double TransferBytesPerSecond,
        double RegistrationSeconds, double ChunkTxBytesPerSecond, double RegistrationRatio,
        double RawLoadMs, double RawCanonicalMs, double CachedRunnerMs, double CachedRatio,
        double FirstInferNodeMs, double LaterInferNodeMs, int LaterInfers, double NodeRatio, string NodeExecutor,
        double LoadedManagedMb, double LoadedRssMb, double ChargedMb,
        double RssStartMb, double RssPeakRegistrationMb, double RssPeakMb, double RssFinalMb, double RssConstantMb,
        double RssBoundMb, double RssRatio, bool RssPass, int RssWorstNode, double NodeChargedMb);

    public static Command Create()
    {
        var seed = new Option<int>("--seed") { Description = "Seed of the generated model's weights", DefaultValueFactory = _ => 30 };
        var width = new Option<int>("--width") { Description = "Stem width of the generated ResNet-34-shaped model (76: about 30 MB)", DefaultValueFactory = _ => 76 };
        var transfers = new Option<int>("--transfers") { Description = "Transfers in the throughput batch", DefaultValueFactory = _ => 400 };
        var infers = new Option<int>("--infers") { Description = "Infer transactions on the registered model (the first loads it)", DefaultValueFactory = _ => 5 };
        var cache = new Option<long>("--cache-bytes") { Description = "The nodes' inference.model_cache_bytes", DefaultValueFactory = _ => BenchCacheBytes };
        var canonical = new Option<bool>("--canonical") { Description = "Run the nodes with the canonical executor only (no ONNX Runtime fast path)" };
        var json = new Option<string?>("--json") { Description = "Write the figures as JSON to this file" };
        var command = new Command("models", "Large-model goals on a 4-validator devnet: chunked registration vs committed bytes/s, cached Infer vs raw canonical, RSS vs cache budget")
        {
            seed, width, transfers, infers, cache, canonical, json,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int t = result.GetValue(transfers), n = result.GetValue(infers);
            if (t is < 10 or > 20_000 || n is < 2 or > 100) throw new CliException("--transfers must be 10..20000 and --infers 2..100");
            if (result.GetValue(cache) < 0) throw new CliException("--cache-bytes must not be negative");
            var model = SyntheticResNet.Create(result.GetValue(seed), result.GetValue(width));
            var report = RunAsync(model, t, n, result.GetValue(cache), result.GetValue(canonical), output).GetAwaiter().GetResult();
            Print(report, output);
            if (result.GetValue(json) is { } file)
                OutputFiles.WriteText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return 0;
        }));
        return command;
    }

    private static async Task<Report> RunAsync(byte[] model, int transferCount, int inferCount, long cacheBytes, bool canonicalOnly, TextWriter output)
    {
        var admission = ModelAdmission.Check(model);
        if (!admission.Admitted) throw new CliException("the generated model is refused: " + string.Join("; ", admission.Reasons.Take(3)));
        var id = DomainHash.Compute(HashDomain.Model, model);
        int chunks = BeginModelUploadBody.ChunksFor(model.Length);
        output.WriteLine($"model {id}: {model.Length} bytes ({chunks} chunks), {admission.Model!.Graph.Nodes.Count} nodes, gas {admission.Gas} per inference");

        // The raw baseline, in this process: canonical load (parse, admission, plan), then warm runs on seeded inputs.
        var inputs = Enumerable.Range(0, inferCount).Select(i => InputGenerator.Create(CanonicalExecutor.Load(model).Inputs, InputPattern.Random, 1000 + i)[0].Value).ToArray();
        long t0 = Stopwatch.GetTimestamp();
        using var raw = CanonicalExecutor.Load(model);
        double rawLoadMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        var inputName = raw.Inputs[0].Name;
        raw.Run([new NamedTensor(inputName, inputs[0])]);
        var runs = inputs.Select(x =>
        {
            long s = Stopwatch.GetTimestamp();
            raw.Run([new NamedTensor(inputName, x)]);
            return Stopwatch.GetElapsedTime(s).TotalMilliseconds;
        }).Order().ToArray();
        double rawMs = runs[runs.Length / 2];
        output.WriteLine($"raw canonical: load {rawLoadMs:F0} ms, inference {rawMs:F1} ms (median of {runs.Length})");

        // (b) in this process: Infer's path on a cached model (InferenceRunner → model cache lease → executor; no outcome
        // cache) against raw canonical runs, interleaved so both see the same machine. And (c) what the loaded model costs.
        long managed0 = GC.GetTotalMemory(forceFullCollection: true), rss0 = Environment.WorkingSet;
        using var engine = new InferenceEngine(enableFastPath: !canonicalOnly);
        var runner = new InferenceRunner(engine, cacheCapacity: 0);
        var mode = canonicalOnly ? InferenceMode.CanonicalOnly : InferenceMode.FastPath;
        runner.Run(id, () => model, inputs[0], mode); // the miss: parse, admission, plan, self-check
        double loadedManaged = (GC.GetTotalMemory(forceFullCollection: true) - managed0) / 1048576.0;
        double loadedRss = (Environment.WorkingSet - rss0) / 1048576.0;
        double charged = engine.ModelCacheBytes / 1048576.0;
        var cachedRuns = new List<double>();
        var rawRuns = new List<double>();
        for (int round = 0; round < 2; round++)
            foreach (var x in inputs.Skip(1))
            {
                long s = Stopwatch.GetTimestamp();
                raw.Run([new NamedTensor(inputName, x)]);
                rawRuns.Add(Stopwatch.GetElapsedTime(s).TotalMilliseconds);
                s = Stopwatch.GetTimestamp();
                runner.Run(id, () => throw new InvalidOperationException("the model is cached"), x, mode);
                cachedRuns.Add(Stopwatch.GetElapsedTime(s).TotalMilliseconds);
            }
        double cachedMs = Median(cachedRuns), rawInterleavedMs = Median(rawRuns);
        var choice = engine.Choices.Single(c => c.ModelId == id);
        string engineExecutor = choice.UsesFastPath ? "ORT fast path" : $"canonical: {choice.Reason}";
        output.WriteLine($"cached Infer path in process: {cachedMs:F1} ms vs raw canonical {rawInterleavedMs:F1} ms (medians of {rawRuns.Count}, interleaved): " +
            $"{cachedMs / rawInterleavedMs:F2}×; executor {engineExecutor}");
        output.WriteLine($"loaded model: managed heap +{loadedManaged:F0} MiB, process RSS +{loadedRss:F0} MiB; the cache charges {charged:F0} MiB");

        var directory = Path.Combine(Path.GetTempPath(), $"chain-bench-models-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            const int Validators = 4;
            await using var network = LocalNetwork.Create(Path.Combine(directory, "net"), Validators, HomeCommands.RepositoryGenesis(), configure: c =>
            {
                c.Consensus.MinBlockIntervalMs = 200; // as `chain bench network`'s default: the pause before building does not set the pace
                c.Inference.ModelCacheBytes = cacheBytes;
                c.Inference.FastPath = !canonicalOnly;
                c.Log.Level = "warn";
            });
            output.WriteLine($"starting {Validators} validators in {directory} ...");
            for (int i = 0; i < Validators; i++) network.Start(i);
            if (!await LocalNetwork.WaitUntilAsync(async () => (await Task.WhenAll(Enumerable.Range(0, Validators).Select(i => network.HeightAsync(i)))).All(h => h >= 1),
                    TimeSpan.FromSeconds(120)))
                throw new CliException($"the network did not commit height 1 within 120 s; logs: {network.LogPath(0)} ...");
            // (c) Each node's RSS at start; its peaks are the kernel's high-water mark (VmHWM), exact, not sampled.
            var start = Enumerable.Range(0, Validators).Select(i => ProcessMemory.Read(network.ProcessId(i))).ToArray();

            // (a) The committed transaction bytes per second of a batch of transfers, then the chunked registration.
            var (transferSeconds, transferBytes) = await TransfersAsync(network, Validators, transferCount);
            double bytesPerSecond = transferBytes / transferSeconds;
            output.WriteLine($"{transferCount} transfers ({transferBytes} bytes) committed in {transferSeconds:F2} s: {bytesPerSecond:N0} committed tx bytes/s");

            var key = DevnetKeys.For("account-0");
            using var client = new RpcClient(new Uri($"http://127.0.0.1:{network.Nodes[0].RpcPort}/"));
            long r0 = Stopwatch.GetTimestamp();
            int code = new ChunkedUpload(client, key, network.Genesis.Parameters, network.Genesis.ChainId, output, TimeSpan.FromSeconds(120)).Run("bench-resnet", model);
            double registrationSeconds = Stopwatch.GetElapsedTime(r0).TotalSeconds;
            if (code != 0) throw new CliException("the registration failed");
            await Task.Delay(2000); // the nodes' last commits, and the background collection after the seal's block (MemoryReclaimer)
            var registered = Enumerable.Range(0, Validators).Select(i => ProcessMemory.Read(network.ProcessId(i))).ToArray();
            double chunkTxBytes = model.Length + (chunks + 2) * 200.0; // chunk payloads plus about 200 bytes of envelope per transaction
            double registrationRatio = registrationSeconds / (model.Length / bytesPerSecond);
            output.WriteLine($"registered in {registrationSeconds:F1} s ({chunkTxBytes / registrationSeconds:N0} chunk tx bytes/s); " +
                $"{model.Length} bytes ÷ transfer bytes/s = {model.Length / bytesPerSecond:F1} s; ratio {registrationRatio:F2} (goal ≤ 3)");

            // (b) Infers on the registered model, each waited for; the nodes' own inference timings from /metrics.
            var signer = DevnetKeys.For("account-1");
            ulong nonce = (await client.AccountAsync(signer.Address)).Account.Nonce;
            var label = id.ToString()[..12];
            var before = await InferenceTimesAsync(network, Validators, label);
            var after = before;
            double firstNodeMs = 0;
            for (int i = 0; i < inferCount; i++)
            {
                var body = new InferBody(id, Canonical.Encode(inputs[i]), (ulong)admission.Gas + 1_000_000);
                var tx = new Transaction(network.Genesis.ChainId, signer.PublicKey, nonce++, Gas.MinFee(body, network.Genesis.Parameters), body).Sign(signer);
                var response = await client.SubmitAsync(tx, SubmitMode.Commit, TimeSpan.FromSeconds(120));
                if (response.Receipt is not { Status: nameof(ReceiptStatus.Success) })
                    throw new CliException($"Infer {i} ({response.Hash}) did not succeed: {response.Receipt?.Status ?? "no receipt"}");
                // Every node ran it (pre-execution or block execution) before its commit; wait for the metrics to be scraped by the node's sampler.
                await Task.Delay(1200);
                var now = await InferenceTimesAsync(network, Validators, label);
                if (i == 0) firstNodeMs = (now.Seconds - before.Seconds) * 1000 / Math.Max(1, now.Count - before.Count);
                else if (i == 1) before = now;
                after = now;
            }
            // From the second Infer's completion to the last: the node-side mean of the inferences run on the cached model.
            int laterCount = (int)(after.Count - before.Count);
            double laterMs = laterCount > 0 ? (after.Seconds - before.Seconds) * 1000 / laterCount : double.NaN;
            double nodeRatio = laterMs / rawMs;
            string executor = engineExecutor; // the nodes decide as this process's engine did (the same self-check rules)
            output.WriteLine($"node inference: first {firstNodeMs:F1} ms (includes loading the model), later mean {laterMs:F1} ms over {laterCount} runs " +
                $"(4 nodes on this machine's cores at once); ratio to raw canonical {nodeRatio:F2} (nodes: {executor})");

            // (c) Every node's peak RSS against its own bound: RSS at start + the cache budget + C; the worst ratio counts.
            var end = Enumerable.Range(0, Validators).Select(i => ProcessMemory.Read(network.ProcessId(i))).ToArray();
            double nodeCharged = await ModelCacheBytesAsync(network, 0) / 1048576.0;
            for (int i = 0; i < Validators; i++)
                output.WriteLine($"node {i} RSS MiB: start {start[i].RssMb:F0} (anon {start[i].AnonMb:F0}, files {start[i].FileMb:F0}), " +
                    $"peak through registration {registered[i].PeakMb:F0}, after it {registered[i].RssMb:F0} (anon {registered[i].AnonMb:F0}, files {registered[i].FileMb:F0}), " +
                    $"peak {end[i].PeakMb:F0}, final {end[i].RssMb:F0} (anon {end[i].AnonMb:F0}, files {end[i].FileMb:F0}); bound {Bound(start[i]):F0}: {end[i].PeakMb / Bound(start[i]):F2}");
            int worst = Enumerable.Range(0, Validators).MaxBy(i => end[i].PeakMb / Bound(start[i]));
            double ratio = end[worst].PeakMb / Bound(start[worst]);
            output.WriteLine($"model cache charged {nodeCharged:F0} MiB of a {cacheBytes / 1048576.0:F0} MiB budget (node 0)");
            return new Report(model.Length, chunks, admission.Gas, cacheBytes, transferCount, transferSeconds, bytesPerSecond,
                registrationSeconds, chunkTxBytes / registrationSeconds, registrationRatio,
                rawLoadMs, rawInterleavedMs, cachedMs, cachedMs / rawInterleavedMs, firstNodeMs, laterMs, laterCount, nodeRatio, executor,
                loadedManaged, loadedRss, charged, start[worst].RssMb, registered[worst].PeakMb, end[worst].PeakMb, end[worst].RssMb,
                RssConstantBytes / 1048576.0, Bound(start[worst]), ratio, ratio <= 1, worst, nodeCharged);

            double Bound(ProcessMemory.Sample s) => s.RssMb + (cacheBytes + RssConstantBytes) / 1048576.0;
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

    // Transfers from every funded devnet sender, each through its own node in nonce order; the time from the first
    // submission until the last sender's last transfer is committed, and the transfers' encoded bytes.
    private static async Task<(double Seconds, long Bytes)> TransfersAsync(LocalNetwork network, int validators, int count)
    {
        var keys = DevnetKeys.FundedSenders(3 + validators);
        var parameters = network.Genesis.Parameters;
        var nonces = new ulong[keys.Length];
        for (int k = 0; k < keys.Length; k++) nonces[k] = (await network.Clients[k % validators].AccountAsync(keys[k].Address)).Account.Nonce;
        var txs = Enumerable.Range(0, count).Select(i =>
        {
            int k = i % keys.Length;
            var body = new TransferBody(keys[(k + 1) % keys.Length].Address, 1);
            return (Sender: k, Tx: new Transaction(network.Genesis.ChainId, keys[k].PublicKey, nonces[k]++, Gas.MinFee(body, parameters), body).Sign(keys[k]));
        }).ToList();
        long bytes = txs.Sum(t => (long)t.Tx.Encoded.Length);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(txs.GroupBy(t => t.Sender).Select(g => Task.Run(async () =>
        {
            foreach (var (sender, tx) in g) await SubmitAsync(network.Clients[sender % validators], tx);
        })));
        var lasts = txs.GroupBy(t => t.Sender).Select(g => (Node: g.Key % validators, g.Last().Tx.Hash)).ToList();
        var deadline = Stopwatch.StartNew();
        foreach (var (node, hash) in lasts)
            while (!await CommittedAsync(network.Clients[node], hash))
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(120)) throw new CliException($"transfer {hash} was not committed within 120 s");
                await Task.Delay(20);
            }
        return (clock.Elapsed.TotalSeconds, bytes);
    }

    private static async Task<bool> CommittedAsync(RpcClient client, Hash32 hash)
    {
        try
        {
            await client.TransactionAsync(hash);
            return true;
        }
        catch (RpcClientException e) when (e.Status == 404)
        {
            return false;
        }
    }

    private static Task SubmitAsync(RpcClient client, SignedTransaction tx) =>
        BenchSubmission.SubmitAsync(client, tx, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));

    // chain_inference_seconds{model=label}: sum and count over every node.
    private static async Task<(double Seconds, long Count)> InferenceTimesAsync(LocalNetwork network, int validators, string label)
    {
        double seconds = 0;
        long count = 0;
        foreach (var text in await Task.WhenAll(Enumerable.Range(0, validators).Select(i => MetricsAsync(network, i))))
        {
            seconds += Sample(text, $"chain_inference_seconds_sum{{model=\"{label}\"}}");
            count += (long)Sample(text, $"chain_inference_seconds_count{{model=\"{label}\"}}");
        }
        return (seconds, count);
    }

    private static async Task<long> ModelCacheBytesAsync(LocalNetwork network, int node) => (long)Sample(await MetricsAsync(network, node), "chain_model_cache_bytes");

    private static async Task<string> MetricsAsync(LocalNetwork network, int node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://127.0.0.1:{network.Nodes[node].RpcPort}/metrics");
    }

    // The value of the sample named exactly `name` (with its labels), 0 when absent.
    private static double Sample(string metrics, string name)
    {
        foreach (var line in metrics.Split('\n'))
            if (line.StartsWith(name + " ", StringComparison.Ordinal)
                && double.TryParse(line[(name.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                return value;
        return 0;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static void Print(Report r, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"(a) registration of {r.ModelBytes / 1e6:F1} MB: {r.RegistrationSeconds:F1} s vs {r.ModelBytes / r.TransferBytesPerSecond:F1} s " +
            $"(model bytes ÷ {r.TransferBytesPerSecond:N0} committed transfer bytes/s): {r.RegistrationRatio:F2}× (goal ≤ 3×)");
        output.WriteLine($"(b) Infer on the cached model: {r.CachedRunnerMs:F1} ms vs {r.RawCanonicalMs:F1} ms raw canonical: {r.CachedRatio:F2}× (goal ≤ 1.2×); " +
            $"on the 4-node devnet {r.LaterInferNodeMs:F1} ms ({r.NodeRatio:F2}×, 4 processes sharing the cores; the first Infer, loading it, {r.FirstInferNodeMs:F0} ms)");
        output.WriteLine($"(c) node peak RSS {r.RssPeakMb:F0} MiB vs start {r.RssStartMb:F0} + budget {r.CacheBudgetBytes / 1048576.0:F0} + C {r.RssConstantMb:F0} = {r.RssBoundMb:F0} MiB " +
            $"(node {r.RssWorstNode}, the worst ratio): {r.RssRatio:F2}× {(r.RssPass ? "PASS" : "MISS")} (goal ≤ 1×); peak through registration {r.RssPeakRegistrationMb:F0} MiB, " +
            $"final {r.RssFinalMb:F0} MiB, model cache charged {r.NodeChargedMb:F0} MiB (in process: loading the model grew the managed heap {r.LoadedManagedMb:F0} MiB, " +
            $"RSS {r.LoadedRssMb:F0} MiB, for {r.ChargedMb:F0} MiB charged)");
    }
}
