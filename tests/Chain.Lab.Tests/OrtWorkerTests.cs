using Chain.Inference.Runtime;
using Xunit.Abstractions;

namespace Chain.Lab.Tests;

/// <summary>
/// ONNX Runtime in a worker process (the arm64 half of the lab runs ORT this way). Here the worker is this machine's
/// own `chain`, so its rows must equal the in-process ORT rows; a worker that crashes becomes a row error with the reason.
/// </summary>
public sealed class OrtWorkerTests(ITestOutputHelper output)
{
    private static readonly PeakResult Peak = new("fixed for tests", 100);

    private static ProcessWorkerLauncher HostWorker() => new("dotnet", [Path.Combine(AppContext.BaseDirectory, "chain.dll")]);

    [Fact]
    public void A_host_ort_worker_reproduces_the_in_process_rows_with_outputs_and_float_metrics()
    {
        var settings = new OrtSettings(OrtOptimization.Basic, 2);
        LabConfiguration[] configurations = [new OrtConfiguration(settings), new OrtWorkerConfiguration(LabIsa.Host, settings, HostWorker())];
        var report = DeterminismLab.Run([LabModels.FloatMlp(), LabModels.ConvOdd()], configurations,
            new LabOptions { InputsPerPattern = 1, Seed = 5, WarmupMs = 0, Peak = Peak });
        output.WriteLine(LabReportWriter.ToMarkdown(report));
        foreach (var model in new[] { "float-mlp", "conv-odd" })
        {
            var inProcess = report.Rows.Single(r => r.Model == model && r.Configuration == "ort basic t2");
            var worker = report.Rows.Single(r => r.Model == model && r.Configuration == $"{LabIsa.Host} ort basic t2");
            Assert.Null(worker.Error);
            Assert.Equal((inProcess.Matches, inProcess.FirstDivergentInput, inProcess.Float), (worker.Matches, worker.FirstDivergentInput, worker.Float));
            Assert.Equal(ConfigKind.Ort, worker.Kind);
            Assert.StartsWith("child ort basic t2 on " + LabIsa.Host, worker.Detail);
        }
        Assert.NotNull(report.Rows.Single(r => r.Model == "float-mlp" && r.Configuration.StartsWith(LabIsa.Host, StringComparison.Ordinal)).Float);
    }

    /// <summary>Counts the worker starts of a real launcher.</summary>
    private sealed class CountingLauncher(IWorkerLauncher inner) : IWorkerLauncher
    {
        public int Starts { get; private set; }

        public string Run(IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> arguments)
        {
            Starts++;
            return inner.Run(environment, arguments);
        }
    }

    [Fact]
    public void Configurations_sharing_a_batch_start_one_worker_per_model()
    {
        var launcher = new CountingLauncher(HostWorker());
        OrtSettings[] settings = [DeterminismLab.FloatReference, new(OrtOptimization.All, 2)];
        var batch = new OrtWorkerBatch(settings);
        var configurations = settings.Select(s => new OrtWorkerConfiguration(LabIsa.Host, s, launcher, batch)).ToArray();
        var report = DeterminismLab.Run([LabModels.ConvOdd(), LabModels.GemmTies()], configurations,
            new LabOptions { InputsPerPattern = 1, Seed = 2, WarmupMs = 0, Peak = Peak });
        Assert.Equal(4, report.Rows.Count);
        Assert.All(report.Rows, r => Assert.True(r.FullMatch, $"{r.Model}/{r.Configuration}: {r.Matches}/{r.Runs} {r.Error}"));
        Assert.Equal(2, launcher.Starts); // one per model, not one per configuration
    }

    [Fact]
    public void A_worker_trace_names_the_same_nodes_as_the_in_process_trace()
    {
        using var model = PreparedModel.Load(LabModels.FloatMlp());
        var inputs = LabInputs.Create(model.Inputs, 1, 9);
        var spec = new LabInputSpec(1, 9);
        var settings = DeterminismLab.FloatReference;
        var worker = new OrtWorkerConfiguration(LabIsa.Host, settings, HostWorker()).Trace(model, inputs, spec, 0);
        Assert.Equal(new OrtConfiguration(settings).Trace(model, inputs, spec, 0), worker);
        Assert.Equal(model.Order.Count, worker.Count);
    }

    [Fact]
    public void A_crashing_foreign_worker_is_a_row_error_that_says_why_and_the_run_goes_on()
    {
        // A real process killed by SIGSEGV, as ORT arm64 is under qemu-user without an arm64 /proc/cpuinfo.
        var crashing = new ProcessWorkerLauncher("sh", ["-c", "echo 'qemu: uncaught target signal 11 (Segmentation fault) - core dumped' >&2; kill -SEGV $$"]);
        LabConfiguration[] configurations = [new OrtWorkerConfiguration(LabIsa.Arm64, DeterminismLab.FloatReference, crashing), new OrtConfiguration(DeterminismLab.FloatReference)];
        var report = DeterminismLab.Run([LabModels.GemmTies()], configurations, new LabOptions { InputsPerPattern = 1, Seed = 1, WarmupMs = 0, Peak = Peak });
        var row = report.Rows.Single(r => r.Isa == LabIsa.Arm64);
        output.WriteLine(row.Error);
        Assert.Contains("worker exited with 139 (SIGSEGV)", row.Error);
        Assert.Contains("qemu: uncaught target signal 11", row.Error);
        Assert.Contains("--arm64-cpuinfo", row.Error);
        Assert.True(report.Rows.Single(r => r.Isa == LabIsa.Host).FullMatch);
        // ORT that cannot run is reported, not a consensus divergence: the node would stay on the canonical executor.
        Assert.True(report.ConsensusAllMatch);
        Assert.Contains("n/a (error: ONNX Runtime arm64 could not run here", LabReportWriter.NodeCell(row));
    }

    [Fact]
    public void Written_inputs_read_back_bit_for_bit_in_order()
    {
        using var model = PreparedModel.Load(LabModels.FloatMlp());
        var inputs = LabInputs.Create(model.Inputs, 2, 3);
        var dir = Path.Combine(Path.GetTempPath(), $"chain-lab-written-{Guid.NewGuid():N}");
        try
        {
            LabInputs.Write(inputs, dir);
            var back = LabInputs.Read(LabInputs.WrittenSpecs(["x"], dir), dir);
            Assert.Equal(inputs.Select(i => i.Tensors[0].Value.Hash), back.Select(i => i.Tensors[0].Value.Hash));
            Assert.Contains("1 tensor file(s) for a model of 2 input(s)", Assert.Throws<FormatException>(() => LabInputs.WrittenSpecs(["x", "y"], dir)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
