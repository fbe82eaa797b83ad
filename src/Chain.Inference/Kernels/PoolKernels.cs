namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    /// <summary>
    /// ONNX MaxPool on uint8/int8 (1 to 3 spatial axes, NCHW): the maximum over the in-bounds window
    /// positions (padding never wins). Output size per axis is
    /// floor-or-ceil((in + padBegin + padEnd − ((k−1)·d + 1)) / s) + 1, and with ceil_mode a window that
    /// would start inside the end padding is dropped (ONNX reference). Empty strides/dilations/pads mean
    /// 1/1/0; auto_pad must be resolved into pads by the caller. No Indices output.
    /// </summary>
    public static Tensor MaxPool(Tensor x, ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads, ReadOnlySpan<int> strides,
        ReadOnlySpan<int> dilations, bool ceilMode)
    {
        const string op = "MaxPool";
        KernelArgs.RequireType(op, "X", x, Int8Types);
        var s = x.Rank - 2;
        if (s < 1 || s > 3) throw new InferenceException(op, $"X must be N×C×spatial with 1 to 3 spatial axes, got {x.ShapeText}");
        if (kernelShape.Length != s) throw new InferenceException(op, $"kernel_shape needs {s} values");
        if (pads.Length != 0 && pads.Length != 2 * s) throw new InferenceException(op, $"pads needs {2 * s} values");
        if (strides.Length != 0 && strides.Length != s) throw new InferenceException(op, $"strides needs {s} values");
        if (dilations.Length != 0 && dilations.Length != s) throw new InferenceException(op, $"dilations needs {s} values");
        int[] inp = new int[3], k = new int[3], pb = new int[3], st = new int[3], dl = new int[3], outp = new int[3];
        var outShape = new List<int> { x.Shape[0], x.Shape[1] };
        for (var d = 0; d < 3; d++)
        {
            var sd = d - (3 - s);
            inp[d] = sd < 0 ? 1 : x.Shape[2 + sd];
            k[d] = sd < 0 ? 1 : kernelShape[sd];
            pb[d] = sd < 0 || pads.Length == 0 ? 0 : pads[sd];
            var pe = sd < 0 || pads.Length == 0 ? 0 : pads[s + sd];
            st[d] = sd < 0 || strides.Length == 0 ? 1 : strides[sd];
            dl[d] = sd < 0 || dilations.Length == 0 ? 1 : dilations[sd];
            if (k[d] < 1 || st[d] < 1 || dl[d] < 1 || pb[d] < 0 || pe < 0)
                throw new InferenceException(op, "kernel_shape, strides and dilations must be ≥ 1, pads ≥ 0");
            var span = (long)(k[d] - 1) * dl[d] + 1;
            if (pb[d] >= span || pe >= span) throw new InferenceException(op, "pads must be smaller than the (dilated) kernel");
            var extent = (long)inp[d] + pb[d] + pe - span;
            if (extent < 0) throw new InferenceException(op, "kernel is larger than the padded input");
            var o = ceilMode ? (extent + st[d] - 1) / st[d] + 1 : extent / st[d] + 1;
            if (ceilMode && (o - 1) * st[d] >= inp[d] + pb[d]) o--;
            outp[d] = (int)o;
            if (sd >= 0) outShape.Add(outp[d]);
        }
        var planes = x.Shape[0] * x.Shape[1];
        long inPlane = (long)inp[0] * inp[1] * inp[2], outPlane = (long)outp[0] * outp[1] * outp[2];
        var signed = x.ElementType == TensorElementType.Int8;
        var src = x.Data;
        KernelArgs.CheckedCount(op, planes * outPlane);
        var result = KernelMemory.Output(x.ElementType, outShape.ToArray(), out var dst);
        var inside = true;
        for (var d = 0; d < 3; d++)
            inside &= pb[d] == 0 && (long)(outp[d] - 1) * st[d] + (long)(k[d] - 1) * dl[d] < inp[d];
        if (inside)
        {
            MaxPoolInside(src, dst, planes, inp, outp, k, st, dl, signed);
            return result;
        }
        var o_ = 0;
        for (var pl = 0; pl < planes; pl++)
        {
            var plane = src.Slice((int)(pl * inPlane), (int)inPlane);
            for (var od = 0; od < outp[0]; od++)
            for (var oh = 0; oh < outp[1]; oh++)
            for (var ow = 0; ow < outp[2]; ow++)
            {
                var best = int.MinValue;
                for (var kd = 0; kd < k[0]; kd++)
                {
                    var id = od * st[0] - pb[0] + kd * dl[0];
                    if ((uint)id >= (uint)inp[0]) continue;
                    for (var kh = 0; kh < k[1]; kh++)
                    {
                        var ih = oh * st[1] - pb[1] + kh * dl[1];
                        if ((uint)ih >= (uint)inp[1]) continue;
                        for (var kw = 0; kw < k[2]; kw++)
                        {
                            var iw = ow * st[2] - pb[2] + kw * dl[2];
                            if ((uint)iw >= (uint)inp[2]) continue;
                            var raw = plane[(id * inp[1] + ih) * inp[2] + iw];
                            var v = signed ? (int)(sbyte)raw : raw;
                            if (v > best) best = v;
                        }
                    }
                }
                if (best == int.MinValue) throw new InferenceException(op, "a pooling window covers no input element");
                dst[o_++] = unchecked((byte)best);
            }
        }
        return result;
    }

    /// <summary>
    /// MaxPool where every window lies inside the input (no padding reached): no bounds checks. Signed
    /// bytes are compared as unsigned after xor 0x80 (an order-preserving map), then mapped back.
    /// </summary>
    private static unsafe void MaxPoolInside(ReadOnlySpan<byte> src, Span<byte> dst, int planes, int[] inp, int[] outp,
        int[] k, int[] st, int[] dl, bool signed)
    {
        var flip = signed ? (byte)0x80 : (byte)0;
        int inH = inp[1], inW = inp[2];
        if (inp[0] == 1 && k[0] == 1)
        {
            MaxPoolInside2D(src, dst, planes, inH, inW, outp[1], outp[2], k[1], k[2], st[1], st[2], dl[1], dl[2], flip);
            return;
        }
        var inPlane = inp[0] * inH * inW;
        var outPlane = outp[0] * outp[1] * outp[2];
        if (src.Length < planes * inPlane || dst.Length < planes * outPlane) throw new ArgumentException("MaxPool operands too short");
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        {
            var o = d0;
            for (var pl = 0; pl < planes; pl++)
            {
                var plane = s0 + (long)pl * inPlane;
                for (var od = 0; od < outp[0]; od++)
                for (var oh = 0; oh < outp[1]; oh++)
                {
                    var rowBase = plane + ((long)od * st[0] * inH + (long)oh * st[1]) * inW;
                    for (var ow = 0; ow < outp[2]; ow++)
                    {
                        var win = rowBase + ow * st[2];
                        var best = 0;
                        for (var kd = 0; kd < k[0]; kd++)
                        for (var kh = 0; kh < k[1]; kh++)
                        {
                            var line = win + ((long)kd * dl[0] * inH + (long)kh * dl[1]) * inW;
                            for (var kw = 0; kw < k[2]; kw++)
                            {
                                var v = line[kw * dl[2]] ^ flip;
                                if (v > best) best = v;
                            }
                        }
                        *o++ = (byte)(best ^ flip);
                    }
                }
            }
        }
    }

    private static unsafe void MaxPoolInside2D(ReadOnlySpan<byte> src, Span<byte> dst, int planes, int inH, int inW, int oH, int oW,
        int kH, int kW, int sH, int sW, int dH, int dW, byte flip)
    {
        var inPlane = inH * inW;
        if (src.Length < planes * inPlane || dst.Length < planes * oH * oW) throw new ArgumentException("MaxPool operands too short");
        fixed (byte* s0 = src)
        fixed (byte* d0 = dst)
        {
            var o = d0;
            for (var pl = 0; pl < planes; pl++)
            {
                var plane = s0 + (long)pl * inPlane;
                for (var oh = 0; oh < oH; oh++)
                {
                    var rowBase = plane + oh * sH * inW;
                    if (kH == 2 && kW == 2 && dH == 1 && dW == 1)
                    {
                        var r1 = rowBase + inW;
                        for (var ow = 0; ow < oW; ow++)
                        {
                            var iw = ow * sW;
                            int a = rowBase[iw] ^ flip, b = rowBase[iw + 1] ^ flip, c = r1[iw] ^ flip, d = r1[iw + 1] ^ flip;
                            *o++ = (byte)(Math.Max(Math.Max(a, b), Math.Max(c, d)) ^ flip);
                        }
                        continue;
                    }
                    for (var ow = 0; ow < oW; ow++)
                    {
                        var win = rowBase + ow * sW;
                        var best = 0;
                        for (var kh = 0; kh < kH; kh++)
                        {
                            var line = win + kh * dH * inW;
                            for (var kw = 0; kw < kW; kw++)
                            {
                                var v = line[kw * dW] ^ flip;
                                if (v > best) best = v;
                            }
                        }
                        *o++ = (byte)(best ^ flip);
                    }
                }
            }
        }
    }
}
