using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Quantization.Preparation;

/// <summary>
/// Imports a model already quantized in QDQ form: QuantizeLinear→DequantizeLinear pairs around float ops are removed
/// and their parameters pinned on the float tensor; DequantizeLinear of integer initializers (and Q→DQ of float
/// initializers) become float32 initializers holding exactly the dequantized values, pinned per channel.
/// </summary>
internal static class QdqImport
{
    private sealed record Params(TensorElementType Type, float[] Scales, int[] ZeroPoints, int? Axis)
    {
        public bool SameAs(Params o) => Type == o.Type && Axis == o.Axis && Scales.SequenceEqual(o.Scales) && ZeroPoints.SequenceEqual(o.ZeroPoints);
        public QuantParams ToQuant() => new(Type, Scales, ZeroPoints, Axis);
    }

    private static bool IsOp(OnnxNode n, string op) => n.OpType == op && n.Domain is "" or "ai.onnx";

    /// <summary>Runs the import; returns the number of Q/DQ nodes removed.</summary>
    public static int Run(WorkGraph g, Dictionary<string, QuantParams> pinned)
    {
        var removed = 0;
        // One node at a time from the live list: each import renames tensors in the nodes that remain.
        while (g.Nodes.FirstOrDefault(n => IsOp(n, "QuantizeLinear")) is { } q)
        {
            var consumers = g.Consumers();
            var qout = q.Outputs[0];
            var dqs = consumers.GetValueOrDefault(qout) ?? [];
            var p = ReadParams(g, q, q.InputAt(0) is { } x0 && g.Constants.TryGetValue(x0, out var xt) ? xt.Rank : null);
            if (g.IsOutput(qout) || dqs.Count == 0 || dqs.Any(d => !IsOp(d, "DequantizeLinear") || d.Inputs[0] != qout || !ReadParams(g, d, null).SameAs(p)))
                throw new QuantizationException(WorkGraph.Describe(q),
                    "QuantizeLinear whose output is not read only by DequantizeLinear nodes with the same scale and zero point cannot be imported");
            var x = q.Inputs[0];
            g.Nodes.Remove(q);
            removed += 1 + dqs.Count;
            if (g.Constants.TryGetValue(x, out var weight))
            {
                // Fake-quantized weight: the float values the model computes are DQ(Q(w)).
                var target = dqs[0].Outputs[0];
                var axis = p.Axis ?? WeightAxis(g, consumers, target, weight.Rank);
                foreach (var d in dqs) g.Nodes.Remove(d);
                g.Constants[target] = Dequantize(Quantize(weight, p), p, weight);
                foreach (var d in dqs.Skip(1)) g.Rename(d.Outputs[0], target);
                pinned[target] = PerChannel(p, axis, weight);
                continue;
            }
            var survivor = x;
            foreach (var d in dqs)
            {
                var dout = d.Outputs[0];
                g.Nodes.Remove(d);
                if (!g.IsOutput(dout)) g.Rename(dout, survivor);
                else if (!g.IsOutput(survivor) && !g.IsInput(survivor))
                {
                    g.Rename(survivor, dout);
                    survivor = dout;
                }
                else g.Nodes.Add(new OnnxNode(g.Fresh(dout + "_identity"), "Identity", "", [survivor], [dout], []));
            }
            pinned[survivor] = p.ToQuant();
        }
        while (g.Nodes.FirstOrDefault(n => IsOp(n, "DequantizeLinear")) is { } d)
        {
            var input = d.Inputs[0];
            if (!g.Constants.TryGetValue(input, out var q))
                throw new QuantizationException(WorkGraph.Describe(d),
                    $"DequantizeLinear of the computed tensor '{input}' (not an initializer, not after a QuantizeLinear) cannot be imported");
            var p = ReadParams(g, d, q.Rank);
            var output = d.Outputs[0];
            var consumers = g.Consumers();
            g.Nodes.Remove(d);
            removed++;
            g.Constants[output] = Dequantize(q, p);
            // int32 biases are dequantized but not pinned: the quantizer derives a bias's scale from its inputs'.
            if (p.Type is not TensorElementType.Int32)
                pinned[output] = PerChannel(p, p.Axis ?? WeightAxis(g, consumers, output, q.Rank), q);
        }
        return removed;
    }

    /// <summary>The output-channel axis of a weight, from the op that reads it (Conv: 0; Gemm: by transB; MatMul: last).</summary>
    private static int? WeightAxis(WorkGraph g, Dictionary<string, List<OnnxNode>> consumers, string name, int rank)
    {
        foreach (var c in consumers.GetValueOrDefault(name) ?? [])
        {
            if (c.Inputs.Count < 2 || c.Inputs[1] != name) continue;
            switch (c.OpType)
            {
                case "Conv": return 0;
                case "Gemm": return c.GetInt("transB", 0) != 0 ? 0 : 1;
                case "MatMul" when rank >= 2: return rank - 1;
            }
        }
        return null;
    }

    private static QuantParams PerChannel(Params p, int? axis, Tensor weight)
    {
        if (p.Axis is not null || axis is not { } a) return p.ToQuant();
        var channels = weight.Shape[a];
        return new QuantParams(p.Type, Enumerable.Repeat(p.Scales[0], channels).ToArray(), Enumerable.Repeat(p.ZeroPoints[0], channels).ToArray(), a);
    }

    private static Params ReadParams(WorkGraph g, OnnxNode n, int? rank)
    {
        var where = WorkGraph.Describe(n);
        if (n.GetInt("block_size", 0) != 0) throw new QuantizationException(where, "blocked quantization (block_size) is not supported");
        var scaleName = n.InputAt(1) ?? throw new QuantizationException(where, "has no scale");
        if (!g.Constants.TryGetValue(scaleName, out var scale) || scale.ElementType != TensorElementType.Float)
            throw new QuantizationException(where, $"scale '{scaleName}' must be a float32 initializer");
        Tensor? zp = n.InputAt(2) is { } zpName
            ? g.Constants.TryGetValue(zpName, out var z) ? z : throw new QuantizationException(where, $"zero point '{zpName}' must be an initializer")
            : null;
        var type = zp?.ElementType
            ?? (n.OpType == "QuantizeLinear"
                ? (TensorElementType)n.GetInt("output_dtype", (long)TensorElementType.UInt8)
                : g.Constants.TryGetValue(n.Inputs[0], out var qi) ? qi.ElementType : TensorElementType.UInt8);
        if (type is not (TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Int16 or TensorElementType.UInt16 or TensorElementType.Int32))
            throw new QuantizationException(where, $"quantized type {TensorElementTypes.Name(type)} is not supported");
        var scales = Tx.Floats(scale);
        var zps = zp is null ? new int[scales.Length] : Tx.Longs(zp).Select(v => (int)v).ToArray();
        if (zps.Length != scales.Length) throw new QuantizationException(where, "scale and zero point differ in size");
        int? axis = null;
        if (scale.Rank == 1 && scales.Length > 1)
        {
            var a = n.GetInt("axis", 1);
            axis = (int)(a < 0 && rank is { } r ? a + r : a);
        }
        return new Params(type, scales, zps, axis);
    }

    private static (long Min, long Max) Range(TensorElementType t) => t switch
    {
        TensorElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        TensorElementType.UInt8 => (0, byte.MaxValue),
        TensorElementType.Int16 => (short.MinValue, short.MaxValue),
        TensorElementType.UInt16 => (0, ushort.MaxValue),
        _ => (int.MinValue, int.MaxValue),
    };

    private static int Channel(Tensor t, int? axis, long index)
    {
        if (axis is not { } a) return 0;
        long inner = 1;
        for (var i = a + 1; i < t.Rank; i++) inner *= t.Shape[i];
        return (int)(index / inner % t.Shape[a]);
    }

    /// <summary>QuantizeLinear as ONNX Runtime computes it: x / scale in float32, round half to even, add the zero point, saturate.</summary>
    private static long[] Quantize(Tensor x, Params p)
    {
        var values = Tx.Floats(x);
        var (min, max) = Range(p.Type);
        var q = new long[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var c = Channel(x, p.Axis, i);
            var v = (long)MathF.Round(values[i] / p.Scales[c], MidpointRounding.ToEven) + p.ZeroPoints[c];
            q[i] = Math.Clamp(v, min, max);
        }
        return q;
    }

    private static Tensor Dequantize(long[] q, Params p, Tensor shapeOf)
    {
        var y = new float[q.Length];
        for (var i = 0; i < q.Length; i++)
        {
            var c = Channel(shapeOf, p.Axis, i);
            y[i] = (float)(q[i] - p.ZeroPoints[c]) * p.Scales[c];
        }
        return Tx.Float(Tx.Shape(shapeOf), y);
    }

    private static Tensor Dequantize(Tensor q, Params p) => Dequantize(Tx.Longs(q), p, q);
}
