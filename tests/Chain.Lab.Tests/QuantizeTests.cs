using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Lab.Tests;

/// <summary>`--quantize`: a float model's int8 twin from `chain model quantize`'s pipeline runs beside it.</summary>
public class QuantizeTests
{
    private static readonly PeakResult Peak = new("fixed for tests", 100);

    [Fact]
    public void The_int8_twin_follows_its_float_model_is_bit_exact_and_reports_the_accuracy_cost()
    {
        LabConfiguration[] configurations =
        [
            new CanonicalPathConfiguration(GemmPath.Scalar), new CanonicalPathConfiguration(KernelOptions.BestSupported),
            new OrtConfiguration(DeterminismLab.FloatReference), new OrtConfiguration(new OrtSettings(OrtOptimization.All, 2)),
        ];
        var report = DeterminismLab.Run([LabModels.FloatMlp()], configurations,
            new LabOptions { InputsPerPattern = 2, Seed = 3, WarmupMs = 0, Peak = Peak, Quantize = true });
        Assert.Equal(["float-mlp", "float-mlp-int8"], report.Models.Select(m => m.Name));
        var twin = report.Models[1];
        Assert.False(twin.IsFloat);
        var q = Assert.IsType<LabQuantizedInfo>(twin.Quantized);
        Assert.Equal("float-mlp", q.FloatModel);
        Assert.Equal(2, q.CalibrationInputs); // the random family: 2 inputs
        var output = Assert.Single(q.Outputs);
        Assert.Equal(2, output.Rows); // [1,10] logits: a classifier, one row per input
        Assert.InRange(output.Top1Agreement ?? -1, 0, 1);
        Assert.True(double.IsFinite(output.SqnrDb) && output.SqnrDb > 0, $"SQNR {output.SqnrDb}");

        var int8Rows = report.Rows.Where(r => r.Model == twin.Name).ToArray();
        Assert.Equal(configurations.Length, int8Rows.Length);
        Assert.All(int8Rows, r => Assert.True(r.FullMatch && r.Consensus, $"{r.Configuration}: {r.Matches}/{r.Runs} {r.Error}"));
        Assert.Equal(2, report.Rows.Count(r => r.Model == "float-mlp"));

        var line = Assert.Single(LabReportWriter.TradeLines(report));
        Assert.Contains("float-mlp-int8 (int8): 4/4 configurations bit-exact", line);
        Assert.Contains("top-1 agreement", line);
        Assert.Contains("## Float vs int8 (--quantize)", LabReportWriter.ToMarkdown(report));
        Assert.Equal(q.Accuracy, LabReportWriter.FromJson(LabReportWriter.ToJson(report)).Models[1].Quantized?.Accuracy);
    }

    [Fact]
    public void An_admitted_model_is_not_quantized_again()
    {
        var e = Assert.Throws<ArgumentException>(() => LabQuantization.Quantize(LabModels.GemmTies(), new LabInputSpec(1, 1)));
        Assert.Contains("already admitted", e.Message);
    }
}
