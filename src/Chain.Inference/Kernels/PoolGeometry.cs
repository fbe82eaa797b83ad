namespace Chain.Inference.Kernels;

/// <summary>
/// A pooling window (MaxPool, QLinearAveragePool) normalised to three spatial axes, missing leading axes
/// having size 1: input, kernel, pads, strides, dilations and output sizes. Output size per axis is
/// floor-or-ceil((in + padBegin + padEnd − ((k−1)·d + 1)) / s) + 1, and with ceil_mode a window that would
/// start inside the end padding is dropped (<see cref="OutputSize"/>, which admission sizes windows with too).
/// Empty strides/dilations/pads mean 1/1/0.
/// </summary>
internal sealed class PoolGeometry
{
    public readonly int[] In = new int[3], Kernel = new int[3], PadBegin = new int[3], PadEnd = new int[3];
    public readonly int[] Stride = new int[3], Dilation = new int[3], Out = new int[3];

    /// <summary>[N, C, output spatial sizes…] (the real spatial axes only).</summary>
    public int[] OutShape = [];

    public long InPlane => (long)In[0] * In[1] * In[2];
    public long OutPlane => (long)Out[0] * Out[1] * Out[2];

    /// <summary>
    /// Windows along one axis for <paramref name="extent"/> = in + padBegin + padEnd − dilated kernel (≥ 0):
    /// ⌊extent / stride⌋ + 1, or with <paramref name="ceilMode"/> ⌈extent / stride⌉ + 1 less a last window
    /// that would start at or after <paramref name="startLimit"/> (in + padBegin), as ONNX and ONNX Runtime do.
    /// </summary>
    public static long OutputSize(long extent, long stride, bool ceilMode, long startLimit)
    {
        var o = ceilMode ? (extent + stride - 1) / stride + 1 : extent / stride + 1;
        if (ceilMode && (o - 1) * stride >= startLimit) o--;
        return o;
    }

    /// <summary>
    /// The number of spatial axes of <paramref name="x"/> (1 to 3), after checking the rank and how many
    /// kernel_shape, pads, strides (and, for a pool that has them, dilations) values there are.
    /// </summary>
    public static int SpatialAxes(string op, Tensor x, ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads, ReadOnlySpan<int> strides,
        ReadOnlySpan<int> dilations = default)
    {
        var s = x.Rank - 2;
        if (s < 1 || s > 3) throw new InferenceException(op, $"X must be N×C×spatial with 1 to 3 spatial axes, got {x.ShapeText}");
        if (kernelShape.Length != s) throw new InferenceException(op, $"kernel_shape needs {s} values");
        if (pads.Length != 0 && pads.Length != 2 * s) throw new InferenceException(op, $"pads needs {2 * s} values");
        if (strides.Length != 0 && strides.Length != s) throw new InferenceException(op, $"strides needs {s} values");
        if (dilations.Length != 0 && dilations.Length != s) throw new InferenceException(op, $"dilations needs {s} values");
        return s;
    }

    /// <summary>A pool without dilations (QLinearAveragePool), <paramref name="s"/> from <see cref="SpatialAxes"/>.</summary>
    public static PoolGeometry Of(string op, Tensor x, int s, ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads,
        ReadOnlySpan<int> strides, bool ceilMode) =>
        Of(op, x, s, kernelShape, pads, strides, default, dilated: false, ceilMode);

    /// <summary>A pool with dilations (MaxPool), <paramref name="s"/> from <see cref="SpatialAxes"/>.</summary>
    public static PoolGeometry Of(string op, Tensor x, int s, ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads,
        ReadOnlySpan<int> strides, ReadOnlySpan<int> dilations, bool ceilMode) =>
        Of(op, x, s, kernelShape, pads, strides, dilations, dilated: true, ceilMode);

    private static PoolGeometry Of(string op, Tensor x, int s, ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads,
        ReadOnlySpan<int> strides, ReadOnlySpan<int> dilations, bool dilated, bool ceilMode)
    {
        var g = new PoolGeometry();
        var outShape = new List<int> { x.Shape[0], x.Shape[1] };
        for (var d = 0; d < 3; d++)
        {
            var sd = d - (3 - s); // index among the real spatial axes, negative for the padding axes
            g.In[d] = sd < 0 ? 1 : x.Shape[2 + sd];
            g.Kernel[d] = sd < 0 ? 1 : kernelShape[sd];
            g.PadBegin[d] = sd < 0 || pads.Length == 0 ? 0 : pads[sd];
            g.PadEnd[d] = sd < 0 || pads.Length == 0 ? 0 : pads[s + sd];
            g.Stride[d] = sd < 0 || strides.Length == 0 ? 1 : strides[sd];
            g.Dilation[d] = sd < 0 || dilations.Length == 0 ? 1 : dilations[sd];
            if (g.Kernel[d] < 1 || g.Stride[d] < 1 || g.Dilation[d] < 1 || g.PadBegin[d] < 0 || g.PadEnd[d] < 0)
                throw new InferenceException(op, dilated
                    ? "kernel_shape, strides and dilations must be ≥ 1, pads ≥ 0"
                    : "kernel_shape and strides must be ≥ 1, pads ≥ 0");
            var span = (long)(g.Kernel[d] - 1) * g.Dilation[d] + 1;
            if (g.PadBegin[d] >= span || g.PadEnd[d] >= span)
                throw new InferenceException(op, dilated ? "pads must be smaller than the (dilated) kernel" : "pads must be smaller than the kernel");
            var extent = (long)g.In[d] + g.PadBegin[d] + g.PadEnd[d] - span;
            if (extent < 0) throw new InferenceException(op, "kernel is larger than the padded input");
            g.Out[d] = (int)OutputSize(extent, g.Stride[d], ceilMode, g.In[d] + g.PadBegin[d]);
            if (sd >= 0) outShape.Add(g.Out[d]);
        }
        g.OutShape = outShape.ToArray();
        return g;
    }
}
