using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Chain.Inference.Kernels;
using Xunit.Abstractions;
using static Chain.Inference.Tests.Kernels.KernelTestUtil;

namespace Chain.Inference.Tests.Kernels;

/// <summary>
/// Every GEMM path this CPU supports (x86: SSE2/AVX2/AVX-VNNI; arm64: AdvSimd/sdot) against the scalar path
/// on whole operators — GEMM, zero-point correction and requantization together — over random shapes and
/// values. On x64 the arm64 paths are absent and the x86 ones are checked; on an arm64 machine the reverse
/// (under qemu, `make determinism-arm64` compares the same paths through the lab).
/// </summary>
public sealed class PathPropertyTests(ITestOutputHelper output)
{
    private const int Seed = 20261207;
    private static readonly TensorElementType[] Types = [TensorElementType.UInt8, TensorElementType.Int8];

    [Fact]
    public void Path_selection_follows_the_instruction_sets_reported_to_dotnet()
    {
        output.WriteLine($"best {KernelOptions.BestSupported}; AdvSimd.Arm64={AdvSimd.Arm64.IsSupported} Dp={Dp.IsSupported} " +
                         $"Sse2={Sse2.IsSupported} Avx2={Avx2.IsSupported} AvxVnni={AvxVnni.IsSupported}");
        Assert.Equal(AdvSimd.Arm64.IsSupported, KernelOptions.IsSupported(GemmPath.AdvSimd));
        Assert.Equal(Dp.IsSupported && AdvSimd.Arm64.IsSupported, KernelOptions.IsSupported(GemmPath.AdvSimdDp));
        Assert.True(KernelOptions.IsSupported(KernelOptions.BestSupported));
        if (AdvSimd.Arm64.IsSupported)
            Assert.Equal(Dp.IsSupported ? GemmPath.AdvSimdDp : GemmPath.AdvSimd, KernelOptions.BestSupported);
        foreach (var path in Enum.GetValues<GemmPath>().Where(p => !KernelOptions.IsSupported(p)))
            Assert.Throws<PlatformNotSupportedException>(() => KernelOptions.Use(path));
    }

    [Fact]
    public void QLinearMatMul_on_every_path_gives_the_scalar_bytes()
    {
        output.WriteLine($"seed {Seed}; paths {string.Join(",", SupportedPaths)}");
        var rng = new Random(Seed);
        for (var trial = 0; trial < 80; trial++)
        {
            int m = rng.Next(1, 40), n = rng.Next(1, 70), k = rng.Next(1, 90);
            var ta = Types[rng.Next(2)];
            var tb = Types[rng.Next(2)];
            var ty = Types[rng.Next(2)];
            var a = Random8(rng, ta, [m, k]);
            var b = Random8(rng, tb, [k, n]);
            var azp = Random8(rng, ta, []);
            var bzp = Random8(rng, tb, rng.Next(2) == 0 ? [] : [n]);
            var yzp = Random8(rng, ty, []);
            var bs = bzp.ElementCount == 1 ? ScalarF(Scale(rng)) : F32([n], Enumerable.Range(0, n).Select(_ => Scale(rng)).ToArray());
            float sa = Scale(rng), sy = Scale(rng);
            Tensor Q() => CanonicalOps.QLinearMatMul(a, ScalarF(sa), azp, b, bs, bzp, ScalarF(sy), yzp);
            var expected = Run(GemmPath.Scalar, Q);
            foreach (var path in SupportedPaths)
                SameBytes(expected, Run(path, Q), $"seed {Seed} trial {trial} path {path} m={m} n={n} k={k}");
        }
    }

    [Fact]
    public void QLinearConv_on_every_path_gives_the_scalar_bytes()
    {
        output.WriteLine($"seed {Seed + 1}; paths {string.Join(",", SupportedPaths)}");
        var rng = new Random(Seed + 1);
        for (var trial = 0; trial < 40; trial++)
        {
            int c = rng.Next(1, 9), oc = rng.Next(1, 20), h = rng.Next(3, 12), wd = rng.Next(3, 12), kh = rng.Next(1, 4), kw = rng.Next(1, 4);
            var tx = Types[rng.Next(2)];
            var tw = Types[rng.Next(2)];
            var ty = Types[rng.Next(2)];
            var x = Random8(rng, tx, [rng.Next(1, 3), c, h, wd]);
            var w = Random8(rng, tw, [oc, c, kh, kw]);
            var wScales = Enumerable.Range(0, oc).Select(_ => Scale(rng)).ToArray();
            var bias = Enumerable.Range(0, oc).Select(_ => rng.Next(-5000, 5000)).ToArray();
            var xzp = Random8(rng, tx, []);
            var wzp = Random8(rng, tw, []);
            var yzp = Random8(rng, ty, []);
            int p = rng.Next(0, 2), s = rng.Next(1, 3);
            float xs = Scale(rng), ys = Scale(rng);
            Tensor Q() => CanonicalOps.QLinearConv(x, ScalarF(xs), xzp, w, F32([oc], wScales), wzp, ScalarF(ys), yzp, I32([oc], bias),
                [p, p, p, p], [s, s], [], 1);
            var expected = Run(GemmPath.Scalar, Q);
            foreach (var path in SupportedPaths)
                SameBytes(expected, Run(path, Q), $"seed {Seed + 1} trial {trial} path {path} x={x.ShapeText} w={w.ShapeText}");
        }
    }

    private static float Scale(Random rng) => (float)(rng.NextDouble() * 0.05 + 1e-4);
}
