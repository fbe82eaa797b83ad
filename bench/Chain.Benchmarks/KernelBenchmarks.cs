using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Chain.Inference;
using Chain.Inference.Kernels;

namespace Chain.Benchmarks;

/// <summary>
/// The canonical int8 kernels on each GEMM path (single thread). GOPS counts a multiply and an add
/// as two operations: 2·M·N·K per GEMM, 2·N·M·OH·OW·C·KH·KW per convolution.
/// Run: dotnet run -c Release --project bench/Chain.Benchmarks -- --filter '*Kernel*' --job short
/// </summary>
[Config(typeof(GopsConfig))]
public class KernelBenchmarks
{
    private Tensor _a = null!, _b = null!, _x = null!, _w = null!, _bias = null!;
    private static readonly Tensor ScaleA = Scalar(0.02f), ScaleB = Scalar(0.003f), ScaleY = Scalar(0.05f);
    private static readonly Tensor ZpU8 = Tensor.Create<byte>(TensorElementType.UInt8, [], [128]);
    private static readonly Tensor ZpS8 = Tensor.Create<sbyte>(TensorElementType.Int8, [], [0]);

    /// <summary>GEMM is Size×Size×Size.</summary>
    [Params(256, 1024)]
    public int Size { get; set; }

    [ParamsSource(nameof(Paths))]
    public GemmPath Path { get; set; }

    public static IEnumerable<GemmPath> Paths => Enum.GetValues<GemmPath>().Where(KernelOptions.IsSupported);

    private static Tensor Scalar(float v) => Tensor.Create<float>(TensorElementType.Float, [], [v]);

    private static Tensor Random(Random rng, TensorElementType type, int[] shape)
    {
        var data = new byte[shape.Aggregate(1, (p, d) => p * d)];
        rng.NextBytes(data);
        return Tensor.Create(type, shape, data);
    }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = Random(rng, TensorElementType.UInt8, [Size, Size]);
        _b = Random(rng, TensorElementType.Int8, [Size, Size]);
        // A ResNet-ish 3×3 layer: 1×64×56×56 input, 64 filters, pad 1.
        _x = Random(rng, TensorElementType.UInt8, [1, 64, 56, 56]);
        _w = Random(rng, TensorElementType.Int8, [64, 64, 3, 3]);
        _bias = Tensor.Create<int>(TensorElementType.Int32, [64], new int[64]);
    }

    [Benchmark]
    public Tensor MatMulInteger()
    {
        using var _ = KernelOptions.Use(Path);
        return CanonicalOps.MatMulInteger(_a, _b, ZpU8, ZpS8);
    }

    [Benchmark]
    public Tensor QLinearMatMul()
    {
        using var _ = KernelOptions.Use(Path);
        return CanonicalOps.QLinearMatMul(_a, ScaleA, ZpU8, _b, ScaleB, ZpS8, ScaleY, ZpU8);
    }

    [Benchmark]
    public Tensor QLinearConv3x3()
    {
        using var _ = KernelOptions.Use(Path);
        return CanonicalOps.QLinearConv(_x, ScaleA, ZpU8, _w, ScaleB, ZpS8, ScaleY, ZpU8, _bias, [1, 1, 1, 1], [], [], 1);
    }

    private sealed class GopsConfig : ManualConfig
    {
        public GopsConfig() => AddColumn(new GopsColumn());
    }

    /// <summary>Giga integer operations per second from the mean time.</summary>
    private sealed class GopsColumn : IColumn
    {
        public string Id => "GOPS";
        public string ColumnName => "GOPS";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2·MACs / mean time, in 1e9 per second";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is null) return "-";
            var size = (long)(int)benchmarkCase.Parameters["Size"];
            var ops = benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(QLinearConv3x3)
                ? 2.0 * 64 * 56 * 56 * 64 * 9
                : 2.0 * size * size * size;
            return (ops / report.ResultStatistics.Mean).ToString("F1"); // ops per ns = GOPS
        }
    }
}
