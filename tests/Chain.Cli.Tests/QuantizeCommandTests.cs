using System.Globalization;
using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Cli.Tests;

public sealed class QuantizeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-quantize-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A float MLP [1,16] → Gemm 32 → Relu → Gemm 10 → Softmax with seeded weights; or with a Sin where <paramref name="sin"/>.</summary>
    private string WriteFloatModel(bool sin = false)
    {
        var rng = new Random(3);
        Tensor W(params int[] shape) => Tensor.Create<float>(TensorElementType.Float, shape,
            Enumerable.Range(0, shape.Aggregate(1, (a, d) => a * d)).Select(_ => (float)(rng.NextDouble() * 2 - 1) / MathF.Sqrt(shape[^1])).ToArray());
        var trans = OnnxAttribute.Of("transB", 1L);
        var model = new OnnxModel(8, [new OpsetImport("", 13)], new OnnxGraph("mlp",
            [
                new OnnxNode("fc1", "Gemm", "", ["x", "w1", "b1"], ["h"], [trans]),
                new OnnxNode("act", sin ? "Sin" : "Relu", "", ["h"], ["r"], []),
                new OnnxNode("fc2", "Gemm", "", ["r", "w2", "b2"], ["logits"], [trans]),
                new OnnxNode("sm", "Softmax", "", ["logits"], ["probs"], [OnnxAttribute.Of("axis", 1L)]),
            ],
            [new OnnxTensor("w1", W(32, 16)), new OnnxTensor("b1", W(32)), new OnnxTensor("w2", W(10, 32)), new OnnxTensor("b2", W(10))],
            [new OnnxValueInfo("x", (int)TensorElementType.Float, [OnnxDim.Symbolic("batch"), OnnxDim.Fixed(16)])],
            [new OnnxValueInfo("probs", (int)TensorElementType.Float, [OnnxDim.Symbolic("batch"), OnnxDim.Fixed(10)])],
            []), "test", "1", [new("chain.labels", string.Join('\n', Enumerable.Range(0, 10).Select(i => $"class{i}")))]);
        var path = Path.Combine(_dir, sin ? "sin.onnx" : "mlp.onnx");
        File.WriteAllBytes(path, model.ToBytes());
        return path;
    }

    private string WriteCalibrationDir(int files)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "cal")).FullName;
        var rng = new Random(5);
        for (var i = 0; i < files; i++)
        {
            var data = string.Join(",", Enumerable.Range(0, 16).Select(_ => (rng.NextDouble() * 2 - 1).ToString("R", CultureInfo.InvariantCulture)));
            File.WriteAllText(Path.Combine(dir, $"in{i:D3}.json"), $"{{\"shape\":[1,16],\"data\":[{data}]}}");
        }
        return dir;
    }

    [Fact]
    public void Quantizes_a_float_model_end_to_end_and_check_admits_it()
    {
        var input = WriteFloatModel();
        var output = Path.Combine(_dir, "int8.onnx");
        var report = Path.Combine(_dir, "report.md");
        var run = CliHarness.Run("model", "quantize", input, "--out", output, "--calibration", WriteCalibrationDir(40), "--report", report);
        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains("admitted", run.Output);
        Assert.Contains("bit-match:   canonical vs ONNX Runtime 8/8 (100%)", run.Output);
        Assert.Contains("apply softmax on the client", run.Output);
        var md = File.ReadAllText(report);
        Assert.Contains("Gemm fc1 → QLinearConv, as a 1×1 convolution, per-channel, fused Relu", md);
        Assert.Contains("Softmax sm → left to the client", md);

        var check = CliHarness.Run("model", "check", output);
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("verdict:   admitted", check.Output);
        var meta = QuantizationMetadata.From(OnnxModel.Parse(File.ReadAllBytes(output)))!;
        Assert.Equal("softmax", meta.Outputs[0].Postprocess);
        Assert.Equal("class3", meta.Labels![3]);
    }

    [Fact]
    public void Random_calibration_with_a_range_and_a_method()
    {
        var output = Path.Combine(_dir, "int8.onnx");
        var run = CliHarness.Run("model", "quantize", WriteFloatModel(), "--out", output, "--calibration", "random:16", "--input-range", "-1:1",
            "--method", "percentile", "--shape", "x=2,16", "--eval", "8");
        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains("calibration percentile 99.99, 16 input(s)", run.Output);
        Assert.Contains("int8[2,16]", CliHarness.Run("model", "check", output).Output);
    }

    [Theory]
    [InlineData("--method", "median", "--method median: expected minmax, percentile or entropy")]
    [InlineData("--input-range", "1:0", "--input-range 1:0: expected LO:HI")]
    [InlineData("--calibration", "random:0", "random:0: N must be an integer")]
    [InlineData("--shape", "x=1,0", "--shape x=1,0: expected name=d1,d2,...")]
    [InlineData("--calibration", "/no/such/dir", "no such directory: /no/such/dir")]
    public void Bad_arguments_are_one_line_errors(string option, string value, string message)
    {
        var run = CliHarness.Run("model", "quantize", WriteFloatModel(), "--out", Path.Combine(_dir, "o.onnx"), option, value);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, run.Error);
        Assert.Single(run.Error.Trim().Split('\n'));
        Assert.DoesNotContain("unexpected", run.Error);
    }

    [Fact]
    public void A_refused_op_is_named_in_one_line()
    {
        var run = CliHarness.Run("model", "quantize", WriteFloatModel(sin: true), "--out", Path.Combine(_dir, "o.onnx"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("cannot quantize: act (Sin): Sin has no int8 form in the admitted operator set", run.Error);
        Assert.Single(run.Error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(_dir, "o.onnx")));
    }
}
