using Chain.Core.Codec;
using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Cli.Tests;

public class InferenceCommandTests
{
    private static string Genesis(string file) =>
        Path.Combine(GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found"), file);

    [Fact]
    public void Infer_on_a_genesis_digit_prints_the_shipped_output_hash_under_both_executors()
    {
        var model = GenesisModels.Load(Path.GetDirectoryName(Genesis("vectors.json"))!)[0];
        var digit = model.Digits[0];
        var inputFile = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(inputFile, Canonical.Encode(GenesisModels.ImageTensor(digit.Pixels)));
            foreach (var executor in new[] { "canonical", "ort" })
            {
                var outcome = CliHarness.Run("infer", "--model", Genesis("mlp.onnx"), "--input", inputFile, "--executor", executor);
                Assert.True(outcome.ExitCode == 0, outcome.Error);
                Assert.Contains(digit.OutputHash.ToString(), outcome.Output);
            }
        }
        finally
        {
            File.Delete(inputFile);
        }
    }

    [Fact]
    public void Float_input_is_quantized_with_the_models_metadata_and_outputs_are_shown_dequantized()
    {
        var model = GenesisModels.Load(Path.GetDirectoryName(Genesis("vectors.json"))!)[0];
        var digit = model.Digits[0];
        var dir = Directory.CreateTempSubdirectory("float-infer");
        try
        {
            // The genesis MLP with its float interface recorded: pixels/255 in, logits out.
            var onnx = Inference.Onnx.OnnxModel.Parse(File.ReadAllBytes(Genesis("mlp.onnx")));
            var metadata = new Inference.Onnx.QuantizationMetadata(
                [new("image", TensorElementType.UInt8, 1f / 255, 0, 0f, 1f)],
                [new("logits", TensorElementType.UInt8, 0.25f, 128, -32f, 31.75f, "softmax")],
                ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]);
            var modelFile = Path.Combine(dir.FullName, "mlp-float.onnx");
            File.WriteAllBytes(modelFile, onnx.WithMetadata(metadata.ToProps()).ToBytes());
            var floats = Tensor.Create<float>(TensorElementType.Float, [1, 1, 28, 28], digit.Pixels.Select(p => p / 255f).ToArray());
            var npy = Path.Combine(dir.FullName, "digit.npy");
            File.WriteAllBytes(npy, Inference.Onnx.TensorFiles.ToNpy(floats));

            var outcome = CliHarness.Run("infer", "--model", modelFile, "--input", npy);
            Assert.True(outcome.ExitCode == 0, outcome.Error);
            // Quantizing pixels/255 with scale 1/255 gives back the pixels: the receipt's output hash is the shipped one.
            Assert.Contains(digit.OutputHash.ToString(), outcome.Output);
            Assert.Contains("dequantized (0.25 × (q − 128))", outcome.Output);
            Assert.Contains($"top 3 after softmax: {digit.Class} ({metadata.Labels![(int)digit.Class]})", outcome.Output);

            // Without a recorded interface, float input is refused in one line.
            var refused = CliHarness.Run("infer", "--model", Genesis("mlp.onnx"), "--input", npy);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("records no quantization", refused.Error);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Infer_refuses_a_wrong_shape_a_bad_file_and_an_unadmitted_model()
    {
        var wrongShape = Path.GetTempFileName();
        var garbage = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(wrongShape, Canonical.Encode(Tensor.Create(TensorElementType.UInt8, [1, 784], new byte[784])));
            File.WriteAllBytes(garbage, [0xc1, 0x00, 0x01]);
            var outcome = CliHarness.Run("infer", "--model", Genesis("mlp.onnx"), "--input", wrongShape);
            Assert.Equal(1, outcome.ExitCode);
            Assert.Contains("expected uint8[1,1,28,28]", outcome.Error);
            outcome = CliHarness.Run("infer", "--model", Genesis("mlp.onnx"), "--input", garbage);
            Assert.Equal(1, outcome.ExitCode);
            Assert.Contains("is not a tensor (canonical .bin, .npy, .pb or .json)", outcome.Error);
            outcome = CliHarness.Run("infer", "--model", garbage, "--input", "random:1");
            Assert.Equal(1, outcome.ExitCode);
            Assert.Contains("model refused", outcome.Error);
        }
        finally
        {
            File.Delete(wrongShape);
            File.Delete(garbage);
        }
    }

    [Fact]
    public void Conformance_command_passes_on_the_shared_cases()
    {
        var outcome = CliHarness.Run("conformance", "--json");
        Assert.True(outcome.ExitCode == 0, outcome.Output + outcome.Error);
        var doc = System.Text.Json.JsonDocument.Parse(outcome.Output).RootElement;
        var cases = doc.GetProperty("cases").EnumerateArray().ToList();
        // Every case has a verdict and a reason, and the counts add up to them, zeros included.
        Assert.All(cases, c => Assert.False(string.IsNullOrEmpty(c.GetProperty("reason").GetString())));
        var counts = doc.GetProperty("counts");
        foreach (var verdict in Enum.GetNames<Inference.Conformance.ConformanceVerdict>())
            Assert.Equal(cases.Count(c => c.GetProperty("verdict").GetString() == verdict), counts.GetProperty(verdict).GetInt32());
        Assert.Equal(cases.Count, doc.GetProperty("total").GetInt32());
        Assert.True(counts.GetProperty("Passed").GetInt32() > 0);
        Assert.True(counts.GetProperty("RefusedAsExpected").GetInt32() > 0);
        Assert.Equal(0, counts.GetProperty("Failed").GetInt32());
        Assert.Equal(0, counts.GetProperty("Error").GetInt32());

        var text = CliHarness.Run("conformance");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains($"{cases.Count} cases: {counts.GetProperty("Passed").GetInt32()} Passed, ", text.Output);
        Assert.Equal("", text.Error);
    }

    [Fact]
    public void Walkthrough_runs_real_inference_and_every_check_passes()
    {
        var dir = Path.Combine(Path.GetTempPath(), "chain-walkthrough-" + Guid.NewGuid().ToString("N"));
        try
        {
            var outcome = CliHarness.Run("walkthrough", "--data", dir, "--heights", "2");
            Assert.True(outcome.ExitCode == 0, outcome.Error);
            Assert.Contains("checks passed", outcome.Output);
            Assert.Contains("inference receipts", outcome.Output);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}

public class BenchCommandTests
{
    [Fact]
    public void Bench_execution_measures_every_path_against_its_baseline_and_writes_json()
    {
        var file = Path.Combine(Path.GetTempPath(), "chain-bench-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            var outcome = CliHarness.Run("bench", "execution", "--transfers", "40", "--infers", "4", "--json", file);
            Assert.True(outcome.ExitCode == 0, outcome.Error);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            var figures = doc.RootElement.GetProperty("figures").EnumerateArray().ToList();
            // Transfers one by one, on every core, every core vs one by one; Infer without and with the mempool's cache.
            Assert.Equal(5, figures.Count);
            Assert.Contains(figures, f => f.GetProperty("name").GetString()!.Contains("cores first"));
            Assert.All(figures, f => Assert.True(f.GetProperty("ratio").GetDouble() > 0));
            Assert.Equal(1, CliHarness.Run("bench", "execution", "--transfers", "0").ExitCode);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
