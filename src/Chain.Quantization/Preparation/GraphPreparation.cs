using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;

using Chain.Quantization.Preparation;

namespace Chain.Quantization;

/// <summary>
/// Offline graph preparation of a float ONNX model for quantization (docs/quantization.md, "Preparation"): reads it in
/// tooling mode, fixes dynamic input dimensions, imports QDQ parameters, removes Identity/Dropout, folds constants
/// (shape arithmetic, If with a constant condition, constant Loops), folds BatchNormalization, normalizes Sub/Div by
/// constants, and declares a static float32 shape for every intermediate. Never used by admission.
/// </summary>
public static class GraphPreparation
{
    private const int MaxFoldRounds = 64;

    public static PreparedGraph Prepare(ReadOnlySpan<byte> floatModel, PreparationOptions options)
    {
        OnnxModel model;
        try
        {
            model = OnnxModel.ParseForTooling(floatModel);
        }
        catch (OnnxFormatException e)
        {
            throw new QuantizationException("model", e.Message);
        }
        return Prepare(model, options);
    }

    internal static PreparedGraph Prepare(OnnxModel model, PreparationOptions options)
    {
        var opset = model.DefaultOpset ?? throw new QuantizationException("model", "imports no ai.onnx opset");
        var notes = new List<string>();
        var g = new WorkGraph(model.Graph, opset);
        var pinned = new Dictionary<string, QuantParams>(StringComparer.Ordinal);

        FixInputs(g, options, notes);

        g.Renamed = (from, to) =>
        {
            if (pinned.Remove(from, out var moved)) pinned[to] = moved;
        };
        var qdq = QdqImport.Run(g, pinned);
        if (qdq > 0) notes.Add($"QDQ: removed {qdq} QuantizeLinear/DequantizeLinear nodes");

        var (identities, dropouts) = Rewrites.RemovePassThrough(g);
        var folder = new ConstantFolder(g, Math.Max(model.IrVersion, 4), model.OpsetImports);
        var shapes = new ShapeInference(g);
        for (var round = 0; ; round++)
        {
            shapes.Run(strict: false);
            if (!folder.Round(shapes)) break;
            if (round == MaxFoldRounds) throw new QuantizationException("model", $"constant folding did not settle after {MaxFoldRounds} rounds");
            var (i2, d2) = Rewrites.RemovePassThrough(g);
            identities += i2;
            dropouts += d2;
        }
        if (identities > 0) notes.Add($"removed {identities} Identity node{Plural(identities)}");
        if (dropouts > 0) notes.Add($"removed {dropouts} Dropout node{Plural(dropouts)}");
        if (folder.InlinedIfs > 0) notes.Add($"inlined the taken branch of {folder.InlinedIfs} If node{Plural(folder.InlinedIfs)} with a constant condition");
        var folded = folder.Folded.Values.Sum();
        if (folded > 0) notes.Add($"folded {folded} constant node{Plural(folded)} ({string.Join("/", folder.Folded.Keys)})");

        var dead = g.RemoveDead();
        shapes.Run(strict: false);
        Rewrites.FoldBatchNorms(g, shapes, notes);
        var (subs, divs) = Rewrites.Normalize(g);
        if (subs > 0) notes.Add($"{subs} Sub by a constant became Add of the negated constant");
        if (divs > 0) notes.Add($"{divs} Div by a constant became Mul by its reciprocal");
        dead += g.RemoveDead();
        if (dead > 0) notes.Add($"removed {dead} node{Plural(dead)} whose outputs nothing reads");
        g.SortTopologically();
        shapes.Run(strict: true);

        var kept = pinned.Where(p => g.Constants.ContainsKey(p.Key) || shapes.Known.ContainsKey(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        if (kept.Count > 0) notes.Add($"QDQ: {kept.Count} tensor{Plural(kept.Count)} pinned");
        if (kept.Count < pinned.Count) notes.Add($"QDQ: {pinned.Count - kept.Count} pinned tensor{Plural(pinned.Count - kept.Count)} folded away ({string.Join(", ", pinned.Keys.Except(kept.Keys))})");

        var prepared = model.WithGraph(Build(g, shapes));
        // IR < 4 required every initializer to be a graph input; the prepared graph adds initializers that are not.
        if (model.IrVersion < 4) prepared = Reversion(prepared, 4);
        return new PreparedGraph(prepared, kept, notes);
    }

    private static OnnxModel Reversion(OnnxModel m, long ir) => new(ir, m.OpsetImports, m.Graph, m.ProducerName, m.ProducerVersion, m.MetadataProps);

    private static string Plural(int n) => n == 1 ? "" : "s";

    private static OnnxValueInfo Info(string name, TypeShape ts) => new(name, (int)ts.Type, ts.Shape.Select(OnnxDim.Fixed).ToArray());

    private static OnnxGraph Build(WorkGraph g, ShapeInference shapes)
    {
        var outputs = g.Outputs.Select(o => shapes.Of(o.Name) is { } ts ? Info(o.Name, ts) : o).ToArray();
        var outputNames = outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var infos = new List<OnnxValueInfo>();
        foreach (var n in g.Nodes)
            foreach (var o in n.Outputs)
                if (o.Length > 0 && !outputNames.Contains(o) && shapes.Known.TryGetValue(o, out var ts))
                    infos.Add(Info(o, ts));
        var inits = g.Constants.Select(kv => new OnnxTensor(kv.Key, kv.Value)).ToArray();
        return new OnnxGraph(g.Name, g.Nodes.ToArray(), inits, g.Inputs.ToArray(), outputs, infos);
    }

    private static void FixInputs(WorkGraph g, PreparationOptions options, List<string> notes)
    {
        var defaults = g.Inputs.Where(v => g.IsConstant(v.Name)).ToList();
        foreach (var v in defaults) g.Inputs.Remove(v);
        if (defaults.Count > 0) notes.Add($"{defaults.Count} graph input{Plural(defaults.Count)} that are also initializers (IR < 4 defaults) became constants");
        foreach (var name in options.InputShapes.Keys)
            if (!g.IsInput(name))
                throw new QuantizationException($"--shape {name}", $"the model has no input '{name}' (inputs: {string.Join(", ", g.Inputs.Select(i => i.Name))})");
        for (var k = 0; k < g.Inputs.Count; k++)
        {
            var v = g.Inputs[k];
            if (options.InputShapes.TryGetValue(v.Name, out var given))
            {
                if (given.Any(d => d <= 0)) throw new QuantizationException($"--shape {v.Name}", "every dimension must be positive");
                if (v.Shape is { } declared && declared.Count != given.Length)
                    throw new QuantizationException($"--shape {v.Name}", $"the input has rank {declared.Count} ({Dims(declared)}), --shape gives {given.Length} dimensions");
                for (var i = 0; v.Shape is { } d && i < d.Count; i++)
                    if (d[i].Value is > 0 and var fixedDim && fixedDim != given[i])
                        throw new QuantizationException($"--shape {v.Name}", $"dimension {i} is fixed to {fixedDim} by the model, --shape gives {given[i]}");
                g.Inputs[k] = v with { Shape = given.Select(OnnxDim.Fixed).ToArray() };
                continue;
            }
            if (v.Shape is not { } shape)
                throw new QuantizationException($"input '{v.Name}'", $"has no declared shape; give one with --shape {v.Name}=d0,d1,...");
            var dims = new OnnxDim[shape.Count];
            for (var i = 0; i < shape.Count; i++)
            {
                if (shape[i].Value is > 0) { dims[i] = shape[i]; continue; }
                if (i == 0)
                {
                    dims[i] = OnnxDim.Fixed(1);
                    notes.Add($"batch dimension {shape[i].Param ?? "?"} of input {v.Name} fixed to 1");
                    continue;
                }
                var suggestion = string.Join(",", shape.Select((d, j) => j == 0 && d.Value is not > 0 ? "1" : d.Value is > 0 ? d.Value.ToString()! : d.Param ?? "N"));
                throw new QuantizationException($"input '{v.Name}'",
                    $"dimension {i} ({shape[i].Param ?? "unknown"}) is dynamic; fix it with --shape {v.Name}={suggestion}");
            }
            g.Inputs[k] = v with { Shape = dims };
        }
    }

    private static string Dims(IReadOnlyList<OnnxDim> dims) => "[" + string.Join(",", dims) + "]";
}
