using Chain.Inference.Kernels;
using static Chain.Inference.Tests.Kernels.KernelTestUtil;

namespace Chain.Inference.Tests.Kernels;

public class ConvTests
{
    /// <summary>Direct 2-D convolution in long: the definition, with padding contributing zero.</summary>
    private static int[] Naive(Tensor x, Tensor w, int xzp, int[] wzp, int[] pads, int[] strides, int[] dil, int group, out int[] shape)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int m = w.Shape[0], cg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        int oh = (h + pads[0] + pads[2] - ((kh - 1) * dil[0] + 1)) / strides[0] + 1;
        int ow = (wd + pads[1] + pads[3] - ((kw - 1) * dil[1] + 1)) / strides[1] + 1;
        shape = [n, m, oh, ow];
        var y = new int[n * m * oh * ow];
        int mg = m / group;
        for (int b = 0; b < n; b++)
        for (int oc = 0; oc < m; oc++)
        for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++)
        {
            long s = 0;
            var g = oc / mg;
            for (int ci = 0; ci < cg; ci++)
            for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                int ih = i * strides[0] - pads[0] + u * dil[0], iw = j * strides[1] - pads[1] + v * dil[1];
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                var xv = At(x, ((b * c + g * cg + ci) * h + ih) * wd + iw) - xzp;
                var wv = At(w, ((oc * cg + ci) * kh + u) * kw + v) - wzp[oc];
                s += (long)xv * wv;
            }
            y[((b * m + oc) * oh + i) * ow + j] = unchecked((int)s);
        }
        return y;
    }

    [Fact]
    public void Onnx_documentation_example_without_padding()
    {
        // ConvInteger operator doc: x uint8 1×1×3×3 = 2..10, zp 1; w uint8 1×1×2×2 all 1.
        var x = U8([1, 1, 3, 3], 2, 3, 4, 5, 6, 7, 8, 9, 10);
        var w = U8([1, 1, 2, 2], 1, 1, 1, 1);
        foreach (var path in SupportedPaths)
        {
            var y = Run(path, () => CanonicalOps.ConvInteger(x, w, U8([], 1), null, [], [], [], 1));
            Assert.Equal(new[] { 1, 1, 2, 2 }, y.Shape.ToArray());
            Assert.Equal(new[] { 12, 16, 24, 28 }, y.Elements<int>().ToArray());
            var padded = Run(path, () => CanonicalOps.ConvInteger(x, w, U8([], 1), null, [1, 1, 1, 1], [], [], 1));
            Assert.Equal(new[] { 1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9 }, padded.Elements<int>().ToArray());
        }
    }

    [Fact]
    public void Single_position_windows_take_the_direct_path_and_match_direct_convolution()
    {
        // Kernel = whole input (fully connected layers as convolutions), 1×1 inputs, end padding below the
        // stride: the patch is the image itself. K deliberately not a multiple of 4, 16 or 64.
        var rng = new Random(777);
        TensorElementType[] types = [TensorElementType.UInt8, TensorElementType.Int8];
        for (var trial = 0; trial < 40; trial++)
        {
            var group = new[] { 1, 1, 2 }[rng.Next(3)];
            int cg = new[] { 1, 3, 5, 13, 16, 17 }[rng.Next(6)], mg = new[] { 1, 7, 10, 16, 33 }[rng.Next(5)];
            int c = cg * group, m = mg * group;
            int h = rng.Next(1, 8), wd = rng.Next(1, 8);
            int[] strides = [rng.Next(1, 3), rng.Next(1, 3)];
            int[] pads = [0, 0, rng.Next(0, strides[0]), rng.Next(0, strides[1])];
            var n = rng.Next(1, 4);
            var tx = types[rng.Next(2)];
            var tw = types[rng.Next(2)];
            var x = Random8(rng, tx, [n, c, h, wd]);
            var w = Random8(rng, tw, [m, cg, h, wd]);
            var xzp = Random8(rng, tx, []);
            var perChannel = rng.Next(2) == 0;
            var wzp = Random8(rng, tw, perChannel ? [m] : []);
            var wz = Enumerable.Range(0, m).Select(i => At(wzp, perChannel ? i : 0)).ToArray();
            var expected = Naive(x, w, At(xzp, 0), wz, pads, strides, [1, 1], group, out var shape);
            Assert.Equal(1, shape[2] * shape[3]);
            foreach (var path in SupportedPaths)
            {
                var y = Run(path, () => CanonicalOps.ConvInteger(x, w, xzp, wzp, pads, strides, [1, 1], group));
                Assert.True(expected.SequenceEqual(y.Elements<int>().ToArray()), $"trial {trial} path {path} k={cg * h * wd}");
            }
        }
    }

    [Fact]
    public void QLinearConv_vector_requantization_equals_the_scalar_path()
    {
        // The scalar path requantizes with Requantize.Apply element by element; the SIMD paths 8 lanes at a
        // time. Random per-channel scales (including huge and tiny multipliers), biases near int32 limits.
        var rng = new Random(99);
        TensorElementType[] types = [TensorElementType.UInt8, TensorElementType.Int8];
        for (var trial = 0; trial < 40; trial++)
        {
            int c = rng.Next(1, 6), m = rng.Next(1, 20);
            int kh = rng.Next(1, 4), kw = rng.Next(1, 4);
            int h = kh + rng.Next(0, 12), wd = kw + rng.Next(0, 12);
            if (rng.Next(4) == 0) { h = kh; wd = kw; }
            var tx = types[rng.Next(2)];
            var tw = types[rng.Next(2)];
            var ty = types[rng.Next(2)];
            var x = Random8(rng, tx, [1, c, h, wd]);
            var w = Random8(rng, tw, [m, c, kh, kw]);
            var xzp = Random8(rng, tx, []);
            var wzp = Random8(rng, tw, []);
            var yzp = Random8(rng, ty, []);
            var ws = Enumerable.Range(0, m).Select(_ => rng.Next(8) switch
            {
                0 => 1e30f,
                1 => 1e-30f,
                2 => 0.5f, // ties when x_s = y_s
                _ => (float)(rng.NextDouble() * 0.1 + 1e-4),
            }).ToArray();
            var bias = Enumerable.Range(0, m).Select(_ => rng.Next(3) == 0 ? int.MaxValue - rng.Next(100) : rng.Next(-100000, 100000)).ToArray();
            var xs = ScalarF(rng.Next(2) == 0 ? 1f : 0.0039215689f);
            var ys = ScalarF(rng.Next(2) == 0 ? 1f : 0.05f);
            int[] pads = rng.Next(2) == 0 ? [0, 0, 0, 0] : [1, 1, 1, 1];
            Tensor Q() => CanonicalOps.QLinearConv(x, xs, xzp, w, F32([m], ws), wzp, ys, yzp, I32([m], bias), pads, [], [], 1);
            var expected = Run(GemmPath.Scalar, Q);
            foreach (var path in SupportedPaths)
                SameBytes(expected, Run(path, Q), $"trial {trial} path {path}");
        }
    }

    [Fact]
    public void MaxPool_fast_paths_match_a_naive_pool()
    {
        var rng = new Random(5150);
        TensorElementType[] types = [TensorElementType.UInt8, TensorElementType.Int8];
        for (var trial = 0; trial < 40; trial++)
        {
            int kh = rng.Next(1, 4), kw = rng.Next(1, 4), sh = rng.Next(1, 3), sw = rng.Next(1, 3), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            if (rng.Next(2) == 0) { kh = kw = 2; sh = sw = 2; dh = dw = 1; }
            int h = (kh - 1) * dh + 1 + rng.Next(0, 9), wd = (kw - 1) * dw + 1 + rng.Next(0, 9);
            var t = types[rng.Next(2)];
            var x = Random8(rng, t, [2, 3, h, wd]);
            int oh = (h - ((kh - 1) * dh + 1)) / sh + 1, ow = (wd - ((kw - 1) * dw + 1)) / sw + 1;
            var expected = new byte[2 * 3 * oh * ow];
            var o = 0;
            for (var pl = 0; pl < 6; pl++)
            for (var i = 0; i < oh; i++)
            for (var j = 0; j < ow; j++)
            {
                var best = int.MinValue;
                for (var u = 0; u < kh; u++)
                for (var v = 0; v < kw; v++)
                    best = Math.Max(best, At(x, (pl * h + i * sh + u * dh) * wd + j * sw + v * dw));
                expected[o++] = unchecked((byte)best);
            }
            var y = CanonicalOps.MaxPool(x, [kh, kw], [], [sh, sw], [dh, dw], false);
            Assert.Equal(new[] { 2, 3, oh, ow }, y.Shape.ToArray());
            Assert.True(expected.AsSpan().SequenceEqual(y.Data), $"trial {trial}");
        }
    }

    [Fact]
    public void Random_convolutions_match_direct_convolution_on_every_path()
    {
        var rng = new Random(424242);
        TensorElementType[] types = [TensorElementType.UInt8, TensorElementType.Int8];
        for (var trial = 0; trial < 40; trial++)
        {
            var group = new[] { 1, 1, 2, 3 }[rng.Next(4)];
            int cg = rng.Next(1, 5), mg = rng.Next(1, 7);
            int c = cg * group, m = mg * group;
            int kh = rng.Next(1, 4), kw = rng.Next(1, 4);
            int[] dil = [rng.Next(1, 3), rng.Next(1, 3)];
            int[] pads = [rng.Next(0, 3), rng.Next(0, 3), rng.Next(0, 3), rng.Next(0, 3)];
            int[] strides = [rng.Next(1, 3), rng.Next(1, 3)];
            int h = (kh - 1) * dil[0] + 1 + rng.Next(0, 9), wd = (kw - 1) * dil[1] + 1 + rng.Next(0, 30);
            var n = rng.Next(1, 3);
            var tx = types[rng.Next(2)];
            var tw = types[rng.Next(2)];
            var x = Random8(rng, tx, [n, c, h, wd]);
            var w = Random8(rng, tw, [m, cg, kh, kw]);
            var xzp = Random8(rng, tx, []);
            var perChannel = rng.Next(2) == 0;
            var wzp = Random8(rng, tw, perChannel ? [m] : []);
            var wz = Enumerable.Range(0, m).Select(i => At(wzp, perChannel ? i : 0)).ToArray();
            var expected = Naive(x, w, At(xzp, 0), wz, pads, strides, dil, group, out var shape);
            foreach (var path in SupportedPaths)
            {
                var y = Run(path, () => CanonicalOps.ConvInteger(x, w, xzp, wzp, pads, strides, dil, group));
                Assert.Equal(shape, y.Shape.ToArray());
                Assert.True(expected.SequenceEqual(y.Elements<int>().ToArray()), $"trial {trial} path {path}");
            }
        }
    }

    [Fact]
    public void Patch_blocks_spanning_several_chunks_match_direct_convolution()
    {
        // More output positions than one packed patch block holds (1024), with strides, padding and dilation.
        var rng = new Random(2026);
        foreach (var (h, wd, s, d) in new[] { (40, 55, 1, 1), (70, 61, 2, 1), (37, 90, 1, 2) })
        {
            var x = Random8(rng, TensorElementType.Int8, [2, 3, h, wd]);
            var w = Random8(rng, TensorElementType.UInt8, [17, 3, 3, 2]);
            int[] pads = [1, 0, 2, 1], strides = [s, s], dil = [d, d];
            var expected = Naive(x, w, -3, Enumerable.Repeat(200, 17).ToArray(), pads, strides, dil, 1, out var shape);
            Assert.True(shape[2] * shape[3] > 1024 || s > 1);
            foreach (var path in SupportedPaths)
            {
                var y = Run(path, () => CanonicalOps.ConvInteger(x, w, S8([], -3), U8([], 200), pads, strides, dil, 1));
                Assert.Equal(shape, y.Shape.ToArray());
                Assert.True(expected.SequenceEqual(y.Elements<int>().ToArray()), $"{h}×{wd} s{s} d{d} path {path}");
            }
        }
    }

    [Fact]
    public void Three_dimensional_convolution_matches_a_direct_sum()
    {
        var rng = new Random(33);
        for (var trial = 0; trial < 10; trial++)
        {
            int c = rng.Next(1, 4), m = rng.Next(1, 20), kd = rng.Next(1, 3), kh = rng.Next(1, 4), kw = rng.Next(1, 4);
            int id = kd + rng.Next(0, 4), ih = kh + rng.Next(0, 6), iw = kw + rng.Next(0, 9);
            int[] pads = [rng.Next(0, 2), rng.Next(0, 2), rng.Next(0, 2), rng.Next(0, 2), rng.Next(0, 2), rng.Next(0, 2)];
            int[] strides = [rng.Next(1, 3), rng.Next(1, 3), rng.Next(1, 3)];
            var x = Random8(rng, TensorElementType.UInt8, [1, c, id, ih, iw]);
            var w = Random8(rng, TensorElementType.Int8, [m, c, kd, kh, kw]);
            int od = (id + pads[0] + pads[3] - kd) / strides[0] + 1, oh = (ih + pads[1] + pads[4] - kh) / strides[1] + 1,
                ow = (iw + pads[2] + pads[5] - kw) / strides[2] + 1;
            var expected = new int[m * od * oh * ow];
            for (var oc = 0; oc < m; oc++)
            for (var a = 0; a < od; a++)
            for (var b = 0; b < oh; b++)
            for (var e = 0; e < ow; e++)
            {
                long sum = 0;
                for (var ci = 0; ci < c; ci++)
                for (var u = 0; u < kd; u++)
                for (var v = 0; v < kh; v++)
                for (var q = 0; q < kw; q++)
                {
                    int zd = a * strides[0] - pads[0] + u, zh = b * strides[1] - pads[1] + v, zw = e * strides[2] - pads[2] + q;
                    if (zd < 0 || zd >= id || zh < 0 || zh >= ih || zw < 0 || zw >= iw) continue;
                    sum += (long)(At(x, ((ci * id + zd) * ih + zh) * iw + zw) - 7) * (At(w, (((oc * c + ci) * kd + u) * kh + v) * kw + q) + 2);
                }
                expected[((oc * od + a) * oh + b) * ow + e] = (int)sum;
            }
            foreach (var path in SupportedPaths)
            {
                var y = Run(path, () => CanonicalOps.ConvInteger(x, w, U8([], 7), S8([], -2), pads, strides, [], 1));
                Assert.True(expected.SequenceEqual(y.Elements<int>().ToArray()), $"trial {trial} path {path}");
            }
        }
    }

    [Fact]
    public void Large_im2col_spanning_several_chunks_agrees_across_paths()
    {
        var rng = new Random(99);
        var x = Random8(rng, TensorElementType.UInt8, [1, 8, 30, 30]);
        var w = Random8(rng, TensorElementType.Int8, [20, 8, 3, 3]);
        var reference = Run(GemmPath.Scalar, () => CanonicalOps.ConvInteger(x, w, U8([], 128), S8([], 0), [1, 1, 1, 1], [], [], 1));
        foreach (var path in SupportedPaths)
            SameBytes(reference, Run(path, () => CanonicalOps.ConvInteger(x, w, U8([], 128), S8([], 0), [1, 1, 1, 1], [], [], 1)), path.ToString());
    }

    [Fact]
    public void One_dimensional_convolution_is_supported()
    {
        var x = S8([1, 1, 5], 1, 2, 3, 4, 5);
        var w = S8([1, 1, 2], 1, -1);
        var y = CanonicalOps.ConvInteger(x, w, null, null, [0, 0], [2], [], 1);
        Assert.Equal(new[] { 1, 1, 2 }, y.Shape.ToArray());
        Assert.Equal(new[] { -1, -1 }, y.Elements<int>().ToArray());
    }

    [Fact]
    public void Shape_errors_are_refused()
    {
        var x = U8([1, 2, 3, 3], new byte[18]);
        Assert.Contains("group", Assert.Throws<InferenceException>(() => CanonicalOps.ConvInteger(x, U8([3, 1, 1, 1], 1, 1, 1), null, null, [], [], [], 2)).Message);
        Assert.Contains("input channels", Assert.Throws<InferenceException>(() => CanonicalOps.ConvInteger(x, U8([1, 1, 1, 1], 1), null, null, [], [], [], 1)).Message);
        Assert.Contains("larger", Assert.Throws<InferenceException>(() => CanonicalOps.ConvInteger(x, U8([1, 2, 4, 4], new byte[32]), null, null, [], [], [], 1)).Message);
        Assert.Contains("pads", Assert.Throws<InferenceException>(() => CanonicalOps.ConvInteger(x, U8([1, 2, 1, 1], 1, 1), null, null, [1], [], [], 1)).Message);
    }
}
