using Chain.Core;
using Chain.Inference.Runtime;

namespace Chain.Lab.Tests;

public class DivergenceTests
{
    /// <summary>
    /// A deliberately wrong configuration: it runs the canonical executor on the conv model with one weight of
    /// the second layer changed, so its first node agrees with the reference and its second does not.
    /// </summary>
    private sealed class CorruptedConv : LabConfiguration
    {
        private readonly CanonicalExecutor _corrupt = CanonicalExecutor.Load(LabModels.ConvOdd(corruptSecondLayer: true).Bytes);

        public override string Name => "corrupted conv2";
        public override ConfigKind Kind => ConfigKind.Canonical;

        public override ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec) =>
            new(inputs.Select(i => LabInputs.OutputHash(_corrupt.Run(i.Tensors))).ToArray(), 1.0);

        public override IReadOnlyList<NodeOutputHash> Trace(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, int index) =>
            _corrupt.RunTraced(inputs[index].Tensors).Trace;
    }

    [Fact]
    public void Lab_names_the_first_divergent_node_of_a_corrupted_configuration()
    {
        var report = DeterminismLab.Run([LabModels.ConvOdd()], [new CorruptedConv()],
            new LabOptions { InputsPerPattern = 2, Seed = 3, WarmupMs = 0, Peak = new PeakResult("fixed", 1) });
        var row = Assert.Single(report.Rows);
        Assert.True(row.Matches < row.Runs, "the corrupted weight should change some outputs");
        Assert.Equal("conv2", row.DivergentNode);
        Assert.Equal("QLinearConv", row.DivergentOp);
        Assert.NotNull(row.FirstDivergentInput);
        Assert.False(report.ConsensusAllMatch);
    }

    [Fact]
    public void Ort_trace_matches_the_canonical_trace_node_for_node()
    {
        using var model = PreparedModel.Load(LabModels.ConvOdd());
        var inputs = LabInputs.Create(model.Inputs, 1, 9);
        var ort = new OrtConfiguration(new OrtSettings(OrtOptimization.All, 2));
        var spec = new LabInputSpec(1, 9);
        for (int i = 0; i < inputs.Count; i++)
        {
            var canonical = model.Canonical!.RunTraced(inputs[i].Tensors).Trace;
            var traced = ort.Trace(model, inputs, spec, i);
            Assert.Equal(canonical.Select(t => (t.Output, t.Hash)), traced.Select(t => (t.Output, t.Hash)));
        }
    }

    [Fact]
    public void Ort_trace_of_a_corrupted_model_diverges_at_the_corrupted_node()
    {
        using var reference = PreparedModel.Load(LabModels.ConvOdd());
        using var corrupt = PreparedModel.Load(LabModels.ConvOdd(corruptSecondLayer: true));
        var inputs = LabInputs.Create(reference.Inputs, 1, 4);
        var random = inputs.Single(i => i.Pattern == InputPattern.Random);
        var index = inputs.ToList().IndexOf(random);
        var traced = new OrtConfiguration(new OrtSettings(OrtOptimization.Basic, 1)).Trace(corrupt, inputs, new LabInputSpec(1, 4), index);
        var divergent = DivergenceLocator.FirstDivergence(reference.Canonical!.RunTraced(random.Tensors).Trace, traced);
        Assert.Equal("conv2", divergent?.Node);
    }

    [Fact]
    public void Locator_returns_the_first_differing_node_and_skips_nodes_the_other_side_lacks()
    {
        using var model = PreparedModel.Load(LabModels.ConvOdd());
        var input = LabInputs.Create(model.Inputs, 1, 2)[0].Tensors;
        var trace = model.Canonical!.RunTraced(input).Trace;
        Assert.Equal(2, trace.Count);
        Assert.Null(DivergenceLocator.FirstDivergence(trace, trace));

        var flipped = trace.ToArray();
        var bytes = flipped[1].Hash.ToArray();
        bytes[0] ^= 1;
        flipped[1] = flipped[1] with { Hash = new Hash32(bytes) };
        Assert.Equal("conv2", DivergenceLocator.FirstDivergence(trace, flipped)?.Node);

        // The first node missing (fused away) on the other side is not a divergence by itself.
        Assert.Equal("conv2", DivergenceLocator.FirstDivergence(trace, flipped[1..])?.Node);
        Assert.Null(DivergenceLocator.FirstDivergence(trace, trace.Skip(1).ToArray()));
    }
}
