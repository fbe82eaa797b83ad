namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    /// <summary>
    /// ONNX ConvInteger (NCHW; 1, 2 or 3 spatial dimensions): int32 y = Σ (x − x_zp)(w − w_zp), with
    /// padded positions contributing zero. x_zero_point is a scalar; w_zero_point a scalar or 1-D of M
    /// (per output channel). Empty pads/strides/dilations mean 0/1/1; auto_pad must already be resolved
    /// into <paramref name="pads"/> (begin values for every spatial axis, then end values).
    /// </summary>
    public static Tensor ConvInteger(Tensor x, Tensor w, Tensor? xZeroPoint, Tensor? wZeroPoint,
        ReadOnlySpan<int> pads, ReadOnlySpan<int> strides, ReadOnlySpan<int> dilations, int group)
    {
        const string op = "ConvInteger";
        var geo = ConvGeometry.Of(op, x, w, pads, strides, dilations, group);
        var (xzp, wzp) = ConvZeroPoints(op, x, w, xZeroPoint, wZeroPoint, geo.M);
        var result = KernelMemory.Output<int>(TensorElementType.Int32, geo.OutShape, out var acc);
        ConvAccumulate(geo, x, w, xzp, wzp, acc);
        return result;
    }

    /// <summary>
    /// ONNX QLinearConv with the chain's requantization: acc as ConvInteger plus the optional int32
    /// bias[M] (wrapping add), then y = saturate(roundHalfToEven(float32(acc) · m[oc]) + y_zp) with
    /// m[oc] = float32(float32(x_s · w_s[oc]) / y_s). w_scale/w_zero_point: scalar or 1-D of M.
    /// </summary>
    public static Tensor QLinearConv(Tensor x, Tensor xScale, Tensor xZeroPoint, Tensor w, Tensor wScale,
        Tensor wZeroPoint, Tensor yScale, Tensor yZeroPoint, Tensor? bias,
        ReadOnlySpan<int> pads, ReadOnlySpan<int> strides, ReadOnlySpan<int> dilations, int group)
    {
        const string op = "QLinearConv";
        var geo = ConvGeometry.Of(op, x, w, pads, strides, dilations, group);
        var (xzp, wzp) = ConvZeroPoints(op, x, w, xZeroPoint, wZeroPoint, geo.M);
        if (xScale.ElementCount != 1) throw new InferenceException(op, "x_scale must be a scalar");
        if (yScale.ElementCount != 1 || yZeroPoint.ElementCount != 1)
            throw new InferenceException(op, "y_scale and y_zero_point must be scalars");
        KernelArgs.RequireType(op, "y_zero_point", yZeroPoint, Int8Types);
        var sx = KernelArgs.Scales(op, "x_scale", xScale)[0];
        var sy = KernelArgs.Scales(op, "y_scale", yScale)[0];
        var yzp = KernelArgs.Ints(yZeroPoint)[0];
        var (b, mult) = RequantParams(op, geo.M, sx, sy, xScale, wScale, yScale, bias);

        var mark = KernelMemory.Mark();
        var acc = KernelMemory.Scratch<int>((long)geo.N * geo.M * geo.OutPositions);
        ConvAccumulate(geo, x, w, xzp, wzp, acc);
        var (qmin, qmax) = KernelArgs.Range(yZeroPoint.ElementType);
        var result = KernelMemory.Output(yZeroPoint.ElementType, geo.OutShape, out var y);
        var plane = (int)geo.OutPositions;
        var simd = KernelOptions.Current != GemmPath.Scalar;
        if (plane == 1 && b is not null)
        {
            // One output position (fully connected layers as convolutions): a bias and multiplier per element.
            for (var n = 0; n < geo.N; n++)
                Requantize.Run(acc.Slice(n * geo.M, geo.M), b, mult, yzp, qmin, qmax, y.Slice(n * geo.M, geo.M), simd);
        }
        else
        {
            for (var n = 0; n < geo.N; n++)
            for (var oc = 0; oc < geo.M; oc++)
            {
                var off = (n * geo.M + oc) * plane;
                Requantize.Run(acc.Slice(off, plane), b is null ? 0 : b[oc], mult[oc], yzp, qmin, qmax, y.Slice(off, plane), simd);
            }
        }
        KernelMemory.Release(mark);
        return result;
    }

    /// <summary>Requantization constants derived only from parameter tensors, remembered per (immutable) w_scale tensor.</summary>
    private sealed record RequantPlan(Tensor XScale, Tensor YScale, Tensor? Bias, int[]? B, float[] Mult);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, RequantPlan> RequantPlans = new();

    private static (int[]? Bias, float[] Mult) RequantParams(string op, int m, float sx, float sy, Tensor xScale, Tensor wScale,
        Tensor yScale, Tensor? bias)
    {
        if (RequantPlans.TryGetValue(wScale, out var plan) && ReferenceEquals(plan.XScale, xScale)
            && ReferenceEquals(plan.YScale, yScale) && ReferenceEquals(plan.Bias, bias) && plan.Mult.Length == m)
            return (plan.B, plan.Mult);
        var sw = KernelArgs.Expand(op, "w_scale", wScale, KernelArgs.Scales(op, "w_scale", wScale), m, "per output channel");
        int[]? b = null;
        if (bias is not null)
        {
            KernelArgs.RequireType(op, "B", bias, TensorElementType.Int32);
            if (bias.Rank != 1 || bias.Shape[0] != m)
                throw new InferenceException(op, $"bias has shape {bias.ShapeText}, expected [{m}]");
            b = bias.Elements<int>().ToArray();
        }
        var mult = new float[m];
        for (var oc = 0; oc < m; oc++) mult[oc] = CheckedMultiplier(op, sx, sw[oc], sy);
        RequantPlans.AddOrUpdate(wScale, new RequantPlan(xScale, yScale, bias, b, mult));
        return (b, mult);
    }

    private static (int X, int[] W) ConvZeroPoints(string op, Tensor x, Tensor w, Tensor? xZeroPoint, Tensor? wZeroPoint, int m)
    {
        var xzp = 0;
        if (xZeroPoint is not null)
        {
            if (xZeroPoint.ElementType != x.ElementType) throw new InferenceException(op, "x_zero_point type differs from x");
            if (xZeroPoint.ElementCount != 1) throw new InferenceException(op, "x_zero_point must be a scalar");
            xzp = KernelArgs.Ints(xZeroPoint)[0];
        }
        return (xzp, ZeroPoints(op, "w_zero_point", w, wZeroPoint, m, "per output channel"));
    }

    /// <summary>Convolution shapes normalised to three spatial axes (missing leading axes have size 1).</summary>
    private sealed class ConvGeometry
    {
        public int N, C, M, Group, Cg, Mg, Kc;
        public readonly int[] In = new int[3], Kernel = new int[3], Out = new int[3];
        public readonly int[] PadBegin = new int[3], Stride = new int[3], Dilation = new int[3];
        public int[] OutShape = [];
        public long OutPositions => (long)Out[0] * Out[1] * Out[2];

        public static ConvGeometry Of(string op, Tensor x, Tensor w, ReadOnlySpan<int> pads, ReadOnlySpan<int> strides,
            ReadOnlySpan<int> dilations, int group)
        {
            KernelArgs.RequireType(op, "x", x, Int8Types);
            KernelArgs.RequireType(op, "w", w, Int8Types);
            var s = x.Rank - 2;
            if (s < 1 || s > 3) throw new InferenceException(op, $"x must be N×C×spatial with 1 to 3 spatial axes, got {x.ShapeText}");
            if (w.Rank != x.Rank) throw new InferenceException(op, $"w {w.ShapeText} and x {x.ShapeText} differ in rank");
            var g = new ConvGeometry { N = x.Shape[0], C = x.Shape[1], M = w.Shape[0], Group = group };
            if (group < 1 || g.C % group != 0 || g.M % group != 0)
                throw new InferenceException(op, $"group {group} does not divide channels {g.C} and feature maps {g.M}");
            g.Cg = g.C / group;
            g.Mg = g.M / group;
            if (w.Shape[1] != g.Cg) throw new InferenceException(op, $"w has {w.Shape[1]} input channels per group, x needs {g.Cg}");
            if (pads.Length != 0 && pads.Length != 2 * s) throw new InferenceException(op, $"pads needs {2 * s} values");
            if (strides.Length != 0 && strides.Length != s) throw new InferenceException(op, $"strides needs {s} values");
            if (dilations.Length != 0 && dilations.Length != s) throw new InferenceException(op, $"dilations needs {s} values");
            var outShape = new List<int> { g.N, g.M };
            for (var d = 0; d < 3; d++)
            {
                var sd = d - (3 - s); // index among the real spatial axes, negative for the padding axes
                g.In[d] = sd < 0 ? 1 : x.Shape[2 + sd];
                g.Kernel[d] = sd < 0 ? 1 : w.Shape[2 + sd];
                g.PadBegin[d] = sd < 0 || pads.Length == 0 ? 0 : pads[sd];
                var padEnd = sd < 0 || pads.Length == 0 ? 0 : pads[s + sd];
                g.Stride[d] = sd < 0 || strides.Length == 0 ? 1 : strides[sd];
                g.Dilation[d] = sd < 0 || dilations.Length == 0 ? 1 : dilations[sd];
                if (g.PadBegin[d] < 0 || padEnd < 0 || g.Stride[d] < 1 || g.Dilation[d] < 1)
                    throw new InferenceException(op, "pads must be ≥ 0, strides and dilations ≥ 1");
                var span = (long)(g.Kernel[d] - 1) * g.Dilation[d] + 1;
                var extent = (long)g.In[d] + g.PadBegin[d] + padEnd - span;
                if (extent < 0) throw new InferenceException(op, $"kernel {w.ShapeText} is larger than the padded input {x.ShapeText}");
                g.Out[d] = (int)(extent / g.Stride[d] + 1);
                if (sd >= 0) outShape.Add(g.Out[d]);
            }
            g.Kc = KernelArgs.CheckedCount(op, (long)g.Cg * g.Kernel[0] * g.Kernel[1] * g.Kernel[2]);
            g.OutShape = outShape.ToArray();
            KernelArgs.CheckedCount(op, KernelArgs.Product(g.OutShape));
            return g;
        }
    }

    /// <summary>
    /// im2col + GEMM into <paramref name="acc"/> ([N, M, positions]). Several output positions: see
    /// <see cref="ConvAccumulateByPositions"/>. One position (fully connected layers as convolutions): for
    /// each image and group, the GEMM row is the patch and B the packed weights of the group.
    /// </summary>
    private static void ConvAccumulate(ConvGeometry g, Tensor x, Tensor w, int xzpRaw, int[] wzpRaw, Span<int> acc)
    {
        var path = KernelOptions.Current;
        bool xSigned = x.ElementType == TensorElementType.Int8, wSigned = w.ElementType == TensorElementType.Int8;
        var positions = (int)g.OutPositions;
        if (acc.Length == 0) return;
        if (positions > 1)
        {
            ConvAccumulateByPositions(g, x, w, xzpRaw, wzpRaw, path, acc);
            return;
        }
        var xData = x.Data;
        // The window is exactly the unpadded input (1×1 inputs and the like): the patch is the image itself,
        // in the same (c, d, h, w) order.
        var direct = true;
        for (var d = 0; d < 3 && direct; d++)
            direct = g.PadBegin[d] == 0 && g.Kernel[d] == g.In[d] && (g.Kernel[d] == 1 || g.Dilation[d] == 1);
        var mark = KernelMemory.Mark();
        Span<int> za = [xSigned ? xzpRaw + 128 : xzpRaw];
        var padByte = unchecked((byte)xzpRaw); // padding holds x_zp, so (pad − x_zp) contributes zero
        var cols = direct ? default : KernelMemory.Scratch<byte>(g.Kc);
        var zb = KernelMemory.Scratch<int>(g.Mg);
        long inPlane = (long)g.In[0] * g.In[1] * g.In[2];
        for (var gi = 0; gi < g.Group; gi++)
        {
            var groupMark = KernelMemory.Mark();
            var packed = PackedWeightCache.Get(w, gi * g.Mg * g.Kc, wSigned, g.Kc, g.Mg, 1, g.Kc, path);
            for (var j = 0; j < g.Mg; j++) zb[j] = wSigned ? wzpRaw[gi * g.Mg + j] : wzpRaw[gi * g.Mg + j] - 128;
            for (var n = 0; n < g.N; n++)
            {
                var image = xData.Slice((int)(((long)n * g.C + gi * g.Cg) * inPlane), (int)(g.Cg * inPlane));
                // The GEMM row is the output channels of this group, in acc's order already.
                var dst = acc.Slice((int)((long)n * g.M + gi * g.Mg), g.Mg);
                if (direct) Int8Gemm.Multiply(1, image, g.Kc, xSigned, za, packed, zb, dst);
                else
                {
                    Im2Col(g, image, 0, 1, padByte, cols);
                    Int8Gemm.Multiply(1, cols, g.Kc, xSigned, za, packed, zb, dst);
                }
            }
            KernelMemory.Release(groupMark);
        }
        KernelMemory.Release(mark);
    }

    private const int ColumnChunk = 1024; // output positions per packed patch block (a multiple of the panel width)

    /// <summary>
    /// Scratch a planned ConvInteger/QLinearConv takes besides its output (the sum of what
    /// <see cref="ConvAccumulate"/> and the requantization hold at once, on any GEMM path).
    /// </summary>
    internal static long ConvScratchBytes(int n, int m, int group, int kc, long positions, bool requantize)
    {
        static long Align(long v) => (v + 63) & ~63L;
        var mg = m / Math.Max(1, group);
        var bytes = requantize ? Align((long)n * m * positions * sizeof(int)) : 0;
        var offsets = kc > 4096 ? Align((long)kc * sizeof(int)) : 0; // Im2Col's patch offsets
        if (positions > 1)
        {
            var chunk = (int)Math.Min(ColumnChunk, positions);
            bytes += Align((long)kc * chunk) + Align((long)chunk * sizeof(int)) + Align((long)mg * sizeof(int)) +
                     (positions > chunk ? Align((long)mg * chunk * sizeof(int)) : 0) +
                     PackedB.MaxStorageBytes(kc, chunk) + Int8Gemm.ScratchBytes(mg, kc);
            return bytes + offsets;
        }
        return bytes + Align(kc) + Align((long)mg * sizeof(int)) + PackedB.MaxStorageBytes(kc, mg) + Int8Gemm.ScratchBytes(1, kc) + offsets;
    }

    /// <summary>
    /// Several output positions: the weights are A (M_g × K_c, row-major as stored) and the patch matrix is B
    /// (K_c × positions, each row built from contiguous input runs, then packed), so C = [oc, p] is acc's own
    /// layout. Σ_k (w − w_zp)(x − x_zp) is symmetric in its operands, so the int32 result is the same.
    /// </summary>
    private static void ConvAccumulateByPositions(ConvGeometry g, Tensor x, Tensor w, int xzpRaw, int[] wzpRaw, GemmPath path, Span<int> acc)
    {
        bool xSigned = x.ElementType == TensorElementType.Int8, wSigned = w.ElementType == TensorElementType.Int8;
        var positions = (int)g.OutPositions;
        var chunk = Math.Min(ColumnChunk, positions);
        var mark = KernelMemory.Mark();
        var colsT = KernelMemory.Scratch<byte>((long)g.Kc * chunk);
        var zbX = KernelMemory.Scratch<int>(chunk);
        zbX.Fill(xSigned ? xzpRaw : xzpRaw - 128);
        var zaW = KernelMemory.Scratch<int>(g.Mg);
        var tile = positions > chunk ? KernelMemory.Scratch<int>((long)g.Mg * chunk) : default;
        var padByte = unchecked((byte)xzpRaw); // padding holds x_zp, so (pad − x_zp) contributes zero
        long inPlane = (long)g.In[0] * g.In[1] * g.In[2];
        var xData = x.Data;
        var wData = w.Data;
        for (var n = 0; n < g.N; n++)
        for (var gi = 0; gi < g.Group; gi++)
        {
            for (var j = 0; j < g.Mg; j++) zaW[j] = wSigned ? wzpRaw[gi * g.Mg + j] + 128 : wzpRaw[gi * g.Mg + j];
            var image = xData.Slice((int)(((long)n * g.C + gi * g.Cg) * inPlane), (int)(g.Cg * inPlane));
            var weights = wData.Slice(gi * g.Mg * g.Kc, g.Mg * g.Kc);
            var outBase = ((long)n * g.M + gi * g.Mg) * positions;
            for (var p0 = 0; p0 < positions; p0 += chunk)
            {
                var pc = Math.Min(chunk, positions - p0);
                var chunkMark = KernelMemory.Mark();
                BuildColumns(g, image, p0, pc, padByte, colsT);
                var packedX = new PackedB(colsT, xSigned, g.Kc, pc, pc, 1, path, scratch: KernelMemory.Planned);
                if (tile.IsEmpty)
                    Int8Gemm.Multiply(g.Mg, weights, g.Kc, wSigned, zaW, packedX, zbX[..pc], acc.Slice((int)outBase, g.Mg * positions));
                else
                {
                    Int8Gemm.Multiply(g.Mg, weights, g.Kc, wSigned, zaW, packedX, zbX[..pc], tile);
                    for (var oc = 0; oc < g.Mg; oc++)
                        tile.Slice(oc * pc, pc).CopyTo(acc.Slice((int)(outBase + (long)oc * positions + p0), pc));
                }
                KernelMemory.Release(chunkMark);
            }
        }
        KernelMemory.Release(mark);
    }

    /// <summary>
    /// The transposed patch matrix for positions p0..p0+pc: row t = (c, kd, kh, kw) holds, for each position,
    /// the input element under that kernel tap or x_zp where it falls in the padding.
    /// </summary>
    private static unsafe void BuildColumns(ConvGeometry g, ReadOnlySpan<byte> image, int p0, int pc, byte padByte, Span<byte> colsT)
    {
        int inD = g.In[0], inH = g.In[1], inW = g.In[2];
        int oH = g.Out[1], oW = g.Out[2];
        int sD = g.Stride[0], sH = g.Stride[1], sW = g.Stride[2];
        int pD = g.PadBegin[0], pH = g.PadBegin[1], pW = g.PadBegin[2];
        var inPlane = inD * inH * inW;
        if (image.Length < g.Cg * inPlane || colsT.Length < (long)g.Kc * pc) throw new ArgumentException("patch operands too short");
        fixed (byte* img = image)
        fixed (byte* cols = colsT)
        {
            var row = cols;
            for (var c = 0; c < g.Cg; c++)
            for (var kd = 0; kd < g.Kernel[0]; kd++)
            for (var kh = 0; kh < g.Kernel[1]; kh++)
            for (var kw = 0; kw < g.Kernel[2]; kw++, row += pc)
            {
                var chan = img + c * inPlane;
                int dOff = kd * g.Dilation[0] - pD, hOff = kh * g.Dilation[1] - pH, wOff = kw * g.Dilation[2] - pW;
                var p = p0;
                var j = 0;
                while (j < pc)
                {
                    var ow = p % oW;
                    var rest = p / oW;
                    int oh = rest % oH, od = rest / oH;
                    var seg = Math.Min(oW - ow, pc - j);
                    int id = od * sD + dOff, ih = oh * sH + hOff;
                    var dst = row + j;
                    if ((uint)id >= (uint)inD || (uint)ih >= (uint)inH)
                        new Span<byte>(dst, seg).Fill(padByte);
                    else
                    {
                        var line = chan + (id * inH + ih) * inW;
                        var iw0 = ow * sW + wOff;
                        if (sW == 1)
                        {
                            // Positions q with 0 ≤ iw0 + q < inW read the input; the rest are padding.
                            var lo = Math.Clamp(-iw0, 0, seg);
                            var hi = Math.Clamp(inW - iw0, lo, seg);
                            if (lo > 0) new Span<byte>(dst, lo).Fill(padByte);
                            if (hi > lo) Buffer.MemoryCopy(line + iw0 + lo, dst + lo, hi - lo, hi - lo);
                            if (seg > hi) new Span<byte>(dst + hi, seg - hi).Fill(padByte);
                        }
                        else
                        {
                            for (var q = 0; q < seg; q++)
                            {
                                var iw = iw0 + q * sW;
                                dst[q] = (uint)iw < (uint)inW ? line[iw] : padByte;
                            }
                        }
                    }
                    j += seg;
                    p += seg;
                }
            }
        }
    }

    private static unsafe void Im2Col(ConvGeometry g, ReadOnlySpan<byte> image, int p0, int pc, byte padByte, Span<byte> cols)
    {
        int inD = g.In[0], inH = g.In[1], inW = g.In[2];
        int oH = g.Out[1], oW = g.Out[2];
        int kD = g.Kernel[0], kH = g.Kernel[1], kW = g.Kernel[2];
        int sD = g.Stride[0], sH = g.Stride[1], sW = g.Stride[2];
        int dD = g.Dilation[0], dH = g.Dilation[1], dW = g.Dilation[2];
        int pD = g.PadBegin[0], pH = g.PadBegin[1], pW = g.PadBegin[2];
        int kc = g.Kc, cg = g.Cg;
        var inPlane = inD * inH * inW;
        if (image.Length < cg * inPlane || cols.Length < pc * kc) throw new ArgumentException("im2col operands too short");
        int ow = p0 % oW, oh = p0 / oW % oH, od = p0 / oW / oH;
        // Offsets of the patch elements relative to the window origin, for windows entirely inside the input.
        var mark = KernelMemory.Mark();
        Span<int> offsets = kc <= 4096 ? stackalloc int[kc] : KernelMemory.Scratch<int>(kc);
        {
            var t = 0;
            for (var c = 0; c < cg; c++)
            for (var kd = 0; kd < kD; kd++)
            for (var kh = 0; kh < kH; kh++)
            for (var kw = 0; kw < kW; kw++)
                offsets[t++] = c * inPlane + (kd * dD * inH + kh * dH) * inW + kw * dW;
        }
        int dSpan = (kD - 1) * dD, hSpan = (kH - 1) * dH, wSpan = (kW - 1) * dW;
        fixed (int* offp = offsets)
        fixed (byte* img = image)
        fixed (byte* colp = cols)
        {
            for (var r = 0; r < pc; r++)
            {
                var row = colp + (long)r * kc;
                var t = 0;
                var iw0 = ow * sW - pW;
                int id0 = od * sD - pD, ih0 = oh * sH - pH;
                if (id0 >= 0 && id0 + dSpan < inD && ih0 >= 0 && ih0 + hSpan < inH && iw0 >= 0 && iw0 + wSpan < inW)
                {
                    var origin = img + (id0 * inH + ih0) * inW + iw0;
                    for (; t < kc; t++) row[t] = origin[offp[t]];
                    goto next;
                }
                // The whole kernel row lies inside the input width: copy without per-element checks.
                var wInside = iw0 >= 0 && iw0 + (kW - 1) * dW < inW;
                for (var c = 0; c < cg; c++)
                {
                    var chan = img + c * inPlane;
                    for (var kd = 0; kd < kD; kd++)
                    {
                        var id = od * sD - pD + kd * dD;
                        for (var kh = 0; kh < kH; kh++)
                        {
                            var ih = oh * sH - pH + kh * dH;
                            if ((uint)id >= (uint)inD || (uint)ih >= (uint)inH)
                            {
                                for (var kw = 0; kw < kW; kw++) row[t++] = padByte;
                                continue;
                            }
                            var src = chan + (id * inH + ih) * inW;
                            if (wInside)
                            {
                                var s0 = src + iw0;
                                for (var kw = 0; kw < kW; kw++) row[t++] = s0[kw * dW];
                            }
                            else
                            {
                                for (var kw = 0; kw < kW; kw++)
                                {
                                    var iw = iw0 + kw * dW;
                                    row[t++] = (uint)iw < (uint)inW ? src[iw] : padByte;
                                }
                            }
                        }
                    }
                }
                next:
                if (++ow == oW)
                {
                    ow = 0;
                    if (++oh == oH)
                    {
                        oh = 0;
                        od++;
                    }
                }
            }
        }
        KernelMemory.Release(mark);
    }
}
