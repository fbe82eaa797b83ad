using Chain.Inference.Kernels;
using static Chain.Inference.Tests.Kernels.KernelTestUtil;

namespace Chain.Inference.Tests.Kernels;

public class GemmTests
{
    private static readonly TensorElementType[] Types = [TensorElementType.UInt8, TensorElementType.Int8];

    /// <summary>Triple loop in long, truncated to int32: the definition the kernels must meet.</summary>
    private static int[] Naive(Tensor a, Tensor b, int[] za, int[] zb, int m, int n, int k)
    {
        var c = new int[m * n];
        for (var i = 0; i < m; i++)
        for (var j = 0; j < n; j++)
        {
            long s = 0;
            for (var t = 0; t < k; t++) s += (long)(At(a, i * k + t) - za[i]) * (At(b, t * n + j) - zb[j]);
            c[i * n + j] = unchecked((int)s);
        }
        return c;
    }

    [Fact]
    public void Onnx_documentation_example()
    {
        // MatMulInteger operator doc: A uint8 4×3 with zp 12, B uint8 3×2 with zp 0.
        var a = U8([4, 3], 11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0);
        var b = U8([3, 2], 1, 4, 2, 5, 3, 6);
        foreach (var path in SupportedPaths)
        {
            var y = Run(path, () => CanonicalOps.MatMulInteger(a, b, U8([], 12), U8([], 0)));
            Assert.Equal(new[] { 4, 2 }, y.Shape.ToArray());
            Assert.Equal(new[] { -38, -83, -44, -98, -50, -113, -56, -128 }, y.Elements<int>().ToArray());
        }
    }

    [Fact]
    public void Random_shapes_types_and_zero_points_match_naive_on_every_path()
    {
        var rng = new Random(20261125);
        int[] sizes = [1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100];
        for (var trial = 0; trial < 60; trial++)
        {
            int m = sizes[rng.Next(sizes.Length)], n = sizes[rng.Next(sizes.Length)], k = sizes[rng.Next(sizes.Length)];
            var ta = Types[rng.Next(2)];
            var tb = Types[rng.Next(2)];
            var a = Random8(rng, ta, [m, k]);
            var b = Random8(rng, tb, [k, n]);
            var perRow = rng.Next(2) == 0;
            var perCol = rng.Next(2) == 0;
            var azp = Random8(rng, ta, perRow ? [m] : []);
            var bzp = Random8(rng, tb, perCol ? [n] : []);
            var za = Enumerable.Range(0, m).Select(i => At(azp, perRow ? i : 0)).ToArray();
            var zb = Enumerable.Range(0, n).Select(j => At(bzp, perCol ? j : 0)).ToArray();
            var expected = Naive(a, b, za, zb, m, n, k);
            foreach (var path in SupportedPaths)
            {
                var y = Run(path, () => CanonicalOps.MatMulInteger(a, b, azp, bzp));
                Assert.True(expected.SequenceEqual(y.Elements<int>().ToArray()),
                    $"trial {trial} path {path} m={m} n={n} k={k} {ta}×{tb}");
            }
        }
    }

    [Theory]
    [InlineData(33025)] // |acc| just under 2^31: 33025 · 255 · 255 = 2147450625
    [InlineData(40000)] // exceeds int32: every path must agree on the wrapped value
    public void Extreme_values_near_and_past_int32_agree_with_wrapped_reference(int k)
    {
        var a = Tensor.Create(TensorElementType.UInt8, [2, k], Enumerable.Repeat((byte)255, 2 * k).ToArray());
        var bBytes = new byte[k * 17];
        for (var i = 0; i < bBytes.Length; i++) bBytes[i] = i % 17 == 3 ? (byte)127 : unchecked((byte)(sbyte)-128);
        var b = Tensor.Create(TensorElementType.Int8, [k, 17], bBytes);
        var azp = U8([], 0);
        var bzp = S8([], 127);
        var expected = Naive(a, b, [0, 0], Enumerable.Repeat(127, 17).ToArray(), 2, 17, k);
        if (k == 33025) Assert.Equal(-2147450625, expected[0]);
        foreach (var path in SupportedPaths)
            Assert.Equal(expected, Run(path, () => CanonicalOps.MatMulInteger(a, b, azp, bzp)).Elements<int>().ToArray());
    }

    [Fact]
    public void Batched_broadcasting_follows_numpy_matmul()
    {
        var rng = new Random(7);
        var a = Random8(rng, TensorElementType.Int8, [2, 1, 3, 5]);
        var b = Random8(rng, TensorElementType.UInt8, [3, 5, 4]);
        var azp = S8([3], -7, 0, 100);
        var bzp = U8([4], 0, 1, 128, 255);
        var b2 = Random8(rng, TensorElementType.UInt8, [5, 4]);
        foreach (var path in SupportedPaths)
        {
            var y = Run(path, () => CanonicalOps.MatMulInteger(a, b, azp, bzp));
            Assert.Equal(new[] { 2, 3, 3, 4 }, y.Shape.ToArray());
            var c = y.Elements<int>();
            for (int i0 = 0; i0 < 2; i0++)
            for (int i1 = 0; i1 < 3; i1++)
            for (int r = 0; r < 3; r++)
            for (int col = 0; col < 4; col++)
            {
                long s = 0;
                for (int t = 0; t < 5; t++) s += (At(a, (i0 * 3 + r) * 5 + t) - At(azp, r)) * (At(b, (i1 * 5 + t) * 4 + col) - At(bzp, col));
                Assert.Equal(s, c[((i0 * 3 + i1) * 3 + r) * 4 + col]);
            }
            // B without batch dimensions: all of A's batches run as one tall GEMM with per-row zero points tiled.
            var tall = Run(path, () => CanonicalOps.MatMulInteger(a, b2, azp, bzp));
            Assert.Equal(new[] { 2, 1, 3, 4 }, tall.Shape.ToArray());
            for (int i0 = 0; i0 < 2; i0++)
            for (int r = 0; r < 3; r++)
            for (int col = 0; col < 4; col++)
            {
                long s = 0;
                for (int t = 0; t < 5; t++) s += (At(a, (i0 * 3 + r) * 5 + t) - At(azp, r)) * (At(b2, t * 4 + col) - At(bzp, col));
                Assert.Equal(s, tall.Elements<int>()[(i0 * 3 + r) * 4 + col]);
            }
        }
    }

    [Fact]
    public void A_broadcast_against_batched_B()
    {
        var rng = new Random(8);
        var a = Random8(rng, TensorElementType.UInt8, [3, 6]);
        var b = Random8(rng, TensorElementType.Int8, [4, 6, 2]);
        var y = CanonicalOps.MatMulInteger(a, b, U8([], 9));
        Assert.Equal(new[] { 4, 3, 2 }, y.Shape.ToArray());
        for (int bi = 0; bi < 4; bi++)
        {
            var slice = Tensor.Create(TensorElementType.Int8, [6, 2], b.Data.Slice(bi * 12, 12));
            var expected = CanonicalOps.MatMulInteger(a, slice, U8([], 9)).Elements<int>().ToArray();
            Assert.Equal(expected, y.Elements<int>().Slice(bi * 6, 6).ToArray());
        }
    }

    [Fact]
    public void One_dimensional_operands_drop_their_dimension()
    {
        var a = S8([3], 1, -2, 3);
        var b = S8([3, 2], 1, 2, 3, 4, 5, 6);
        var y = CanonicalOps.MatMulInteger(a, b);
        Assert.Equal(new[] { 2 }, y.Shape.ToArray());
        Assert.Equal(new[] { 1 - 6 + 15, 2 - 8 + 18 }, y.Elements<int>().ToArray());
        var v = CanonicalOps.MatMulInteger(a, S8([3], 1, 1, 1));
        Assert.Equal(0, v.Rank);
        Assert.Equal(2, v.Elements<int>()[0]);
    }

    [Fact]
    public void Mismatches_are_refused_with_a_clear_message()
    {
        var a = U8([2, 3], 1, 2, 3, 4, 5, 6);
        Assert.Contains("inner dimensions", Assert.Throws<InferenceException>(() => CanonicalOps.MatMulInteger(a, U8([2, 2], 1, 2, 3, 4))).Message);
        Assert.Contains("a_zero_point", Assert.Throws<InferenceException>(() => CanonicalOps.MatMulInteger(a, U8([3, 1], 1, 2, 3), S8([], 1))).Message);
        Assert.Contains("per row", Assert.Throws<InferenceException>(() => CanonicalOps.MatMulInteger(a, U8([3, 1], 1, 2, 3), U8([3], 1, 2, 3))).Message);
        Assert.Throws<InferenceException>(() => CanonicalOps.MatMulInteger(I32([1, 1], 1), U8([1, 1], 1)));
    }

    [Fact]
    public void Force_scalar_switch_and_scopes_select_the_path()
    {
        Assert.Equal(GemmPath.Scalar, Run(GemmPath.Scalar, () => KernelOptions.Current));
        Assert.True(KernelOptions.IsSupported(KernelOptions.BestSupported));
        var before = KernelOptions.ForceScalar;
        try
        {
            KernelOptions.ForceScalar = true;
            Assert.Equal(GemmPath.Scalar, KernelOptions.Current);
            using (KernelOptions.Use(KernelOptions.BestSupported)) Assert.Equal(KernelOptions.BestSupported, KernelOptions.Current);
            KernelOptions.ForceScalar = false;
            Assert.Equal(KernelOptions.BestSupported, KernelOptions.Current);
        }
        finally
        {
            KernelOptions.ForceScalar = before;
        }
    }
}
