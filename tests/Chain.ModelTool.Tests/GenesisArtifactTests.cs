namespace Chain.ModelTool.Tests;

/// <summary>Checks the committed genesis descriptions (no MNIST needed): they parse, re-serialise identically and keep the rules.</summary>
public class GenesisArtifactTests
{
    private static string ModelsDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), "genesis", "models");
    }

    [Theory]
    [InlineData("mlp.quant.json", 101_632L, 101_770L)]
    [InlineData("cnn.quant.json", 290_080L, 9_098L)]
    public void Committed_model_is_canonical_and_within_the_rules(string file, long macs, long parameters)
    {
        var json = File.ReadAllText(Path.Combine(ModelsDir(), file));
        var model = QuantizedModelJson.Deserialize(json);
        Assert.Equal(json, QuantizedModelJson.Serialize(model));
        Assert.Equal(macs, model.MacCount);
        Assert.Equal(parameters, model.ParameterCount);
        Assert.Equal(["logits", "class"], model.Outputs);
        foreach (var l in model.Layers.OfType<QLinearConvLayer>())
        {
            Assert.All(l.Weights, w => Assert.InRange(w, (sbyte)-64, (sbyte)63));
            Assert.Equal(0, l.WeightZeroPoint);
            if (l.Relu) Assert.Equal(0, l.OutputZeroPoint);
        }
        // Runs end to end on a blank and a bright image without tripping any consistency check.
        var blank = IntegerReference.Run(model, new byte[784]);
        Assert.Equal(10, blank.Logits.Length);
        Assert.InRange(IntegerReference.Run(model, Enumerable.Repeat((byte)255, 784).ToArray()).Class, 0, 9);
    }
}

/// <summary>
/// The committed ONNX files are exactly what the exporter makes of the committed descriptions, they are
/// admitted, and the canonical executor reproduces the integer reference and the shipped known answers.
/// </summary>
public class GenesisOnnxTests
{
    private static string ModelsDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), "genesis", "models");
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void Committed_onnx_is_the_export_of_the_committed_description(string name)
    {
        var model = QuantizedModelJson.Deserialize(File.ReadAllText(Path.Combine(ModelsDir(), $"{name}.quant.json")));
        var committed = File.ReadAllBytes(Path.Combine(ModelsDir(), $"{name}.onnx"));
        Assert.Equal(committed, OnnxExport.ToBytes(model));
        var report = Chain.Inference.Admission.ModelAdmission.Check(committed);
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void Canonical_executor_matches_the_integer_reference_and_the_known_answers(string name)
    {
        var model = QuantizedModelJson.Deserialize(File.ReadAllText(Path.Combine(ModelsDir(), $"{name}.quant.json")));
        using var executor = Chain.Inference.Runtime.CanonicalExecutor.Load(File.ReadAllBytes(Path.Combine(ModelsDir(), $"{name}.onnx")));
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(ModelsDir(), "vectors.json")));
        var entry = doc.RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == model.Name);
        Assert.Equal(executor.ModelId.ToString(), entry.GetProperty("model_id").GetString());

        var random = new Random(7);
        var images = entry.GetProperty("vectors").EnumerateArray()
            .Select(v => (Image: Convert.FromBase64String(v.GetProperty("input").GetString()!), Logits: v.GetProperty("logits_hash").GetString(), Class: v.GetProperty("class").GetInt64()))
            .ToList();
        for (int i = 0; i < 5; i++)
        {
            var image = new byte[784];
            random.NextBytes(image);
            images.Add((image, null, -1));
        }
        foreach (var (image, logitsHash, cls) in images)
        {
            var input = Chain.Inference.Tensor.Create(Chain.Inference.TensorElementType.UInt8, model.Input.Shape, image);
            var outputs = executor.Run([new Chain.Inference.Runtime.NamedTensor(model.Input.Name, input)]);
            var logits = outputs.Single(o => o.Name == "logits").Value;
            var predicted = outputs.Single(o => o.Name == "class").Value.Elements<long>()[0];
            var reference = IntegerReference.Run(model, image);
            Assert.Equal(reference.Logits, logits.Data.ToArray());
            Assert.Equal(reference.Class, predicted);
            if (logitsHash is not null)
            {
                Assert.Equal(logitsHash, logits.Hash.ToString());
                Assert.Equal(cls, predicted);
            }
        }
    }
}
