using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;
using Xunit;
using static Chain.Quantization.Tests.Preparation.Kit;

namespace Chain.Quantization.Tests.Preparation;

public class InputsAndRefusalsTests
{
    private static OnnxModel DynamicConv() => Model(
        [N("Conv", ["x", "w"], ["c"], OnnxAttribute.Of("pads", new long[] { 1, 1, 1, 1 })), N("GlobalAveragePool", ["c"], ["y"])],
        [VDyn("x", "batch", 3, "height", "width")], [VDyn("y", "batch", 2, 1, 1)],
        [F("w", [2, 3, 3, 3], 1)]);

    [Fact]
    public void An_unresolved_spatial_dimension_names_the_input_and_the_fix()
    {
        var e = Assert.Throws<QuantizationException>(() => Prepare(DynamicConv()));
        Assert.Equal("input 'x': dimension 2 (height) is dynamic; fix it with --shape x=1,3,height,width", e.Message);
    }

    [Fact]
    public void Shape_option_fixes_every_dimension()
    {
        var model = DynamicConv();
        var p = Prepare(model, new() { ["x"] = [2, 3, 9, 7] });
        Assert.Equal([2L, 3, 9, 7], p.Model.Graph.Inputs[0].StaticShape!);
        Assert.Equal([2L, 2, 1, 1], p.Model.Graph.Outputs[0].StaticShape!);
        AssertEquivalent(model, p);
    }

    [Fact]
    public void Shape_option_errors_name_the_option()
    {
        Assert.Equal("--shape z: the model has no input 'z' (inputs: x)",
            Assert.Throws<QuantizationException>(() => Prepare(DynamicConv(), new() { ["z"] = [1] })).Message);
        Assert.Equal("--shape x: the input has rank 4 ([batch,3,height,width]), --shape gives 3 dimensions",
            Assert.Throws<QuantizationException>(() => Prepare(DynamicConv(), new() { ["x"] = [1, 3, 9] })).Message);
        Assert.Equal("--shape x: dimension 1 is fixed to 3 by the model, --shape gives 4",
            Assert.Throws<QuantizationException>(() => Prepare(DynamicConv(), new() { ["x"] = [1, 4, 9, 9] })).Message);
    }

    [Fact]
    public void An_unknown_operator_is_refused_naming_the_node()
    {
        var model = Model([new OnnxNode("custom1", "FancyNorm", "com.example", ["x"], ["y"], [])], [V("x", 1, 4)], [V("y", 1, 4)]) is var m
            ? new OnnxModel(m.IrVersion, [.. m.OpsetImports, new OpsetImport("com.example", 1)], m.Graph) : null!;
        var e = Assert.Throws<QuantizationException>(() => Prepare(model));
        Assert.Equal("custom1 (FancyNorm): operator com.example.FancyNorm is not supported (only the ai.onnx domain is)", e.Message);
    }

    [Fact]
    public void A_refused_operator_says_why()
    {
        var model = Model([N("ConvTranspose", ["x", "w"], ["y"])], [V("x", 1, 2, 4, 4)], [VAny("y")], [F("w", [2, 2, 3, 3], 1)]);
        Assert.Equal("convtranspose_y (ConvTranspose): ConvTranspose is not supported by the quantizer",
            Assert.Throws<QuantizationException>(() => Prepare(model)).Message);
    }

    private static byte[] ModelWithGraph(Action<ProtoWriter> graph, Action<ProtoWriter>? model = null)
    {
        var g = new ProtoWriter();
        graph(g);
        var w = new ProtoWriter();
        w.WriteInt64(1, 8);
        w.WriteMessage(7, g);
        var opset = new ProtoWriter();
        opset.WriteInt64(2, 17);
        w.WriteMessage(8, opset);
        model?.Invoke(w);
        return w.ToArray();
    }

    private static QuantizationException Refusal(byte[] bytes) =>
        Assert.Throws<QuantizationException>(() => GraphPreparation.Prepare(bytes, new PreparationOptions()));

    [Fact]
    public void External_data_sparse_initializers_and_training_info_are_refused_in_one_line()
    {
        var external = Refusal(ModelWithGraph(g =>
        {
            var t = new ProtoWriter();
            t.WritePackedVarints(1, [2]);
            t.WriteInt64(2, 1);
            t.WriteString(8, "w");
            var entry = new ProtoWriter();
            entry.WriteString(1, "location");
            entry.WriteString(2, "w.bin");
            t.WriteMessage(13, entry);
            g.WriteMessage(5, t);
        }));
        Assert.StartsWith("model: tensor 'w' uses external data; only embedded data is supported", external.Message);
        var sparse = Refusal(ModelWithGraph(g => g.WriteMessage(15, new ProtoWriter())));
        Assert.StartsWith("model: sparse initializers are not supported", sparse.Message);
        var training = Refusal(ModelWithGraph(_ => { }, m => m.WriteMessage(20, new ProtoWriter())));
        Assert.StartsWith("model: training info is not supported", training.Message);
        foreach (var e in new[] { external, sparse, training }) Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Tooling_mode_reads_subgraphs_and_large_models_that_consensus_refuses()
    {
        var big = F("w", [1, 1_500_000], 1);
        var model = Model([N("Add", ["x", "w"], ["y"])], [V("x", 1, 1_500_000)], [V("y", 1, 1_500_000)], [big])
            .WithMetadata([new("author", "tests")]);
        var bytes = model.ToBytes();
        // Over one RegisterModel's 4 MiB: consensus parses it too since chunked registration (up to 64 MiB).
        Assert.True(bytes.Length > Chain.Core.Protocol.ProtocolLimits.MaxRegisterModelBytes);
        Assert.Equal("tests", OnnxModel.Parse(bytes).Metadata("author"));
        var read = OnnxModel.ParseForTooling(bytes);
        Assert.Equal("tests", read.Metadata("author"));
        var p = GraphPreparation.Prepare(bytes, new PreparationOptions());
        Assert.Equal("tests", p.Model.Metadata("author"));

        var withIf = Model(
            [N("If", ["c"], ["y"], OnnxAttribute.Of("then_branch", new OnnxGraph("t", [N("Relu", ["x"], ["t"])], [], [], [VAny("t")], [])),
                OnnxAttribute.Of("else_branch", new OnnxGraph("e", [N("Neg", ["x"], ["e"])], [], [], [VAny("e")], [])))],
            [V("x", 1, 2)], [V("y", 1, 2)], [Bool("c", true)]).ToBytes();
        Assert.Contains("subgraph", Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(withIf)).Message);
        var tooling = OnnxModel.ParseForTooling(withIf);
        Assert.Equal(OnnxAttributeType.Graph, tooling.Graph.Nodes[0].Find("then_branch")!.Type);
        Assert.Equal(withIf, tooling.ToBytes());
    }

    [Fact]
    public void Initializers_listed_as_inputs_become_constants()
    {
        var model = Model([N("MatMul", ["x", "w"], ["y"])], [V("x", 1, 3), V("w", 3, 2)], [V("y", 1, 2)], [F("w", [3, 2], 1)]);
        var p = Prepare(model);
        Assert.Equal(["x"], p.Model.Graph.Inputs.Select(i => i.Name));
        Assert.Contains(p.Notes, n => n.Contains("IR < 4"));
        AssertEquivalent(model, p);
    }
}
