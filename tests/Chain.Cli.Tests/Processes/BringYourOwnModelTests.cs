using Chain.Core;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Testing.FloatModels;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// The README's bring-your-own-model walkthrough on the real 4-process devnet, through the CLI exactly as a user
/// types it: float ONNX → `chain model quantize` → `chain model check` → `chain tx register-model` →
/// `chain tx infer` with a float .npy input → `chain query receipt --rerun` on every node.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class BringYourOwnModelTests(ITestOutputHelper output)
{
    [Fact]
    public Task A_float_model_is_quantized_registered_inferred_with_float_input_and_its_receipt_re_run_on_every_node() =>
        ProcessTestNetwork.RunAsync(output, "byom", async net =>
        {
            var model = FloatModelZoo.KeywordSpottingMlp();
            var dir = Path.Combine(net.Directory, "byom");
            var calibration = Directory.CreateDirectory(Path.Combine(dir, "calibration")).FullName;
            var i = 0;
            foreach (var s in FloatModelZoo.Samples(model, 40, seed: 1))
                File.WriteAllBytes(Path.Combine(calibration, $"{i++:D3}.npy"), TensorFiles.ToNpy(s.Input));
            var floatFile = Path.Combine(dir, "kws.onnx");
            File.WriteAllBytes(floatFile, model.Bytes);
            var int8File = Path.Combine(dir, "kws.int8.onnx");
            var report = Path.Combine(dir, "report.md");

            var quantize = Run(net, "model", "quantize", floatFile, "--out", int8File, "--calibration", calibration, "--report", report);
            Assert.True(File.Exists(int8File) && File.Exists(report));
            Assert.Contains("top-1", File.ReadAllText(report), StringComparison.OrdinalIgnoreCase);
            var check = Run(net, "model", "check", int8File);
            Assert.Contains("admitted", check);

            var url = $"http://127.0.0.1:{net.Net.Nodes[0].RpcPort}/";
            var register = Run(net, "tx", "register-model", "--model", int8File, "--name", "kws-int8", "--devnet-key", "account-0", "--node", url, "--wait");
            Assert.Contains("Success", register);
            var modelId = register.Split('\n')[0].Split(' ')[^1].Trim();
            Assert.True(Hash32.TryParse(modelId, out _), register);

            // Float in: a held-out labelled example, quantized on the client with the model's recorded parameters.
            var sample = FloatModelZoo.Samples(model, 1, seed: 7)[0];
            var input = Path.Combine(dir, "input.npy");
            File.WriteAllBytes(input, TensorFiles.ToNpy(sample.Input));
            var infer = Run(net, "tx", "infer", "--model", modelId, "--input", input, "--devnet-key", "account-0", "--node", url, "--wait");
            Assert.Contains("Success", infer);
            Assert.Contains("dequantized", infer);
            // The int8 model classifies the held-out example as its label (the float model does too).
            Assert.Contains($"top 3 after softmax: {sample.Label} ", infer);
            var txHash = infer.Split(' ')[1].TrimEnd(':');

            // Every node serves the same proven receipt, and re-running it here reproduces the committed output.
            var outputs = new HashSet<string>();
            for (var node = 0; node < net.Count; node++)
            {
                var rerun = Run(net, "query", "receipt", txHash, "--rerun", "--node", $"http://127.0.0.1:{net.Net.Nodes[node].RpcPort}/");
                Assert.Contains("matches", rerun);
                outputs.Add(rerun.Split(", output ")[1].Split(' ')[0]);
            }
            Assert.Single(outputs);
        });

    private static string Run(ProcessTestNetwork net, params string[] args)
    {
        var outcome = CliHarness.Run(args);
        net.Log($"$ chain {string.Join(' ', args)}\n{outcome.Output}{outcome.Error}");
        Assert.True(outcome.ExitCode == 0, $"chain {string.Join(' ', args)} exited {outcome.ExitCode}: {outcome.Error}");
        return outcome.Output;
    }
}
