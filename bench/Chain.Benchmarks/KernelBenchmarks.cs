using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Chain.Inference;
using Chain.Inference.Kernels;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    [Params(1024)]
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

    internal sealed class GopsConfig : ManualConfig
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
            var name = benchmarkCase.Descriptor.WorkloadMethod.Name;
            var ops = benchmarkCase.Descriptor.Type == typeof(InferenceBenchmarks)
                ? 2.0 * InferenceBenchmarks.MacsOf((string)benchmarkCase.Parameters["Model"])
                : name switch
            {
                nameof(QLinearConv3x3) => 2.0 * 64 * 56 * 56 * 64 * 9,
                nameof(KernelPeakBenchmarks.VpdpbusdPeak) => KernelPeakBenchmarks.VnniOps,
                nameof(KernelPeakBenchmarks.VpmaddwdPeak) => KernelPeakBenchmarks.MaddOps,
                _ => 2.0 * Math.Pow((int)benchmarkCase.Parameters["Size"], 3),
            };
            return (ops / report.ResultStatistics.Mean).ToString("F1"); // ops per ns = GOPS
        }
    }
}

/// <summary>
/// The core's int8 multiply-accumulate ceiling, for judging the GEMM's GOPS: eight independent
/// accumulator chains of vpdpbusd (32 MACs each) or vpmaddwd+vpaddd (16 MACs each), no memory traffic.
/// </summary>
[Config(typeof(KernelBenchmarks.GopsConfig))]
public class KernelPeakBenchmarks
{
    private const int Iterations = 1 << 20;
    public const double VnniOps = 2.0 * Iterations * 8 * 32;
    public const double MaddOps = 2.0 * Iterations * 8 * 16;

    [Benchmark]
    public Vector256<int> VpdpbusdPeak()
    {
        if (!AvxVnni.IsSupported) throw new PlatformNotSupportedException("AVX-VNNI");
        var a = Vector256.Create((byte)3);
        var b = Vector256.Create((sbyte)-2);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (var i = 0; i < Iterations; i++)
        {
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, a, b); c1 = AvxVnni.MultiplyWideningAndAdd(c1, a, b);
            c2 = AvxVnni.MultiplyWideningAndAdd(c2, a, b); c3 = AvxVnni.MultiplyWideningAndAdd(c3, a, b);
            c4 = AvxVnni.MultiplyWideningAndAdd(c4, a, b); c5 = AvxVnni.MultiplyWideningAndAdd(c5, a, b);
            c6 = AvxVnni.MultiplyWideningAndAdd(c6, a, b); c7 = AvxVnni.MultiplyWideningAndAdd(c7, a, b);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
    }

    [Benchmark]
    public Vector256<int> VpmaddwdPeak()
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("AVX2");
        // The accumulator feeds the multiply so the JIT cannot hoist a loop-invariant product.
        var b = Vector256.Create((short)-2);
        Vector256<int> c0 = Vector256.Create(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (var i = 0; i < Iterations; i++)
        {
            c0 += Avx2.MultiplyAddAdjacent(c0.AsInt16(), b); c1 += Avx2.MultiplyAddAdjacent(c1.AsInt16(), b);
            c2 += Avx2.MultiplyAddAdjacent(c2.AsInt16(), b); c3 += Avx2.MultiplyAddAdjacent(c3.AsInt16(), b);
            c4 += Avx2.MultiplyAddAdjacent(c4.AsInt16(), b); c5 += Avx2.MultiplyAddAdjacent(c5.AsInt16(), b);
            c6 += Avx2.MultiplyAddAdjacent(c6.AsInt16(), b); c7 += Avx2.MultiplyAddAdjacent(c7.AsInt16(), b);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
    }
}
