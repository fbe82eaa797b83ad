using System.Security.Cryptography;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Testing.FloatModels;
using Xunit.Abstractions;

namespace Chain.Inference.Tests.FloatModels;

/// <summary>
/// The float test models (issue 12's quantizer inputs) load and run under ONNX Runtime, give finite outputs of
/// the declared shape, and the classifiers are real classifiers of their synthetic task with varied top-1.
/// </summary>
public sealed class FloatModelZooTests(ITestOutputHelper output)
{
    public static TheoryData<string> ZooNames() => [.. FloatModelZoo.Names];

    public static TheoryData<string> ThirdPartyNames() => [.. FloatModelZoo.ThirdPartyNames];

    private static float[][] Run(FloatModel model, IEnumerable<Tensor> inputs)
    {
        using var ort = new OrtExecutor(model.Bytes, OrtSettings.Pinned);
        return inputs.Select(x =>
        {
            var result = ort.Run([new NamedTensor(model.InputName, x)]);
            Assert.Equal(model.OutputName, result[0].Name);
            return result[0].Value.Elements<float>().ToArray();
        }).ToArray();
    }

    private static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());

    /// <summary>Top-1 minus top-2 of one output row (for log-probabilities and logits alike).</summary>
    private static float Margin(float[] v)
    {
        var sorted = v.OrderByDescending(x => x).ToArray();
        return sorted[0] - sorted[1];
    }

    [Theory]
    [MemberData(nameof(ZooNames))]
    public void Zoo_model_runs_under_ort_with_finite_outputs(string name)
    {
        var model = FloatModelZoo.ByName(name);
        var random = Run(model, FloatModelZoo.RandomInputs(model, 32, seed: 1, lo: 0f, hi: 1f));
        var samples = FloatModelZoo.Samples(model, 32, seed: 2);
        var inDistribution = Run(model, samples.Select(s => s.Input));
        foreach (var row in random.Concat(inDistribution))
        {
            Assert.All(row, v => Assert.True(float.IsFinite(v)));
            Assert.Equal(model.Kind == FloatModelKind.Classifier ? model.Classes : row.Length, row.Length);
        }
        // The project's own reader takes every zoo model (Constant nodes come back as initializers).
        var parsed = OnnxModel.Parse(model.Bytes);
        Assert.Equal(17, parsed.DefaultOpset);
        Assert.Equal(model.InputName, parsed.Graph.Inputs.Single().Name);
        Assert.Equal(model.DynamicBatch, parsed.Graph.Inputs[0].StaticShape is null);
        output.WriteLine($"{model}: ops {string.Join(" ", model.OpTypes)}");
    }

    [Theory]
    [MemberData(nameof(ZooNames))]
    public void Zoo_classifiers_classify_their_task_and_vary_on_noise(string name)
    {
        var model = FloatModelZoo.ByName(name);
        if (model.Kind != FloatModelKind.Classifier) return;
        var heldOut = FloatModelZoo.Samples(model, 200, seed: 7);
        var outputs = Run(model, heldOut.Select(s => s.Input));
        var accuracy = outputs.Zip(heldOut).Count(p => ArgMax(p.First) == p.Second.Label) / (double)heldOut.Count;
        var margins = outputs.Select(Margin).Order().ToArray();
        var noise = Run(model, FloatModelZoo.RandomInputs(model, 100, seed: 3, lo: 0f, hi: 1f));
        var noiseClasses = noise.Select(ArgMax).Distinct().Count();
        var sampleClasses = outputs.Select(ArgMax).Distinct().Count();
        output.WriteLine($"{name}: held-out accuracy {accuracy:P1}, top-1 classes {sampleClasses}/{model.Classes} on samples and {noiseClasses} on noise, " +
                         $"margin p10 {margins[margins.Length / 10]:F3} median {margins[margins.Length / 2]:F3}");
        Assert.True(accuracy >= 0.9, $"{name}: held-out accuracy {accuracy:P1}");
        Assert.Equal(model.Classes, sampleClasses);
        Assert.True(noiseClasses >= 2, $"{name}: every noise input gets the same class");
    }

    [Fact]
    public void Box_regressor_predicts_boxes_and_embedding_spreads()
    {
        var boxes = FloatModelZoo.MobileNetBoxRegressor();
        var samples = FloatModelZoo.Samples(boxes, 100, seed: 5);
        var predicted = Run(boxes, samples.Select(s => s.Input));
        var error = predicted.Zip(samples).Average(p => p.First.Zip(p.Second.Target!).Average(t => Math.Abs(t.First - t.Second)));
        var meanBox = Enumerable.Range(0, 4).Select(i => samples.Average(s => s.Target![i])).ToArray();
        var baseline = samples.Average(s => s.Target!.Zip(meanBox).Average(t => Math.Abs(t.First - t.Second)));
        output.WriteLine($"box mean absolute error {error:F4} (predicting the mean box: {baseline:F4})");
        Assert.True(error < 0.75 * baseline, $"box error {error} vs {baseline}");

        var embedding = FloatModelZoo.LeakyReluEmbedding();
        var vectors = Run(embedding, FloatModelZoo.Samples(embedding, 64, seed: 6).Select(s => s.Input));
        Assert.Equal(64, vectors[0].Length);
        var spread = Enumerable.Range(0, 64).Average(d => Std(vectors.Select(v => v[d])));
        output.WriteLine($"embedding mean per-dimension std {spread:F3}");
        Assert.InRange(spread, 0.3, 3);
    }

    private static double Std(IEnumerable<float> values)
    {
        var a = values.Select(v => (double)v).ToArray();
        var mean = a.Average();
        return Math.Sqrt(a.Average(v => (v - mean) * (v - mean)));
    }

    [Fact]
    public void Dynamic_batch_model_matches_the_static_one_at_batch_one()
    {
        var fixedBatch = FloatModelZoo.KeywordSpottingMlp();
        var dynamicBatch = FloatModelZoo.KeywordSpottingMlpDynamicBatch();
        Assert.True(dynamicBatch.DynamicBatch);
        Assert.Equal("input=1,490", dynamicBatch.ShapeOption);
        var inputs = FloatModelZoo.RandomInputs(fixedBatch, 8, seed: 4);
        Assert.Equal(Run(fixedBatch, inputs), Run(dynamicBatch, inputs));
        var batch = Tensor.Create<float>(TensorElementType.Float, [2, 490], [.. inputs[0].Elements<float>(), .. inputs[1].Elements<float>()]);
        Assert.Equal(24, Run(dynamicBatch, [batch])[0].Length);
    }

    [Fact]
    public void Zoo_is_deterministic()
    {
        // Pinned hashes: the zoo's bytes depend on the seed alone (SplitMix64, Irwin-Hall normals, fixed-order loops).
        // If a deliberate change to a model moves its hash, update it here.
        var hashes = FloatModelZoo.All().ToDictionary(m => m.Name, m => Convert.ToHexStringLower(SHA256.HashData(m.Bytes))[..16]);
        foreach (var (name, hash) in hashes) output.WriteLine($"[\"{name}\"] = \"{hash}\", // {FloatModelZoo.ByName(name).Bytes.Length} bytes");
        Assert.Equal(FloatModelZoo.All().Select(m => m.Bytes), FloatModelZoo.All().Select(m => m.Bytes));
        Assert.Equal(ExpectedHashes, hashes);
    }

    private static readonly Dictionary<string, string> ExpectedHashes = new()
    {
        ["kws-mlp"] = "09b46593a1fcdcc4",
        ["mobilenet"] = "ab3de5469cba711c",
        ["mobilenet-boxes"] = "6cb64d332c96adc3",
        ["leaky-embedding"] = "51f4de7d74686484",
        ["resnet"] = "a4a4361ff0857a01",
        ["torch-style"] = "226a40a2fc4690b4",
        ["kws-mlp-dynamic"] = "5fe1329ab27f759c",
    };

    [Fact]
    public void Random_inputs_are_seeded_and_in_range()
    {
        var model = FloatModelZoo.ResNetClassifier();
        var a = FloatModelZoo.RandomInputs(model, 3, seed: 9, lo: -2f, hi: 3f);
        var b = FloatModelZoo.RandomInputs(model, 3, seed: 9, lo: -2f, hi: 3f);
        var c = FloatModelZoo.RandomInputs(model, 3, seed: 10, lo: -2f, hi: 3f);
        Assert.Equal(a.Select(t => t.Hash), b.Select(t => t.Hash));
        Assert.NotEqual(a[0].Hash, c[0].Hash);
        Assert.All(a, t => Assert.True(t.ShapeEquals([1, 3, 32, 32])));
        Assert.All(a.SelectMany(t => t.Elements<float>().ToArray()), v => Assert.InRange(v, -2f, 3f));
    }

    [Theory]
    [MemberData(nameof(ThirdPartyNames))]
    public void Third_party_model_runs_under_ort(string name)
    {
        var model = FloatModelZoo.ByName(name);
        var outputs = Run(model, FloatModelZoo.RandomInputs(model, 16, seed: 11, lo: 0f, hi: 1f));
        Assert.All(outputs.SelectMany(o => o), v => Assert.True(float.IsFinite(v)));
        if (model.Kind == FloatModelKind.Classifier) Assert.Equal(model.Classes, outputs[0].Length);
        string parse;
        try
        {
            var parsed = OnnxModel.Parse(model.Bytes);
            parse = $"parses (opset {parsed.DefaultOpset}, {parsed.Graph.Nodes.Count} nodes)";
        }
        catch (Exception e)
        {
            parse = "OnnxModel.Parse refuses it: " + e.Message;
        }
        output.WriteLine($"{model}: {model.Source}; ops {string.Join(" ", model.OpTypes)}; {parse}; output[0] {string.Join(",", outputs[0].Take(4).Select(v => v.ToString("G4")))}");
    }

    [Fact]
    public void Third_party_models_match_the_hashes_in_their_readme()
    {
        var readme = File.ReadAllText(Path.Combine(FindRoot(), "tests", "data", "third-party-models", "README.md"));
        foreach (var model in FloatModelZoo.ThirdParty())
            Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(model.Bytes)), readme);
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Chain.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Chain.sln");
    }
}
