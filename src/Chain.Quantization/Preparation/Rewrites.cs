using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Quantization.Preparation;

/// <summary>Graph rewrites of preparation: Identity/Dropout removal, BatchNormalization folding, normalizations.</summary>
internal static class Rewrites
{
    private static bool IsOp(OnnxNode n, string op) => n.OpType == op && n.Domain is "" or "ai.onnx";

    /// <summary>Removes Identity and inference-mode Dropout; returns (identities, dropouts) removed.</summary>
    public static (int Identity, int Dropout) RemovePassThrough(WorkGraph g)
    {
        int identities = 0, dropouts = 0;
        // By index over the live list: a bypass renames tensors in the nodes after it.
        for (var k = 0; k < g.Nodes.Count; k++)
        {
            var n = g.Nodes[k];
            if (IsOp(n, "Identity"))
            {
                if (g.Bypass(n, n.Outputs[0], n.Inputs[0])) { identities++; k--; }
            }
            else if (IsOp(n, "Dropout"))
            {
                if (n.Outputs.Count > 1 && n.Outputs[1].Length > 0 && (g.IsOutput(n.Outputs[1]) || g.Consumers().ContainsKey(n.Outputs[1])))
                    throw new QuantizationException(WorkGraph.Describe(n), "the Dropout mask output is used; only inference-mode Dropout can be removed");
                if (n.InputAt(2) is { } tm && (!g.Constants.TryGetValue(tm, out var mode) || Tx.Longs(mode).Any(v => v != 0)))
                    throw new QuantizationException(WorkGraph.Describe(n), "Dropout in training mode cannot be removed; export the model in eval mode");
                if (g.Bypass(n, n.Outputs[0], n.Inputs[0])) { dropouts++; k--; }
            }
        }
        return (identities, dropouts);
    }

    /// <summary>Folds every BatchNormalization into its producer, or turns it into a depthwise 1×1 Conv (Mul+Add for 2-D input).</summary>
    public static void FoldBatchNorms(WorkGraph g, ShapeInference shapes, List<string> notes)
    {
        var standalone = new List<string>();
        foreach (var bn in g.Nodes.Where(n => IsOp(n, "BatchNormalization")).ToList())
        {
            var where = WorkGraph.Describe(bn);
            if (bn.GetInt("training_mode", 0) != 0) throw new QuantizationException(where, "BatchNormalization in training mode; export the model in eval mode");
            if (g.Opset < 9 && bn.GetInt("spatial", 1) == 0) throw new QuantizationException(where, "BatchNormalization with spatial=0 is not supported");
            if (bn.Outputs.Skip(1).Any(o => o.Length > 0 && (g.IsOutput(o) || g.Consumers().ContainsKey(o))))
                throw new QuantizationException(where, "BatchNormalization's running mean/variance outputs are used (training mode)");
            var p = new double[4][];
            for (var i = 0; i < 4; i++)
            {
                var name = bn.InputAt(i + 1) ?? throw new QuantizationException(where, $"input {i + 1} is missing");
                p[i] = g.Constants.TryGetValue(name, out var t) ? Tx.Doubles(t)
                    : throw new QuantizationException(where, $"parameter '{name}' is not a constant");
            }
            var eps = (double)bn.GetFloat("epsilon", 1e-5f);
            var channels = p.Max(a => a.Length);
            var s = new double[channels];
            var t2 = new double[channels];
            for (var c = 0; c < channels; c++)
            {
                s[c] = Tx.At(p[0], c) / Math.Sqrt(Tx.At(p[3], c) + (double)(float)eps);
                t2[c] = Tx.At(p[1], c) - Tx.At(p[2], c) * s[c];
            }
            var x = bn.Inputs[0];
            var y = bn.Outputs[0];
            var consumers = g.Consumers();
            var producers = g.Producers();
            var soleUse = !g.IsOutput(x) && consumers.GetValueOrDefault(x) is { Count: 1 };
            var rank = shapes.Of(x)?.Shape.Length;
            if (soleUse && producers.TryGetValue(x, out var prod) && TryFold(g, shapes, consumers, producers, prod, bn, s, t2, rank))
            {
                notes.Add($"folded BatchNormalization {Display(bn)} into {prod.OpType} {Display(prod)}");
                continue;
            }
            Standalone(g, bn, s, t2, rank ?? throw new QuantizationException(where, $"the rank of input '{x}' is not known"));
            standalone.Add(Display(bn));
        }
        if (standalone.Count > 0)
            notes.Add($"BatchNormalization {string.Join(", ", standalone)} with no Conv/Gemm/MatMul before it became a depthwise 1x1 Conv (Mul+Add for 2-D input)");
    }

    private static string Display(OnnxNode n) => n.Name.Length > 0 ? n.Name : n.Outputs[0];

    private static bool TryFold(WorkGraph g, ShapeInference shapes, Dictionary<string, List<OnnxNode>> consumers, Dictionary<string, OnnxNode> producers,
        OnnxNode prod, OnnxNode bn, double[] s, double[] t, int? rank)
    {
        var m = s.Length;
        if (IsOp(prod, "Conv"))
        {
            if (!g.Constants.TryGetValue(prod.Inputs[1], out var w) || w.Shape[0] != m) return false;
            Tensor? b = null;
            if (prod.InputAt(2) is { } bName && !g.Constants.TryGetValue(bName, out b)) return false;
            var wv = Tx.Floats(w);
            var per = wv.Length / m;
            var nw = new float[wv.Length];
            for (var i = 0; i < wv.Length; i++) nw[i] = (float)(wv[i] * s[i / per]);
            var bv = b is null ? new double[m] : Tx.Doubles(b);
            var nb = Enumerable.Range(0, m).Select(c => (float)(Tx.At(bv, c) * s[c] + t[c])).ToArray();
            var wName = g.AddConstant(prod.Inputs[1] + "_bnfold", Tx.Float(Tx.Shape(w), nw));
            var bNew = g.AddConstant((prod.InputAt(2) ?? prod.Outputs[0] + "_bias") + "_bnfold", Tx.Float([m], nb));
            Swap(g, prod, prod with { Inputs = [prod.Inputs[0], wName, bNew], Outputs = [bn.Outputs[0]] });
            g.Nodes.Remove(bn);
            return true;
        }
        if (rank != 2) return false;
        if (IsOp(prod, "Gemm"))
        {
            if (!g.Constants.TryGetValue(prod.Inputs[1], out var w) || w.Rank != 2) return false;
            var transB = prod.GetInt("transB", 0) != 0;
            if ((transB ? w.Shape[0] : w.Shape[1]) != m) return false;
            double[] c = new double[m];
            if (prod.InputAt(2) is { } cName)
            {
                if (!g.Constants.TryGetValue(cName, out var ct) || ct.ElementCount is var n && n != 1 && n != m || ct.Rank == 2 && ct.Shape[0] != 1) return false;
                var cv = Tx.Doubles(ct);
                var beta = (double)prod.GetFloat("beta", 1f);
                c = Enumerable.Range(0, m).Select(i => Tx.At(cv, i) * beta).ToArray();
            }
            var wName = g.AddConstant(prod.Inputs[1] + "_bnfold", ScaleColumns(w, s, transB ? 0 : 1));
            var cNew = g.AddConstant((prod.InputAt(2) ?? prod.Outputs[0] + "_bias") + "_bnfold",
                Tx.Float([m], Enumerable.Range(0, m).Select(i => (float)(c[i] * s[i] + t[i])).ToArray()));
            Swap(g, prod, (prod with { Inputs = [prod.Inputs[0], wName, cNew], Outputs = [bn.Outputs[0]] }).WithAttribute(OnnxAttribute.Of("beta", 1f)));
            g.Nodes.Remove(bn);
            return true;
        }
        if (IsOp(prod, "MatMul"))
        {
            if (!g.Constants.TryGetValue(prod.Inputs[1], out var w) || w.Rank != 2 || w.Shape[1] != m) return false;
            var wName = g.AddConstant(prod.Inputs[1] + "_bnfold", ScaleColumns(w, s, 1));
            Swap(g, prod, prod with { Inputs = [prod.Inputs[0], wName] });
            var tName = g.AddConstant(bn.Outputs[0] + "_bias", Tx.Float([m], t.Select(v => (float)v).ToArray()));
            Swap(g, bn, new OnnxNode(g.Fresh((bn.Name.Length > 0 ? bn.Name : bn.Outputs[0]) + "_add"), "Add", "", [bn.Inputs[0], tName], [bn.Outputs[0]], []));
            return true;
        }
        if (IsOp(prod, "Add"))
        {
            // MatMul → Add(bias) → BatchNormalization.
            var biasIndex = prod.Inputs.Count == 2 && g.Constants.ContainsKey(prod.Inputs[1]) ? 1 : g.Constants.ContainsKey(prod.Inputs[0]) ? 0 : -1;
            if (biasIndex < 0) return false;
            var mmOut = prod.Inputs[1 - biasIndex];
            var bias = g.Constants[prod.Inputs[biasIndex]];
            if (bias.ElementCount is var n && n != 1 && n != m || bias.Rank > 2 || bias.Rank == 2 && bias.Shape[0] != 1) return false;
            if (!producers.TryGetValue(mmOut, out var mm) || !IsOp(mm, "MatMul") || g.IsOutput(mmOut) || consumers.GetValueOrDefault(mmOut) is not { Count: 1 }) return false;
            if (!g.Constants.TryGetValue(mm.Inputs[1], out var w) || w.Rank != 2 || w.Shape[1] != m) return false;
            var bv = Tx.Doubles(bias);
            var wName = g.AddConstant(mm.Inputs[1] + "_bnfold", ScaleColumns(w, s, 1));
            var bName = g.AddConstant(prod.Inputs[biasIndex] + "_bnfold", Tx.Float([m], Enumerable.Range(0, m).Select(i => (float)(Tx.At(bv, i) * s[i] + t[i])).ToArray()));
            Swap(g, mm, mm with { Inputs = [mm.Inputs[0], wName] });
            Swap(g, prod, prod with { Inputs = [mmOut, bName], Outputs = [bn.Outputs[0]] });
            g.Nodes.Remove(bn);
            return true;
        }
        return false;
    }

    /// <summary>A 2-D weight with index <c>c</c> of <paramref name="axis"/> multiplied by s[c].</summary>
    private static Tensor ScaleColumns(Tensor w, double[] s, int axis)
    {
        var v = Tx.Floats(w);
        var cols = w.Shape[1];
        var r = new float[v.Length];
        for (var i = 0; i < v.Length; i++) r[i] = (float)(v[i] * s[axis == 1 ? i % cols : i / cols]);
        return Tx.Float(Tx.Shape(w), r);
    }

    private static void Swap(WorkGraph g, OnnxNode old, OnnxNode replacement) => g.Nodes[g.Nodes.IndexOf(old)] = replacement;

    private static void Standalone(WorkGraph g, OnnxNode bn, double[] s, double[] t, int rank)
    {
        var c = s.Length;
        var stem = bn.Name.Length > 0 ? bn.Name : bn.Outputs[0];
        var sf = s.Select(v => (float)v).ToArray();
        var tf = t.Select(v => (float)v).ToArray();
        if (rank >= 3)
        {
            var wShape = new int[rank];
            wShape[0] = c;
            for (var i = 1; i < rank; i++) wShape[i] = 1;
            var w = g.AddConstant(stem + "_weight", Tx.Float(wShape, sf));
            var b = g.AddConstant(stem + "_bias", Tx.Float([c], tf));
            Swap(g, bn, new OnnxNode(g.Fresh(stem + "_conv"), "Conv", "", [bn.Inputs[0], w, b], [bn.Outputs[0]],
                [OnnxAttribute.Of("group", (long)c), OnnxAttribute.Of("kernel_shape", Enumerable.Repeat(1L, rank - 2).ToArray())]));
            return;
        }
        if (rank != 2) throw new QuantizationException(WorkGraph.Describe(bn), $"BatchNormalization of a rank-{rank} input is not supported");
        var sName = g.AddConstant(stem + "_scale", Tx.Float([c], sf));
        var tName = g.AddConstant(stem + "_shift", Tx.Float([c], tf));
        var mid = g.Fresh(stem + "_scaled");
        var at = g.Nodes.IndexOf(bn);
        g.Nodes[at] = new OnnxNode(g.Fresh(stem + "_mul"), "Mul", "", [bn.Inputs[0], sName], [mid], []);
        g.Nodes.Insert(at + 1, new OnnxNode(g.Fresh(stem + "_add"), "Add", "", [mid, tName], [bn.Outputs[0]], []));
    }

    /// <summary>Sub/Div by a float constant become Add/Mul; Gemm with transA=1 on a constant A is transposed.</summary>
    public static (int Sub, int Div) Normalize(WorkGraph g)
    {
        int subs = 0, divs = 0;
        for (var i = 0; i < g.Nodes.Count; i++)
        {
            var n = g.Nodes[i];
            if (n.Domain is not ("" or "ai.onnx")) continue;
            if (n.OpType is "Sub" or "Div" && n.Inputs.Count == 2 && !g.IsConstant(n.Inputs[0]) &&
                g.Constants.TryGetValue(n.Inputs[1], out var k) && k.ElementType == TensorElementType.Float)
            {
                var v = Tx.Floats(k);
                var sub = n.OpType == "Sub";
                var nv = v.Select(x => sub ? -x : 1f / x).ToArray();
                var name = g.AddConstant(n.Inputs[1] + (sub ? "_neg" : "_recip"), Tx.Float(Tx.Shape(k), nv));
                g.Nodes[i] = n with { OpType = sub ? "Add" : "Mul", Inputs = [n.Inputs[0], name] };
                if (sub) subs++; else divs++;
            }
            else if (n.OpType == "Gemm" && n.GetInt("transA", 0) != 0)
            {
                if (!g.Constants.TryGetValue(n.Inputs[0], out var a) || a.Rank != 2)
                    throw new QuantizationException(WorkGraph.Describe(n), "Gemm with transA=1 on a computed input is not supported; export it with transA=0 (or a Transpose before it)");
                var av = Tx.Floats(a);
                int r = a.Shape[0], c = a.Shape[1];
                var tv = new float[av.Length];
                for (var y = 0; y < r; y++) for (var x = 0; x < c; x++) tv[x * r + y] = av[y * c + x];
                var name = g.AddConstant(n.Inputs[0] + "_t", Tx.Float([c, r], tv));
                g.Nodes[i] = (n with { Inputs = [name, .. n.Inputs.Skip(1)] }).WithoutAttribute("transA");
            }
        }
        return (subs, divs);
    }
}
