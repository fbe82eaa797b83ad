using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Testing.FloatModels;

namespace Chain.Lab.Tests;

/// <summary>A researcher's own model: admitted ones as consensus models, any other under ONNX Runtime only.</summary>
public class ResearcherModelTests
{
    private static readonly PeakResult Peak = new("fixed", 1);

    [Fact]
    public void An_admitted_file_is_a_consensus_model_and_a_float_one_is_ort_only_with_admissions_reasons()
    {
        var admitted = LabModel.FromFile("ties", LabModels.GemmTies().Bytes);
        Assert.False(admitted.IsFloat);
        Assert.Null(admitted.NotAdmitted);

        var refused = LabModel.FromFile("resnet", FloatModelZoo.ResNetClassifier().Bytes);
        Assert.True(refused.IsFloat);
        Assert.StartsWith("[float]", refused.NotAdmitted);
    }

    [Fact]
    public void A_refused_model_runs_only_the_ort_configurations_against_ort_disabled_t1()
    {
        var model = LabModel.FromFile("mobilenet", FloatModelZoo.MobileNetClassifier().Bytes);
        var configurations = DeterminismLab.DefaultConfigurations(launcher: null);
        var report = DeterminismLab.Run([model], configurations, new LabOptions { InputsPerPattern = 1, Seed = 2, WarmupMs = 0, Peak = Peak });
        var info = Assert.Single(report.Models);
        Assert.Equal("ort disabled t1", info.Reference);
        Assert.Contains("not admitted: [float]", info.Caveat);
        Assert.Equal(configurations.Count(c => c.Kind == ConfigKind.Ort), report.Rows.Count);
        Assert.All(report.Rows, r => Assert.False(r.Consensus));
        // The reference configuration itself, run again: one thread, no optimisation, must reproduce itself.
        Assert.True(report.Rows.Single(r => r.Configuration == "ort disabled t1").FullMatch);
        Assert.True(report.ConsensusAllMatch, "a model outside consensus never fails the consensus verdict");
    }

    [Theory]
    [InlineData("ppocr-cls")]
    [InlineData("oww-embedding")]
    [InlineData("hello-deepa")]
    public void Third_party_models_are_traced_node_by_node_though_they_declare_no_intermediates(string name)
    {
        var zoo = FloatModelZoo.ByName(name);
        using var model = PreparedModel.Load(LabModel.FromFile(name, zoo.Bytes,
            new Dictionary<string, long[]> { [zoo.InputName] = zoo.InputShape.Select(d => (long)d).ToArray() }));
        Assert.Equal(zoo.InputShape, Assert.Single(model.Inputs).Shape);
        var inputs = LabInputs.Create(model.Inputs, 1, 7);
        var ort = new OrtConfiguration(DeterminismLab.FloatReference);
        var spec = new LabInputSpec(1, 7);
        var random = inputs.ToList().FindIndex(i => i.Pattern == InputPattern.Random);
        var zeros = inputs.ToList().FindIndex(i => i.Pattern == InputPattern.Zeros);
        var trace = ort.Trace(model, inputs, spec, random);
        // Every node output gets a type (ValueTypes) and so is exposed: the localiser sees the whole graph.
        Assert.Equal(model.Order.Count, trace.Count);
        Assert.Null(DivergenceLocator.FirstDivergence(trace, ort.Trace(model, inputs, spec, random)));
        // Another input diverges first at the first node that reads the graph input.
        var first = DivergenceLocator.FirstDivergence(trace, ort.Trace(model, inputs, spec, zeros));
        var reader = model.Order.First(p => model.Model.Graph.Nodes[p.NodeIndex].Inputs.Contains(zoo.InputName));
        Assert.Equal(reader.Output, first?.Output);
    }

    [Fact]
    public void A_symbolic_dimension_becomes_1_and_a_shape_that_contradicts_the_declaration_is_refused()
    {
        var zoo = FloatModelZoo.KeywordSpottingMlpDynamicBatch();
        using (var model = PreparedModel.Load(LabModel.FromFile("kws", zoo.Bytes)))
            Assert.Equal([1, zoo.InputShape[1]], Assert.Single(model.Inputs).Shape);
        var e = Assert.Throws<ArgumentException>(() => PreparedModel.Load(LabModel.FromFile("kws", zoo.Bytes,
            new Dictionary<string, long[]> { [zoo.InputName] = [1, zoo.InputShape[1] + 1] })));
        Assert.Contains("does not fit its declared shape", e.Message);
    }

    [Fact]
    public void Input_folders_give_one_input_per_file_or_per_subfolder_and_refuse_a_wrong_type()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-inputs").FullName;
        try
        {
            TensorSpec[] one = [new("x", TensorElementType.Float, [1, 2])];
            var tensor = Tensor.Create(TensorElementType.Float, [1, 2], new[] { 1f, 2f });
            File.WriteAllBytes(Path.Combine(dir, "b.npy"), Chain.Inference.Onnx.TensorFiles.ToNpy(tensor));
            File.WriteAllBytes(Path.Combine(dir, "a.npy"), Chain.Inference.Onnx.TensorFiles.ToNpy(tensor));
            var read = LabInputs.Create(one, new LabInputSpec(1, 1, 0, dir));
            Assert.Equal(["a.npy", "b.npy"], read.Select(i => i.Label));
            Assert.Equal(tensor.Hash, read[0].Tensors[0].Value.Hash);

            TensorSpec[] ints = [new("x", TensorElementType.Int32, [1, 2])];
            Assert.Contains("but input 'x' is", Assert.Throws<FormatException>(() => LabInputs.Read(ints, dir)).Message);

            TensorSpec[] two = [one[0], new("y", TensorElementType.Float, [1, 2])];
            Assert.Contains("one subfolder per input set", Assert.Throws<FormatException>(() => LabInputs.Read(two, dir)).Message);
            var set = Directory.CreateDirectory(Path.Combine(dir, "test_data_set_0")).FullName;
            File.WriteAllBytes(Path.Combine(set, "input_0.npy"), Chain.Inference.Onnx.TensorFiles.ToNpy(tensor));
            File.WriteAllBytes(Path.Combine(set, "input_1.npy"), Chain.Inference.Onnx.TensorFiles.ToNpy(tensor));
            var pair = Assert.Single(LabInputs.Read(two, dir));
            Assert.Equal(["x", "y"], pair.Tensors.Select(t => t.Name));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
