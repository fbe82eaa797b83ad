using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Inference.Tests.Admission;

/// <summary>
/// ONNX's "_expanded" conformance cases replace an op by its function body. Clip-13 without min and max
/// expands to <c>output = Identity(input)</c> (onnx/defs/math/defs.cc), so test_clip_default_int8_inbounds_expanded
/// is the shipped case with its Clip node replaced by Identity: it must be admitted and reproduce the
/// expected bytes. (The _min/_max expansions use Less and Where, which are outside the subset.)
/// </summary>
public class ExpandedConformanceTests
{
    private static OnnxModel Expanded(string caseDir)
    {
        var model = Conformance.Load(caseDir);
        var clip = Assert.Single(model.Graph.Nodes);
        Assert.Equal("Clip", clip.OpType);
        Assert.All(clip.Inputs.Skip(1), i => Assert.Equal("", i));
        var identity = new OnnxNode("Clip_test_clip_default_int8_inbounds_expanded_function_Identity", "Identity", "",
            [clip.Inputs[0]], clip.Outputs, []);
        return new OnnxModel(model.IrVersion, model.OpsetImports, model.Graph with { Nodes = [identity] },
            model.ProducerName, model.ProducerVersion);
    }

    [Fact]
    public void Clip_default_int8_inbounds_expanded_is_admitted_and_matches()
    {
        var dir = Path.Combine(Conformance.Directory(), "test_clip_default_int8_inbounds");
        var bytes = Expanded(dir).ToBytes();
        var report = ModelAdmission.Check(bytes);
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));

        var data = Path.Combine(dir, "test_data_set_0");
        var input = OnnxTensorProto.Parse(File.ReadAllBytes(Path.Combine(data, "input_0.pb")));
        var expected = OnnxTensorProto.Parse(File.ReadAllBytes(Path.Combine(data, "output_0.pb"))).Value;
        using var executor = CanonicalExecutor.Load(bytes);
        var output = Assert.Single(executor.Run([new NamedTensor(executor.Inputs[0].Name, input.Value)])).Value;
        Assert.Equal(expected.ElementType, output.ElementType);
        Assert.Equal(expected.Shape.ToArray(), output.Shape.ToArray());
        Assert.Equal(expected.Data.ToArray(), output.Data.ToArray());
    }

    /// <summary>Any expanded case shipped in the conformance folder whose ops are all admitted is admitted.</summary>
    [Fact]
    public void Shipped_expanded_cases_of_admitted_ops_are_admitted()
    {
        string[] integerOps = ["Identity", "Clip", "MatMulInteger", "ConvInteger", "MaxPool", "Cast", "Reshape", "Flatten"];
        foreach (var dir in Conformance.Cases().Where(c => c.EndsWith("_expanded", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));
            var model = OnnxModel.Parse(bytes);
            var integerInputs = model.Graph.Inputs.All(v => TensorElementTypes.IsInteger(v.ElementType));
            if (!integerInputs || !model.Graph.Nodes.All(n => integerOps.Contains(n.OpType))) continue;
            var report = ModelAdmission.Check(bytes);
            Assert.True(report.Admitted, $"{Path.GetFileName(dir)}: {string.Join("; ", report.Reasons)}");
        }
    }
}
