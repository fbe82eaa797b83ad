using Chain.Inference.Kernels;

namespace Chain.Lab.Tests;

/// <summary>One lab run over the adversarial set and the float model, shared by the tests that read it.</summary>
public sealed class AdversarialRunFixture
{
    public static readonly PeakResult FixedPeak = new("fixed for tests", 100);

    public AdversarialRunFixture()
    {
        Models = [.. LabModels.Adversarial(), LabModels.FloatMlp()];
        Configurations = DeterminismLab.DefaultConfigurations(launcher: null);
        Report = DeterminismLab.Run(Models, Configurations,
            new LabOptions { InputsPerPattern = 1, Seed = 11, WarmupMs = 0, Peak = FixedPeak }, p => Progress.Add(p));
    }

    public IReadOnlyList<LabModel> Models { get; }
    public IReadOnlyList<LabConfiguration> Configurations { get; }
    public LabReport Report { get; }
    public List<LabProgress> Progress { get; } = [];
}

public class LabRunTests(AdversarialRunFixture run) : IClassFixture<AdversarialRunFixture>
{
    private LabReport Report => run.Report;

    [Fact]
    public void Every_canonical_path_and_ort_configuration_matches_on_the_adversarial_set()
    {
        var paths = Enum.GetValues<GemmPath>().Count(KernelOptions.IsSupported);
        Assert.Equal(3 * (paths + 12) + 12, Report.Rows.Count);
        var consensus = Report.Rows.Where(r => r.Consensus).ToArray();
        Assert.Equal(3 * (paths + 12), consensus.Length);
        // Honest failure message: which configuration diverged where, should ORT or a path ever disagree.
        var diverged = consensus.Where(r => !r.FullMatch)
            .Select(r => $"{r.Model}/{r.Configuration}: {r.Matches}/{r.Runs} node={r.DivergentNode} error={r.Error}").ToArray();
        Assert.Empty(diverged);
        Assert.True(Report.ConsensusAllMatch);
        Assert.All(consensus, r => Assert.Equal(6, r.Runs)); // six pattern families, one input each
    }

    [Fact]
    public void Rows_carry_latency_gops_and_fraction_of_peak()
    {
        foreach (var r in Report.Rows.Where(r => r.Error is null))
        {
            Assert.True(r.MeanLatencyMs > 0, r.Configuration);
            var macs = Report.Models.Single(m => m.Name == r.Model).Macs;
            Assert.Equal(2.0 * macs / (r.MeanLatencyMs * 1e-3) / 1e9, r.Gops, 6);
            Assert.Equal(r.Gops / AdversarialRunFixture.FixedPeak.Gops, r.PeakFraction, 9);
        }
        Assert.Equal(LabModels.BigAccK * 3L, Report.Models.Single(m => m.Name == "gemm-bigacc").Macs);
    }

    [Fact]
    public void Float_model_runs_only_under_ort_and_never_counts_as_consensus()
    {
        var rows = Report.Rows.Where(r => r.Model == "float-mlp").ToArray();
        Assert.Equal(12, rows.Length);
        Assert.All(rows, r => Assert.Equal(ConfigKind.Ort, r.Kind));
        Assert.All(rows, r => Assert.False(r.Consensus));
        // The reference configuration compared with itself must agree, whatever the others do.
        Assert.True(rows.Single(r => r.Configuration == "ort disabled t1").FullMatch);
        Assert.Equal("ort disabled t1", Report.Models.Single(m => m.IsFloat).Reference);
        // Float metrics on every row: zero exactly where the bytes matched, a positive ULP distance wherever they did not.
        foreach (var r in rows)
        {
            var f = Assert.IsType<FloatDivergence>(r.Float);
            Assert.Equal(r.FullMatch, f.MaxUlp == 0);
            Assert.Equal(r.FullMatch, f.MaxAbsDiff == 0);
            Assert.Equal(6, f.Top1Rows); // [1,10] logits: one row per input
            Assert.InRange(f.Top1Flips ?? -1, 0, 6);
        }
        Assert.All(Report.Rows.Where(r => r.Consensus), r => Assert.Null(r.Float));
    }

    [Fact]
    public void Progress_is_reported_up_to_the_total()
    {
        Assert.NotEmpty(run.Progress);
        var last = run.Progress[^1];
        Assert.Equal(last.Total, last.Done);
        Assert.Equal(Report.Rows.Count + run.Models.Count + 1, last.Total);
        Assert.True(run.Progress.Select(p => p.Done).SequenceEqual(run.Progress.Select(p => p.Done).Order()));
    }

    [Fact]
    public void Json_markdown_and_png_are_written()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-report").FullName;
        try
        {
            LabReportWriter.WriteAll(Report, dir);
            var back = LabReportWriter.FromJson(File.ReadAllText(Path.Combine(dir, LabReportWriter.JsonFile)));
            Assert.Equal(Report.Rows, back.Rows);
            Assert.Equal(Report.Peak, back.Peak);
            var md = File.ReadAllText(Path.Combine(dir, LabReportWriter.MarkdownFile));
            foreach (var config in run.Configurations) Assert.Contains($"| {config.Name} |", md);
            Assert.Contains("every consensus configuration matched", md);
            Assert.Contains("## Float models: divergence from the reference", md);
            Assert.Contains("| float-mlp | x64 | ort disabled t1 | 100.0% | 0 | 0 | 0/6 | — |", md);
            var png = File.ReadAllBytes(Path.Combine(dir, LabReportWriter.ChartFile));
            Assert.True(png.Length > 1000);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
