namespace Chain.ModelTool;

/// <summary>The u8 logits and the ArgMax class of one inference.</summary>
public sealed record IntegerResult(byte[] Logits, long Class);

/// <summary>
/// Executes a <see cref="QuantizedModel"/> in pure integer arithmetic plus the float32 requantization of
/// <see cref="Requant"/>: the reference the exported ONNX graph must reproduce bit for bit. Batch 1 only.
/// </summary>
public static class IntegerReference
{
    private sealed record U8(int[] Shape, byte[] Data, float Scale, byte ZeroPoint);

    public static IntegerResult Run(QuantizedModel model, ReadOnlySpan<byte> input)
    {
        var expected = model.Input.Shape.Aggregate(1, (a, b) => a * b);
        if (input.Length != expected) throw new ArgumentException($"input has {input.Length} bytes, model expects {expected}");
        var tensors = new Dictionary<string, U8> { [model.Input.Name] = new(model.Input.Shape, input.ToArray(), model.Input.Scale, model.Input.ZeroPoint) };
        var classes = new Dictionary<string, long>();
        foreach (var layer in model.Layers)
        {
            if (!tensors.TryGetValue(layer.Input, out var x))
                throw new InvalidOperationException($"layer {layer.Name} reads unknown u8 tensor '{layer.Input}'");
            switch (layer)
            {
                case QLinearConvLayer conv:
                    tensors[conv.Output] = Conv(conv, x);
                    break;
                case MaxPoolLayer pool:
                    tensors[pool.Output] = MaxPool(pool, x);
                    break;
                case ReshapeLayer reshape:
                    if (reshape.Shape.Aggregate(1L, (a, b) => a * b) != x.Data.Length)
                        throw new InvalidOperationException($"reshape {reshape.Name} to [{string.Join(",", reshape.Shape)}] does not fit {x.Data.Length} elements");
                    tensors[reshape.Output] = x with { Shape = Array.ConvertAll(reshape.Shape, d => (int)d) };
                    break;
                case ArgMaxLayer argMax:
                    if (argMax.Axis != x.Shape.Length - 1 || x.Shape.Take(x.Shape.Length - 1).Any(d => d != 1))
                        throw new InvalidOperationException($"argmax {argMax.Name} supports only the last axis of a [1,...,1,C] tensor");
                    classes[argMax.Output] = FirstArgMax(x.Data);
                    break;
                default:
                    throw new InvalidOperationException($"unsupported layer {layer.GetType().Name}");
            }
        }
        var logits = tensors.TryGetValue(model.Outputs[0], out var l) ? l.Data : throw new InvalidOperationException($"output {model.Outputs[0]} is not a u8 tensor");
        var cls = classes.TryGetValue(model.Outputs[1], out var c) ? c : throw new InvalidOperationException($"output {model.Outputs[1]} is not an ArgMax output");
        return new IntegerResult(logits, cls);
    }

    /// <summary>Classifies every image of a set (independent per image, so parallel and still deterministic); returns accuracy.</summary>
    public static double Accuracy(QuantizedModel model, MnistSet set)
    {
        var correct = new int[set.Count];
        Parallel.For(0, set.Count, i => correct[i] = Run(model, set.Image(i)).Class == set.Labels[i] ? 1 : 0);
        return correct.Sum() / (double)set.Count;
    }

    internal static long FirstArgMax(ReadOnlySpan<byte> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static U8 Conv(QLinearConvLayer l, U8 x)
    {
        if (x.Shape.Length != 4 || x.Shape[0] != 1) throw new InvalidOperationException($"{l.Name}: input must be [1,C,H,W]");
        if (x.Scale != l.InputScale || x.ZeroPoint != l.InputZeroPoint)
            throw new InvalidOperationException($"{l.Name}: x_scale/x_zero_point differ from the producer's output parameters");
        if (l.WeightZeroPoint != 0) throw new InvalidOperationException($"{l.Name}: weights must be symmetric (zero point 0)");
        int c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int m = l.OutChannels, kh = l.KernelShape[0], kw = l.KernelShape[1];
        if (l.InChannels != c || l.WeightShape[2] != kh || l.WeightShape[3] != kw)
            throw new InvalidOperationException($"{l.Name}: weight shape does not match the input or kernel");
        if (l.Weights.Length != m * c * kh * kw || l.Bias.Length != m || (l.WeightScales.Length != 1 && l.WeightScales.Length != m))
            throw new InvalidOperationException($"{l.Name}: constant lengths do not match the weight shape");
        foreach (var q in l.Weights)
            if (q < Requant.WeightMin || q > Requant.WeightMax) throw new InvalidOperationException($"{l.Name}: weight {q} outside [-64, 63]");
        int sy = l.Strides[0], sx = l.Strides[1], pt = l.Pads[0], pl = l.Pads[1], pb = l.Pads[2], pr = l.Pads[3];
        var oh = (h + pt + pb - kh) / sy + 1;
        var ow = (w + pl + pr - kw) / sx + 1;
        if (l.OutputShape.Length != 4 || l.OutputShape[1] != m || l.OutputShape[2] != oh || l.OutputShape[3] != ow)
            throw new InvalidOperationException($"{l.Name}: declared output shape does not match [1,{m},{oh},{ow}]");
        var output = new byte[m * oh * ow];
        var acc = new int[oh * ow];
        int xzp = x.ZeroPoint;
        for (var o = 0; o < m; o++)
        {
            Array.Fill(acc, l.Bias[o]);
            for (var ci = 0; ci < c; ci++)
            for (var ky = 0; ky < kh; ky++)
            for (var kx = 0; kx < kw; kx++)
            {
                int wq = l.Weights[((o * c + ci) * kh + ky) * kw + kx];
                if (wq == 0) continue;
                for (var oy = 0; oy < oh; oy++)
                {
                    var iy = oy * sy + ky - pt;
                    // Padding holds x_zero_point, which contributes (zp − zp)·w = 0.
                    if ((uint)iy >= (uint)h) continue;
                    var row = (ci * h + iy) * w;
                    for (var ox = 0; ox < ow; ox++)
                    {
                        var ix = ox * sx + kx - pl;
                        if ((uint)ix >= (uint)w) continue;
                        acc[oy * ow + ox] += (x.Data[row + ix] - xzp) * wq;
                    }
                }
            }
            var mult = l.Multiplier(o);
            for (var i = 0; i < acc.Length; i++) output[o * oh * ow + i] = Requant.Requantize(acc[i], mult, l.OutputZeroPoint);
        }
        return new U8([1, m, oh, ow], output, l.OutputScale, l.OutputZeroPoint);
    }

    private static U8 MaxPool(MaxPoolLayer l, U8 x)
    {
        if (x.Shape.Length != 4 || x.Shape[0] != 1) throw new InvalidOperationException($"{l.Name}: input must be [1,C,H,W]");
        int c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], kh = l.KernelShape[0], kw = l.KernelShape[1], sy = l.Strides[0], sx = l.Strides[1];
        int oh = (h - kh) / sy + 1, ow = (w - kw) / sx + 1;
        var output = new byte[c * oh * ow];
        for (var ci = 0; ci < c; ci++)
        for (var oy = 0; oy < oh; oy++)
        for (var ox = 0; ox < ow; ox++)
        {
            byte best = 0;
            for (var ky = 0; ky < kh; ky++)
            for (var kx = 0; kx < kw; kx++)
                best = Math.Max(best, x.Data[(ci * h + oy * sy + ky) * w + ox * sx + kx]);
            output[(ci * oh + oy) * ow + ox] = best;
        }
        return x with { Shape = [1, c, oh, ow], Data = output };
    }
}
