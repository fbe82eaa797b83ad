using System.Diagnostics;
using Chain.Cli.Bench;
using Chain.Cli.Commands;
using Chain.Core;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// Issue 17's devnet test: a generated ~30 MB admitted int8 CNN (ResNet-34's layout of basic blocks, random weights)
/// registered in 1 MiB chunks through RPC on the 4-process devnet, inferred, with identical receipts on every
/// validator, and re-executed by the light-client path (chunks fetched one by one with proofs and reassembled by
/// ModelCodeAssembly, then the canonical executor). Slow (tens of MB through consensus on a shared machine): filter it
/// with <c>Category=LargeModel</c>.
/// </summary>
[Collection(ProcessCollection.Name)]
[Trait("Category", "LargeModel")]
public sealed class LargeModelTests(ITestOutputHelper output)
{
    private const int Seed = 30;

    [Fact]
    public Task A_30_MB_model_is_registered_in_chunks_inferred_identically_everywhere_and_re_executed_from_proven_chunks() =>
        ProcessTestNetwork.RunAsync(output, "large-model", async net =>
        {
            net.Log($"seed {Seed}");
            var model = SyntheticResNet.Create(Seed);
            var admission = ModelAdmission.Check(model);
            Assert.True(admission.Admitted, string.Join("; ", admission.Reasons));
            Assert.InRange(model.Length, 28_000_000, ProtocolLimits.MaxModelBytes);
            Assert.True(model.Length > ProtocolLimits.MaxRegisterModelBytes);
            var id = DomainHash.Compute(HashDomain.Model, model);
            net.Log($"model {id}: {model.Length} bytes, {admission.Model!.Graph.Nodes.Count} nodes, gas {admission.Gas} per inference");
            var file = Path.Combine(net.Directory, "resnet.onnx");
            await File.WriteAllBytesAsync(file, model);

            string Url(int i) => $"http://127.0.0.1:{net.Net.Nodes[i].RpcPort}/";
            var clock = Stopwatch.StartNew();
            var register = Run(net, "tx", "register-model", "--model", file, "--name", "resnet-30mb", "--devnet-key", "account-0", "--node", Url(0), "--timeout", "120");
            Assert.Contains($"model {id} registered", register);
            net.Log($"registered {model.Length} bytes in {BeginModelUploadBody.ChunksFor(model.Length)} chunks in {clock.Elapsed.TotalSeconds:F1} s");
            for (int i = 0; i < net.Count; i++) Assert.Equal(model, await net.Net.Clients[i].ModelCodeAsync(id)); // every chunk proven, reassembled, hashed

            var random = new Random(Seed);
            var pixels = new byte[3 * 8 * 8];
            random.NextBytes(pixels);
            var input = Path.Combine(net.Directory, "image.npy");
            await File.WriteAllBytesAsync(input, TensorFiles.ToNpy(Tensor.Create(TensorElementType.UInt8, [1, 3, 8, 8], pixels)));
            var hashes = new List<string>();
            foreach (var key in new[] { "account-1", "account-2" }) // the second meets the model loaded (the model cache)
            {
                clock.Restart();
                var infer = Run(net, "tx", "infer", "--model", id.ToString(), "--input", input, "--devnet-key", key, "--node", Url(0),
                    "--max-gas", (admission.Gas + 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), "--wait", "--timeout", "120");
                Assert.Contains("Success", infer);
                hashes.Add(infer.Split(' ')[1].TrimEnd(':'));
                net.Log($"infer by {key} committed in {clock.Elapsed.TotalSeconds:F1} s");
            }

            // Identical proven receipts on every validator, and the same output from a local canonical re-run on each.
            foreach (var hash in hashes)
            {
                var found = await Task.WhenAll(Enumerable.Range(0, net.Count).Select(i => net.Net.Clients[i].TransactionAsync(Hash32.Parse(hash))));
                Assert.Single(found.Select(f => (f.Served.Height, f.Served.BlockHash, f.Receipt.Hash)).Distinct());
                Assert.Equal(ReceiptStatus.Success, found[0].Receipt.Status);
                Assert.Equal(id, found[0].Receipt.Inference!.ModelId);
            }
            var outputs = new HashSet<string>();
            for (int i = 0; i < net.Count; i++)
            {
                var rerun = Run(net, "query", "receipt", hashes[0], "--rerun", "--node", Url(i));
                Assert.Contains("matches", rerun);
                outputs.Add(rerun.Split(", output ")[1].Split(' ')[0]);
            }
            Assert.Single(outputs);

            // The light client: headers verified from genesis, the model's chunks proven against them, re-executed here.
            var light = Path.Combine(net.Directory, "light");
            Run(net, "light", "init", "--home", light, "--node", Url(1), "--genesis", net.Net.Nodes[0].Home.GenesisPath);
            var receipt = Run(net, "light", "receipt", hashes[1], "--home", light, "--rerun", "--witness", Url(2));
            Assert.Contains("matches", receipt);
        });

    /// <summary>
    /// Goal (c)'s bound on one node: registering a ~10 MB model in chunks and running it twice keeps the node's peak RSS
    /// (VmHWM, the kernel's exact high-water mark) within its RSS at start + the model cache budget + C
    /// (<see cref="BenchModelsCommand.RssConstantBytes"/>; docs/execution.md, "RSS bound"). No timing is asserted.
    /// </summary>
    [Fact]
    public Task A_node_registering_and_running_a_10_MB_model_stays_within_its_RSS_bound() =>
        ProcessTestNetwork.RunAsync(output, "model-rss", async net =>
        {
            net.Log($"seed {Seed}");
            var model = SyntheticResNet.Create(Seed, width: 44);
            var admission = ModelAdmission.Check(model);
            Assert.True(admission.Admitted, string.Join("; ", admission.Reasons));
            Assert.InRange(model.Length, 9_000_000, 12_000_000);
            var id = DomainHash.Compute(HashDomain.Model, model);
            var file = Path.Combine(net.Directory, "resnet.onnx");
            await File.WriteAllBytesAsync(file, model);
            int pid = net.Net.ProcessId(0) ?? throw new InvalidOperationException("node 0 has no process");
            var start = ProcessMemory.Read(pid);
            string url = $"http://127.0.0.1:{net.Net.Nodes[0].RpcPort}/";

            Assert.Contains($"model {id} registered",
                Run(net, "tx", "register-model", "--model", file, "--name", "resnet-10mb", "--devnet-key", "account-0", "--node", url, "--timeout", "120"));
            var registered = ProcessMemory.Read(pid);
            var pixels = new byte[3 * 8 * 8];
            new Random(Seed).NextBytes(pixels);
            var input = Path.Combine(net.Directory, "image.npy");
            await File.WriteAllBytesAsync(input, TensorFiles.ToNpy(Tensor.Create(TensorElementType.UInt8, [1, 3, 8, 8], pixels)));
            foreach (var key in new[] { "account-1", "account-2" }) // the first loads the model, the second meets it cached
                Assert.Contains("Success", Run(net, "tx", "infer", "--model", id.ToString(), "--input", input, "--devnet-key", key, "--node", url,
                    "--max-gas", (admission.Gas + 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), "--wait", "--timeout", "120"));

            var end = ProcessMemory.Read(pid);
            double bound = start.RssMb + (RssCacheBytes + BenchModelsCommand.RssConstantBytes) / 1048576.0;
            net.Log($"{model.Length} bytes: RSS MiB start {start.RssMb:F0}, peak through registration {registered.PeakMb:F0}, peak {end.PeakMb:F0}, " +
                $"final {end.RssMb:F0} (anon {end.AnonMb:F0}, files {end.FileMb:F0}); bound {bound:F0}");
            Assert.True(end.PeakMb <= bound, $"peak RSS {end.PeakMb:F0} MiB is over start {start.RssMb:F0} + budget {RssCacheBytes >> 20} + C {BenchModelsCommand.RssConstantBytes >> 20} = {bound:F0} MiB");
        }, validators: 1, configure: c => c.Inference.ModelCacheBytes = RssCacheBytes);

    // The RSS test's model cache budget: room for the 10 MB model's 30 MB charge.
    private const long RssCacheBytes = 64L << 20;

    private static string Run(ProcessTestNetwork net, params string[] args)
    {
        var outcome = CliHarness.Run(args);
        net.Log($"$ chain {string.Join(' ', args)}\n{outcome.Output}{outcome.Error}");
        Assert.True(outcome.ExitCode == 0, $"chain {string.Join(' ', args)} exited {outcome.ExitCode}: {outcome.Error}");
        return outcome.Output;
    }
}
