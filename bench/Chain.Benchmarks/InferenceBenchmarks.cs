using BenchmarkDotNet.Attributes;
using Chain.Inference.Admission;
using Chain.Inference.Runtime;
using Chain.Lab;

namespace Chain.Benchmarks;

/// <summary>
/// Canonical executor vs the ONNX Runtime fast path (pinned settings: sequential, 1 thread, basic
/// optimisation), one inference per call, on the two genesis models and a large GEMM. ORT is the
/// baseline, so the Ratio column is canonical time / ORT time (the goal is ≤ 1.25, i.e. ≥ 0.8× ORT's speed).
/// The GOPS column is 2·MACs / mean time.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(KernelBenchmarks.GopsConfig))]
public class InferenceBenchmarks
{
    private CanonicalExecutor _canonical = null!;
    private OrtExecutor _ort = null!;
    private IReadOnlyList<NamedTensor> _inputs = null!;

    [Params("genesis-mlp", "genesis-cnn", "gemm-256x1024x1024")]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var model = Model.StartsWith("genesis", StringComparison.Ordinal)
            ? LabModels.Genesis(AppContext.BaseDirectory).Concat(LabModels.Genesis(Directory.GetCurrentDirectory())).First(m => m.Name == Model)
            : LabModels.LargeGemm();
        _canonical = CanonicalExecutor.Load(model.Bytes);
        _ort = new OrtExecutor(model.Bytes, OrtSettings.Pinned);
        _inputs = InputGenerator.Create(_canonical.Inputs, InputPattern.Random, 1);
        if (ModelAdmission.Check(model.Bytes).TotalMacs != MacsOf(Model))
            throw new InvalidOperationException($"{Model}: the MAC count for the GOPS column is out of date");
        if (FastPathCheck.FirstDifference(_canonical.Run(_inputs), _ort.Run(_inputs)) is { } difference)
            throw new InvalidOperationException($"{Model}: ORT and canonical disagree: {difference}");
    }

    /// <summary>MACs per inference as admission counts them (the GOPS column runs in the host process, so they are constants here; Setup checks them).</summary>
    public static long MacsOf(string model) => model switch
    {
        "genesis-mlp" => 101_632,
        "genesis-cnn" => 299_488,
        _ => 256L * 1024 * 1024,
    };

    [GlobalCleanup]
    public void Cleanup()
    {
        _canonical.Dispose();
        _ort.Dispose();
    }

    [Benchmark(Baseline = true)]
    public object Ort() => _ort.Run(_inputs);

    [Benchmark]
    public object Canonical() => _canonical.Run(_inputs);
}
