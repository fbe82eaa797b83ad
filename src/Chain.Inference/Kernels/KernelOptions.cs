using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Chain.Inference.Kernels;

/// <summary>Instruction-set paths of the int8 GEMM. All give identical bytes; they differ only in speed.</summary>
public enum GemmPath
{
    /// <summary>Plain loops computing Σ(a−za)(b−zb) directly: the reference.</summary>
    Scalar,
    /// <summary>128-bit pmaddwd on int16-widened operands.</summary>
    Sse2,
    /// <summary>256-bit vpmaddwd on int16-widened operands (never saturates for u8×s8 pairs).</summary>
    Avx2,
    /// <summary>256-bit vpdpbusd (AVX-VNNI), the non-saturating u8×s8 dot-product-accumulate.</summary>
    AvxVnni,
    /// <summary>arm64: 128-bit smlal/smlal2 on int16-widened operands (the pmaddwd layout), pairs added at the end.</summary>
    AdvSimd,
    /// <summary>arm64 dot-product extension: 128-bit sdot on s8×s8 (A shifted by −128, the zero point with it).</summary>
    AdvSimdDp,
}

/// <summary>
/// Which GEMM path the kernels use. Defaults to the fastest the CPU (as reported to .NET, so
/// DOTNET_EnableAVX2=0, DOTNET_EnableArm64Dp=0, DOTNET_EnableHWIntrinsic=0 and friends are honoured) supports; CHAIN_KERNELS=scalar, <see cref="ForceScalar"/>
/// or a thread-local <see cref="Use"/> scope pick another so paths can be compared.
/// </summary>
public static class KernelOptions
{
    [ThreadStatic] private static GemmPath? _threadPath;

    /// <summary>Process-wide switch to the scalar reference path; initialised from CHAIN_KERNELS=scalar.</summary>
    public static bool ForceScalar { get; set; } =
        string.Equals(Environment.GetEnvironmentVariable("CHAIN_KERNELS"), "scalar", StringComparison.OrdinalIgnoreCase);

    /// <summary>The fastest path this process may use.</summary>
    public static GemmPath BestSupported { get; } =
        AvxVnni.IsSupported && Avx2.IsSupported ? GemmPath.AvxVnni
        : Avx2.IsSupported ? GemmPath.Avx2
        : Sse2.IsSupported ? GemmPath.Sse2
        : Dp.IsSupported && AdvSimd.Arm64.IsSupported ? GemmPath.AdvSimdDp
        : AdvSimd.Arm64.IsSupported ? GemmPath.AdvSimd
        : GemmPath.Scalar;

    public static bool IsSupported(GemmPath path) => path switch
    {
        GemmPath.Scalar => true,
        GemmPath.Sse2 => Sse2.IsSupported,
        GemmPath.Avx2 => Avx2.IsSupported,
        GemmPath.AvxVnni => AvxVnni.IsSupported && Avx2.IsSupported,
        GemmPath.AdvSimd => AdvSimd.Arm64.IsSupported,
        GemmPath.AdvSimdDp => Dp.IsSupported && AdvSimd.Arm64.IsSupported,
        _ => false,
    };

    /// <summary>The path a kernel started on this thread now will use.</summary>
    public static GemmPath Current => _threadPath ?? (ForceScalar ? GemmPath.Scalar : BestSupported);

    /// <summary>Forces <paramref name="path"/> on the calling thread until the scope is disposed (tests, determinism lab).</summary>
    public static IDisposable Use(GemmPath path)
    {
        if (!IsSupported(path))
            throw new PlatformNotSupportedException($"GEMM path {path} is not supported on this CPU/runtime");
        var previous = _threadPath;
        _threadPath = path;
        return new Scope(previous);
    }

    private sealed class Scope(GemmPath? previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _threadPath = previous;
        }
    }
}
