namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    /// <summary>The smallest global-pool multiplier ONNX Runtime accepts (2^−32); it refuses smaller ones.</summary>
    public const float MinGlobalPoolMultiplier = 2.3283064E-10f;

    /// <summary>The global-pool multipliers ONNX Runtime accepts are below 256.</summary>
    public const float MaxGlobalPoolMultiplier = 256f;

    /// <summary>Image sizes of a global pool must be below 2^24 (ONNX Runtime's bound; float(N) is exact below it).</summary>
    public const long MaxGlobalPoolImage = (1L << 24) - 1;

    /// <summary>
    /// The multiplier of QLinearGlobalAveragePool (and of QLinearAveragePool over the whole image without pads):
    /// m = fl(xScale / fl(yScale · float(imageSize))).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static float GlobalPoolMultiplier(float xScale, float yScale, long imageSize)
    {
        var denominator = yScale * (float)imageSize;
        return xScale / denominator;
    }

    /// <summary>
    /// com.microsoft QLinearGlobalAveragePool, channels_last = 0: X [N, C, spatial…] uint8/int8, per-tensor
    /// scales and zero points; Y [N, C, 1, …] = Requantize.Apply(Σ(x − xZp), m, yZp) per plane, the sum exact in
    /// integers and m = <see cref="GlobalPoolMultiplier"/>, which must lie in [2^−32, 256) (else refused, as ONNX
    /// Runtime refuses it).
    /// </summary>
    public static Tensor QLinearGlobalAveragePool(Tensor x, Tensor xScale, Tensor? xZeroPoint, Tensor yScale, Tensor? yZeroPoint)
    {
        const string op = "QLinearGlobalAveragePool";
        KernelArgs.RequireType(op, "X", x, Int8Pair);
        if (x.Rank < 3) throw new InferenceException(op, $"X must be N×C×spatial, got {x.ShapeText}");
        var sx = ScalarScale(op, "x_scale", xScale);
        var sy = ScalarScale(op, "y_scale", yScale);
        var zx = ScalarZeroPoint(op, "x_zero_point", xZeroPoint, x.ElementType);
        var zy = ScalarZeroPoint(op, "y_zero_point", yZeroPoint, x.ElementType);
        var image = KernelArgs.Product(x.Shape, 2);
        int[] shape = [x.Shape[0], x.Shape[1], .. Enumerable.Repeat(1, x.Rank - 2)];
        var result = KernelMemory.Output(x.ElementType, shape, out var dst);
        GlobalPool(op, x.Data, x.ElementType == TensorElementType.Int8, (long)x.Shape[0] * x.Shape[1], image, sx, zx, sy, zy, dst);
        return result;
    }

    private static void GlobalPool(string op, ReadOnlySpan<byte> src, bool signed, long planes, long image, float sx, int zx, float sy,
        int zy, Span<byte> dst)
    {
        if (image < 1 || image > MaxGlobalPoolImage) throw new InferenceException(op, $"image size {image} is outside 1–{MaxGlobalPoolImage}");
        var m = GlobalPoolMultiplier(sx, sy, image);
        if (!(m >= MinGlobalPoolMultiplier && m < MaxGlobalPoolMultiplier))
            throw new InferenceException(op, $"multiplier {m:R} = x_scale/(y_scale·{image}) is outside [2^-32, 256)");
        var (qmin, qmax) = signed ? (-128, 127) : (0, 255);
        for (long pl = 0; pl < planes; pl++)
        {
            var plane = src.Slice((int)(pl * image), (int)image);
            long sum = 0;
            if (signed) foreach (var b in plane) sum += (sbyte)b;
            else foreach (var b in plane) sum += b;
            var acc = sum - (long)zx * image;
            if (acc is < int.MinValue or > int.MaxValue) throw new InferenceException(op, "the int32 sum overflows");
            dst[(int)pl] = (byte)Requantize.Apply((int)acc, m, zy, qmin, qmax);
        }
    }

    /// <summary>
    /// com.microsoft QLinearAveragePool, channels_last = 0, 1 to 3 spatial axes (docs/inference-semantics.md):
    /// per element d(v) = fl(xScale · float(v − xZp)); per window the float32 sum of d over its in-bounds
    /// positions in row-major order, divided by the count (∏kernel with <paramref name="countIncludePad"/>,
    /// else the in-bounds positions), then y = saturate(rne(fl(fl(avg / yScale) + yZp))). A kernel covering the
    /// whole image with no pads is the global pool (integer sum), as ONNX Runtime computes it. Pads: begin values
    /// then end values; auto_pad resolved by the caller.
    /// </summary>
    public static Tensor QLinearAveragePool(Tensor x, Tensor xScale, Tensor? xZeroPoint, Tensor yScale, Tensor? yZeroPoint,
        ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads, ReadOnlySpan<int> strides, bool ceilMode, bool countIncludePad)
    {
        const string op = "QLinearAveragePool";
        KernelArgs.RequireType(op, "X", x, Int8Pair);
        var s = PoolGeometry.SpatialAxes(op, x, kernelShape, pads, strides);
        var sx = ScalarScale(op, "x_scale", xScale);
        var sy = ScalarScale(op, "y_scale", yScale);
        var zx = ScalarZeroPoint(op, "x_zero_point", xZeroPoint, x.ElementType);
        var zy = ScalarZeroPoint(op, "y_zero_point", yZeroPoint, x.ElementType);
        var signed = x.ElementType == TensorElementType.Int8;
        var g = PoolGeometry.Of(op, x, s, kernelShape, pads, strides, ceilMode);
        int[] inp = g.In, k = g.Kernel, pb = g.PadBegin, st = g.Stride, outp = g.Out;
        var global = true;
        for (var d = 0; d < 3; d++) global &= k[d] == inp[d] && pb[d] == 0 && g.PadEnd[d] == 0;
        var planes = (long)x.Shape[0] * x.Shape[1];
        long inPlane = g.InPlane, outPlane = g.OutPlane;
        KernelArgs.CheckedCount(op, planes * outPlane);
        var result = KernelMemory.Output(x.ElementType, g.OutShape, out var dst);
        if (global)
        {
            // ONNX Runtime runs a whole-image window without pads as its global pool (exact integer sum).
            GlobalPool(op, x.Data, signed, planes, inPlane, sx, zx, sy, zy, dst);
            return result;
        }
        Span<float> table = stackalloc float[256];
        for (var v = 0; v < 256; v++) table[v] = sx * ((signed ? (sbyte)v : v) - zx);
        var (qmin, qmax) = signed ? (-128, 127) : (0, 255);
        long kernelSize = (long)k[0] * k[1] * k[2];
        var src = x.Data;
        var o_ = 0;
        for (long pl = 0; pl < planes; pl++)
        {
            var plane = src.Slice((int)(pl * inPlane), (int)inPlane);
            for (var od = 0; od < outp[0]; od++)
            {
                int d0 = od * st[0] - pb[0], d1 = Math.Min(d0 + k[0], inp[0]);
                d0 = Math.Max(d0, 0);
                for (var oh = 0; oh < outp[1]; oh++)
                {
                    int h0 = oh * st[1] - pb[1], h1 = Math.Min(h0 + k[1], inp[1]);
                    h0 = Math.Max(h0, 0);
                    for (var ow = 0; ow < outp[2]; ow++)
                    {
                        int w0 = ow * st[2] - pb[2], w1 = Math.Min(w0 + k[2], inp[2]);
                        w0 = Math.Max(w0, 0);
                        long count = countIncludePad ? kernelSize : (long)(d1 - d0) * (h1 - h0) * (w1 - w0);
                        if (d1 <= d0 || h1 <= h0 || w1 <= w0) throw new InferenceException(op, "a pooling window covers no input element");
                        var sum = 0f;
                        for (var id = d0; id < d1; id++)
                        for (var ih = h0; ih < h1; ih++)
                        {
                            var row = plane.Slice((id * inp[1] + ih) * inp[2], inp[2]);
                            for (var iw = w0; iw < w1; iw++) sum += table[row[iw]];
                        }
                        var avg = sum / count;
                        var q = avg / sy;
                        q += zy;
                        dst[o_++] = (byte)SaturateRound(q, qmin, qmax);
                    }
                }
            }
        }
        return result;
    }
}
