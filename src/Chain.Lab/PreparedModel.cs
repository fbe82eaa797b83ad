using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Lab;

/// <summary>A node output in execution order: what a trace of the model records.</summary>
public sealed record TracePoint(int NodeIndex, string Node, string OpType, string Output);

/// <summary>
/// A lab model loaded once: admission verdict (integer models must be admitted), the canonical executor,
/// its input specs, MACs per inference, execution order and the static type of every value.
/// </summary>
public sealed class PreparedModel : IDisposable
{
    private PreparedModel(LabModel source, CanonicalExecutor? canonical, IReadOnlyList<TensorSpec> inputs, long macs,
        IReadOnlyList<TracePoint> order, IReadOnlyDictionary<string, TensorInfo> types, OnnxModel model)
    {
        Source = source;
        Canonical = canonical;
        Inputs = inputs;
        Macs = macs;
        Order = order;
        Types = types;
        Model = model;
        _elementTypes = new Lazy<IReadOnlyDictionary<string, TensorElementType>>(() => ValueTypes.Infer(model, order.Select(p => p.NodeIndex).ToArray()));
    }

    private readonly Lazy<IReadOnlyDictionary<string, TensorElementType>> _elementTypes;

    public LabModel Source { get; }
    public string Name => Source.Name;
    public byte[] Bytes => Source.Bytes;
    public bool IsFloat => Source.IsFloat;

    /// <summary>The consensus executor; null for float contrast models, which it cannot run.</summary>
    public CanonicalExecutor? Canonical { get; }
    public IReadOnlyList<TensorSpec> Inputs { get; }
    public long Macs { get; }
    public IReadOnlyList<TracePoint> Order { get; }
    public IReadOnlyDictionary<string, TensorInfo> Types { get; }
    public OnnxModel Model { get; }

    /// <summary>Loads <paramref name="source"/>; an integer model that admission refuses is an error (it could never run on chain).</summary>
    public static PreparedModel Load(LabModel source)
    {
        if (!source.IsFloat)
        {
            var report = ModelAdmission.Check(source.Bytes);
            if (!report.Admitted || report.Model is null) throw new ModelRefusedException(report);
            var canonical = CanonicalExecutor.Load(source.Bytes);
            var order = report.Nodes
                .Select(n => report.Model.Graph.Nodes[n.Index])
                .Select((n, i) => new TracePoint(report.Nodes[i].Index, n.DisplayName, n.OpType, n.Outputs[0]))
                .ToArray();
            return new PreparedModel(source, canonical, canonical.Inputs, report.TotalMacs, order, report.Values, report.Model);
        }
        // Not admitted: parsed only (the canonical executor never runs it), so any ONNX graph ORT accepts will do.
        var model = OnnxModel.ParseForTooling(source.Bytes);
        var check = GraphValidation.Check(model.Graph);
        if (!check.Ok) throw new InvalidOperationException($"{source.Name}: invalid graph: {string.Join("; ", check.Issues.Take(3).Select(i => i.Message))}");
        var floatOrder = check.Order.Select(i => (Index: i, Node: model.Graph.Nodes[i]))
            .Where(p => p.Node.Outputs.Count > 0 && p.Node.Outputs[0].Length > 0)
            .Select(p => new TracePoint(p.Index, p.Node.DisplayName, p.Node.OpType, p.Node.Outputs[0])).ToArray();
        // Value types come from the declarations in the file; undeclared intermediates are left to ORT to infer.
        var types = model.Graph.Inputs.Concat(model.Graph.Outputs).Concat(model.Graph.ValueInfo)
            .Where(v => v.StaticShape is not null)
            .GroupBy(v => v.Name)
            .ToDictionary(g => g.Key, g => new TensorInfo(g.First().ElementType, g.First().StaticShape!.Select(d => (int)d).ToArray()));
        return new PreparedModel(source, null, GraphInputs(model, source.InputShapes), source.FloatMacs, floatOrder, types, model);
    }

    /// <summary>
    /// The graph inputs a caller feeds (initializers excluded) with concrete shapes: the override when given,
    /// else the declared shape with every symbolic dimension (a dynamic batch, usually) set to 1.
    /// </summary>
    internal static IReadOnlyList<TensorSpec> GraphInputs(OnnxModel model, IReadOnlyDictionary<string, long[]>? overrides)
    {
        var initializers = model.Graph.Initializers.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = model.Graph.Inputs.Where(i => !initializers.Contains(i.Name)).ToArray();
        foreach (var name in (overrides ?? new Dictionary<string, long[]>()).Keys)
            if (inputs.All(i => i.Name != name))
                throw new ArgumentException($"--shape {name}: the model has no input of that name (inputs: {string.Join(", ", inputs.Select(i => i.Name))})");
        return inputs.Select(i =>
        {
            if (overrides is not null && overrides.TryGetValue(i.Name, out var given))
            {
                if (i.Shape is { } declared && (declared.Count != given.Length || declared.Where((d, k) => d.Value is { } v && v != given[k]).Any()))
                    throw new ArgumentException($"--shape {i.Name}={string.Join(",", given)} does not fit its declared shape [{string.Join(",", declared)}]");
                return new TensorSpec(i.Name, i.ElementType, given.Select(d => checked((int)d)).ToArray());
            }
            var shape = i.Shape ?? throw new ArgumentException($"input '{i.Name}' declares no shape: give one with --shape {i.Name}=d1,d2,...");
            return new TensorSpec(i.Name, i.ElementType, shape.Select(d => checked((int)(d.Value ?? 1))).ToArray());
        }).ToArray();
    }

    /// <summary>
    /// A copy of the model whose graph outputs also include every node's output, so ONNX Runtime can be
    /// traced node by node like the canonical executor. Graph outputs need declared types: they come from
    /// admission's inferred <see cref="Types"/> (for a model not admitted: its declarations, else none, and ORT infers).
    /// </summary>
    public byte[] WithAllOutputs()
    {
        var graph = Model.Graph;
        var outputs = graph.Outputs.ToList();
        foreach (var point in Order)
        {
            if (outputs.Any(o => o.Name == point.Output)) continue;
            // An undeclared value (a researcher's model seldom lists its intermediates) goes out with its element type
            // and no shape, which ORT infers; one whose type is unknown stays hidden (and is skipped by the localiser).
            if (Types.TryGetValue(point.Output, out var info))
                outputs.Add(new OnnxValueInfo(point.Output, (int)info.ElementType, info.Shape.Select(d => OnnxDim.Fixed(d)).ToArray()));
            else if (_elementTypes.Value.TryGetValue(point.Output, out var type))
                outputs.Add(new OnnxValueInfo(point.Output, (int)type, null));
        }
        var traced = graph with { Outputs = outputs };
        return new OnnxModel(Model.IrVersion, Model.OpsetImports, traced, Model.ProducerName, Model.ProducerVersion).ToBytes();
    }

    public void Dispose() => Canonical?.Dispose();
}
