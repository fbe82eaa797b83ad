namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    /// <summary>
    /// ONNX MaxPool on uint8/int8 (1 to 3 spatial axes, NCHW): the maximum over the in-bounds window
    /// positions (padding never wins). Window geometry and output sizes: <see cref="PoolGeometry"/> (ONNX
    /// reference). Empty strides/dilations/pads mean 1/1/0; auto_pad must be resolved into pads by the
    /// caller. No Indices output.
    /// </summary>
    public static Tensor MaxPool(Tensor x, ReadOnlySpan<int> kernelShape, ReadOnlySpan<int> pads, ReadOnlySpan<int> strides,
        ReadOnlySpan<int> dilations, bool ceilMode)
    {
        const string op = "MaxPool";
        KernelArgs.RequireType(op, "X", x, Int8Types);
        var s = PoolGeometry.SpatialAxes(op, x, kernelShape, pads, strides, dilations);
        var g = PoolGeometry.Of(op, x, s, kernelShape, pads, strides, dilations, ceilMode);
        int[] inp = g.In, k = g.Kernel, pb = g.PadBegin, st = g.Stride, dl = g.Dilation, outp = g.Out;
        var planes = x.Shape[0] * x.Shape[1];
        long inPlane = g.InPlane, outPlane = g.OutPlane;
        var signed = x.ElementType == TensorElementType.Int8;
        var src = x.Data;
        KernelArgs.CheckedCount(op, planes * outPlane);
        var result = KernelMemory.Output(x.ElementType, g.OutShape, out var dst);
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
