using Chain.Inference;
using Chain.Inference.Kernels;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Quantization.Preparation;

/// <summary>
/// Folds what is constant: Shape/Size of statically shaped tensors, If with a constant condition (the taken branch is
/// inlined), and every node all of whose inputs (and, for Loop/If, the outer names their bodies read) are constants,
/// which ONNX Runtime evaluates — optimisations off, one thread — so a folded value is exactly what the model computed.
/// </summary>
internal sealed class ConstantFolder(WorkGraph g, long irVersion, IReadOnlyList<OpsetImport> opsets)
{
    /// <summary>Folded nodes by op type, for the note.</summary>
    public SortedDictionary<string, int> Folded { get; } = new(StringComparer.Ordinal);

    public int InlinedIfs { get; private set; }

    private static readonly HashSet<string> NeverFold =
        ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout",
         "QuantizeLinear", "DequantizeLinear"];

    /// <summary>One round; true when anything changed.</summary>
    public bool Round(ShapeInference shapes)
    {
        var changed = false;
        // By index over the live list: inlining an If renames tensors in the nodes after it.
        for (var k = 0; k < g.Nodes.Count; k++)
        {
            var n = g.Nodes[k];
            if (n.Domain is not ("" or "ai.onnx")) continue;
            if (n.OpType is "Shape" or "Size" && n.InputAt(0) is { } x && shapes.Of(x) is { } ts)
            {
                Tensor value;
                if (n.OpType == "Size") value = Tx.Int64([], [ts.Shape.Aggregate(1L, (p, d) => p * d)]);
                else
                {
                    var (start, end) = ShapeInference.ShapeRange(n, ts.Shape.Length);
                    var dims = ts.Shape.Skip((int)start).Take((int)Math.Max(0, end - start)).ToArray();
                    value = Tx.Int64([dims.Length], dims);
                }
                Replace(n, [value]);
                changed = true;
                k--;
            }
            else if (n.OpType == "If" && n.InputAt(0) is { } c && g.Constants.TryGetValue(c, out var cond))
            {
                InlineIf(n, Tx.Longs(cond).Any(v => v != 0));
                changed = true;
                k--;
            }
        }
        return EvaluateConstantNodes(shapes) | changed;
    }

    private void Replace(OnnxNode n, Tensor[] values)
    {
        g.Nodes.Remove(n);
        for (var i = 0; i < n.Outputs.Count && i < values.Length; i++)
            if (n.Outputs[i].Length > 0) g.Constants[n.Outputs[i]] = values[i];
        Folded[n.OpType] = Folded.GetValueOrDefault(n.OpType) + 1;
    }

    private bool Foldable(OnnxNode n, HashSet<string> constant) =>
        n.Domain is "" or "ai.onnx" && !NeverFold.Contains(n.OpType) && n.Inputs.Any(i => i.Length > 0) &&
        WorkGraph.Reads(n).All(constant.Contains) && n.Outputs.Any(o => o.Length > 0);

    private bool EvaluateConstantNodes(ShapeInference shapes)
    {
        var constant = new HashSet<string>(g.Constants.Keys, StringComparer.Ordinal);
        var batch = new List<OnnxNode>();
        foreach (var n in g.Nodes)
        {
            if (!Foldable(n, constant)) continue;
            batch.Add(n);
            foreach (var o in n.Outputs) if (o.Length > 0) constant.Add(o);
        }
        if (batch.Count == 0) return false;
        var results = TryEvaluate(batch, shapes);
        if (results is null)
        {
            // Something in the batch does not run in ONNX Runtime: fold node by node, keeping what does run.
            var any = false;
            foreach (var n in batch)
            {
                if (!WorkGraph.Reads(n).All(g.Constants.ContainsKey)) continue;
                if (TryEvaluate([n], shapes) is { } one)
                {
                    Replace(n, n.Outputs.Select(o => o.Length > 0 ? one[o] : null!).ToArray());
                    any = true;
                }
            }
            return any;
        }
        foreach (var n in batch) Replace(n, n.Outputs.Select(o => o.Length > 0 ? results[o] : null!).ToArray());
        return true;
    }

    private Dictionary<string, Tensor>? TryEvaluate(List<OnnxNode> nodes, ShapeInference shapes)
    {
        var produced = nodes.SelectMany(n => n.Outputs).Where(o => o.Length > 0).ToList();
        var producedSet = produced.ToHashSet(StringComparer.Ordinal);
        var needed = nodes.SelectMany(WorkGraph.Reads).Where(r => !producedSet.Contains(r)).Distinct().ToList();
        var outputs = nodes.SelectMany(n => n.Outputs.Select((o, i) => (n, o, i))).Where(x => x.o.Length > 0)
            .Select(x => new OnnxValueInfo(x.o, (int)OutputType(x.n, x.i, shapes), null)).ToArray();
        var graph = new OnnxGraph("fold", nodes, needed.Select(r => new OnnxTensor(r, g.Constants[r])).ToArray(), [], outputs, []);
        var model = new OnnxModel(irVersion, opsets, graph, "chain-prepare");
        try
        {
            using var ort = new OrtExecutor(model.ToBytes(), new OrtSettings(OrtOptimization.Disabled, 1));
            var result = ort.Run([]);
            return result.ToDictionary(r => r.Name, r => r.Value, StringComparer.Ordinal);
        }
        catch (Exception e) when (e is InvalidOperationException or InferenceException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The element type of output <paramref name="index"/>, which ONNX Runtime needs on a graph output: inferred, else
    /// from a Loop's carried input or a body's declared output, else the first input's type.
    /// </summary>
    private TensorElementType OutputType(OnnxNode n, int index, ShapeInference shapes)
    {
        if (shapes.Of(n.Outputs[index]) is { } ts) return ts.Type;
        OnnxGraph? body = n.OpType switch { "Loop" => n.Find("body")?.G, "If" => n.Find("then_branch")?.G, _ => null };
        if (n.OpType == "Loop" && index + 2 < n.Inputs.Count && shapes.Of(n.Inputs[index + 2]) is { } carried) return carried.Type;
        var bodyIndex = n.OpType == "Loop" ? index + 1 : index;
        if (body is not null && bodyIndex < body.Outputs.Count && body.Outputs[bodyIndex].ElemType != 0) return body.Outputs[bodyIndex].ElementType;
        return n.InputAt(0) is { } first && shapes.Of(first) is { } f ? f.Type : TensorElementType.Float;
    }

    private void InlineIf(OnnxNode n, bool cond)
    {
        var branch = n.Find(cond ? "then_branch" : "else_branch")?.AsGraph()
            ?? throw new QuantizationException(WorkGraph.Describe(n), $"has no {(cond ? "then" : "else")}_branch");
        if (branch.Outputs.Count != n.Outputs.Count)
            throw new QuantizationException(WorkGraph.Describe(n), $"branch has {branch.Outputs.Count} outputs, the node {n.Outputs.Count}");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in branch.Initializers) map[t.Name] = g.AddConstant(t.Name, t.Value);
        foreach (var bn in branch.Nodes) foreach (var o in bn.Outputs) if (o.Length > 0) map[o] = g.Fresh(o);
        var inlined = branch.Nodes.Select(bn => Rewrite(bn, map)).ToList();
        var at = g.Nodes.IndexOf(n);
        g.Nodes.RemoveAt(at);
        g.Nodes.InsertRange(at, inlined);
        for (var i = 0; i < n.Outputs.Count; i++)
        {
            var target = n.Outputs[i];
            if (target.Length == 0) continue;
            var source = map.GetValueOrDefault(branch.Outputs[i].Name, branch.Outputs[i].Name);
            if (!g.IsOutput(target)) g.Rename(target, source);
            else if (map.ContainsValue(source)) g.Rename(source, target);
            else g.Nodes.Insert(at, new OnnxNode(g.Fresh(target + "_identity"), "Identity", "", [source], [target], []));
        }
        InlinedIfs++;
    }

    private OnnxNode Rewrite(OnnxNode bn, Dictionary<string, string> map)
    {
        var renamed = bn with
        {
            Name = g.Fresh(bn.Name.Length > 0 ? bn.Name : bn.OpType),
            Inputs = bn.Inputs.Select(i => map.GetValueOrDefault(i, i)).ToArray(),
            Outputs = bn.Outputs.Select(o => map.GetValueOrDefault(o, o)).ToArray(),
        };
        if (!bn.Attributes.Any(a => a.G is not null)) return renamed;
        // Nested subgraphs read the branch's names from their outer scope: rename those reads too.
        var tmp = new WorkGraph(new OnnxGraph("", [renamed], [], [], [], []), g.Opset);
        foreach (var (from, to) in map) tmp.Rename(from, to);
        return tmp.Nodes[0] with { Outputs = renamed.Outputs };
    }
}
