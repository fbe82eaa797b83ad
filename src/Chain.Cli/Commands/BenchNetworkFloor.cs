using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using GenesisModel = Chain.Inference.Runtime.GenesisModel;
using Chain.Node;

namespace Chain.Cli.Commands;

/// <summary>
/// The floor of `chain bench network`, measured on an idle machine before the nodes start: write+fsync on the nodes'
/// disk, a loopback TCP round trip, Ed25519 verifies per second on one core and on all cores, one raw canonical
/// inference of the genesis MLP, and a one-transaction block's re-execution (the execution benchmark's own code).
/// </summary>
internal static class BenchNetworkFloor
{
    public static async Task<BenchFloor> MeasureAsync(string directory, ChainId chainId, GenesisModel mlp, IReadOnlyList<(int Label, byte[] Pixels)> digits)
    {
        double fsync = FsyncP50Ms(directory, 200);
        double rtt = await LoopbackRttP50MsAsync(2000);
        var (oneCore, allCores) = VerifyPerSecond(chainId, 20_000);
        double inference = InferenceP50Ms(mlp.Bytes, digits);
        var (transferBlock, inferCold, inferWarm) = OneTransactionBlockMs(mlp.Bytes);
        return new BenchFloor(Environment.ProcessorCount, fsync, rtt, oneCore, allCores, inference, transferBlock, inferCold, inferWarm);
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
        return Percentile.Of([.. samples.Order()], 0.5);
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
        return Percentile.Of([.. samples.Order()], 0.5);
    }

    /// <summary>Ed25519 verifications per second of a real transaction's sign bytes, on one core and on every core at once.</summary>
    private static (double OneCore, double AllCores) VerifyPerSecond(ChainId chainId, int rounds)
    {
        using var key = DevnetKeys.For("account-0");
        var tx = new Transaction(chainId, key.PublicKey, 0, 10_000, new TransferBody(key.Address, 1)).Sign(key);
        var message = tx.Transaction.SignBytes();
        var signature = tx.Signature;
        var publicKey = key.PublicKey;
        void Check()
        {
            if (!Ed25519.Verify(publicKey, message, signature)) throw new InvalidOperationException("a valid signature failed to verify");
        }
        for (int i = 0; i < 500; i++) Check();
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < rounds; i++) Check();
        double oneCore = rounds / Stopwatch.GetElapsedTime(t0).TotalSeconds;

        // Each core verifies its share; the rate is all of them over the wall time of the slowest.
        int cores = Environment.ProcessorCount, each = Math.Max(1, rounds / cores);
        t0 = Stopwatch.GetTimestamp();
        Parallel.For(0, cores, new ParallelOptions { MaxDegreeOfParallelism = cores }, _ =>
        {
            for (int i = 0; i < each; i++) Check();
        });
        double allCores = (double)each * cores / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (oneCore, allCores);
    }

    /// <summary>Median of one raw canonical inference (no transaction, no cache) over the shipped test digits.</summary>
    private static double InferenceP50Ms(byte[] modelBytes, IReadOnlyList<(int Label, byte[] Pixels)> digits)
    {
        using var executor = CanonicalExecutor.Load(modelBytes);
        var inputName = executor.Inputs[0].Name;
        var inputs = digits.Select(d => new NamedTensor(inputName, GenesisModels.ImageTensor(d.Pixels))).ToArray();
        foreach (var input in inputs.Take(20)) executor.Run([input]); // warm-up
        var samples = new double[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            executor.Run([inputs[i]]);
            samples[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return Percentile.Of([.. samples.Order()], 0.5);
    }

    // The execution benchmark's one-transfer block and one-Infer block (VerifyProposal), best of three: the Infer block
    // on a fresh executor (cold: the model loaded on the way) and on one whose mempool admitted it first (warm, cached).
    private static (double TransferMs, double InferColdMs, double InferWarmMs) OneTransactionBlockMs(byte[] modelBytes)
    {
        double transfer = double.MaxValue, cold = double.MaxValue, warm = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var figures = ExecutionBenchmark.Run(modelBytes, "mlp", transfers: 1, inferences: 1).Figures;
            transfer = Math.Min(transfer, Find(figures, "transfer block re-execution (VerifyProposal), signatures on").Seconds * 1000);
            cold = Math.Min(cold, Find(figures, "Infer block re-execution, no cache").Seconds * 1000);
            warm = Math.Min(warm, Find(figures, "Infer block re-execution, admitted by the mempool first").Seconds * 1000);
        }
        return (transfer, cold, warm);
    }

    private static BenchFigure Find(IReadOnlyList<BenchFigure> figures, string prefix) =>
        figures.FirstOrDefault(f => f.Name.StartsWith(prefix, StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"the execution benchmark has no figure named \"{prefix}...\"");
}

internal static class Percentile
{
    public static double Of(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[(int)Math.Round(q * (sorted.Length - 1))];
}
