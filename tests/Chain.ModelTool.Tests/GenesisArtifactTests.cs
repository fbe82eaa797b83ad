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
