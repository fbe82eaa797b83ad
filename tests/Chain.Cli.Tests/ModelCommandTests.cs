using System.Text.Json;
using Chain.Core.Hashing;
using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Cli.Tests;

public sealed class ModelCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-model-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>u8 [1,4] × s8 [4,2] weights all equal to <paramref name="weight"/>.</summary>
    private string WriteModel(sbyte weight, string name = "m.onnx")
    {
        var model = new OnnxModel(9, [new OpsetImport("", 17)], new OnnxGraph("g",
            [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
            [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [4, 2], Enumerable.Repeat(weight, 8).ToArray()))],
            [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(4)])],
            [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(2)])],
            []));
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, model.ToBytes());
        return path;
    }

    [Fact]
    public void Admitted_model_exits_zero_with_id_and_shapes()
    {
        var path = WriteModel(5);
        var run = CliHarness.Run("model", "check", path);
        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains("verdict:   admitted", run.Output);
        Assert.Contains(DomainHash.Compute(HashDomain.Model, File.ReadAllBytes(path)).ToString(), run.Output);
        Assert.Contains("int32[1,2]", run.Output);
        Assert.Contains("MACs:      8", run.Output);
    }

    [Fact]
    public void Refused_model_exits_one_and_names_node_and_reason()
    {
        var run = CliHarness.Run("model", "check", WriteModel(100));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("verdict:   refused (1 reason)", run.Output);
        Assert.Contains("[saturation] mm:", run.Output);
    }

    [Fact]
    public void Json_report_carries_the_verdict_and_reasons()
    {
        var refused = CliHarness.Run("model", "check", WriteModel(100), "--json");
        Assert.Equal(1, refused.ExitCode);
        var doc = JsonDocument.Parse(refused.Output).RootElement;
        Assert.False(doc.GetProperty("admitted").GetBoolean());
        var reason = doc.GetProperty("reasons")[0];
        Assert.Equal("saturation", reason.GetProperty("code").GetString());
        Assert.Equal("mm", reason.GetProperty("node").GetString());

        var admitted = CliHarness.Run("model", "check", WriteModel(1), "--json");
        Assert.Equal(0, admitted.ExitCode);
        var ok = JsonDocument.Parse(admitted.Output).RootElement;
        Assert.True(ok.GetProperty("admitted").GetBoolean());
        Assert.Equal(8, ok.GetProperty("macs").GetInt64());
        Assert.Equal("int32[1,2]", ok.GetProperty("nodes")[0].GetProperty("outputs")[0].GetString());
        Assert.True(ok.GetProperty("gas").GetInt64() > 0);
    }

    [Fact]
    public void Garbage_and_missing_files_fail_clearly()
    {
        var garbage = Path.Combine(_dir, "bad.onnx");
        File.WriteAllBytes(garbage, [0x3a, 0xff, 0x01]);
        var bad = CliHarness.Run("model", "check", garbage);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("[format]", bad.Output);
        Assert.Contains("at byte 1", bad.Output);

        var missing = CliHarness.Run("model", "check", Path.Combine(_dir, "nope.onnx"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("error: no such file", missing.Error);
    }
}
