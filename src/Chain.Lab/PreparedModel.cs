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
    }

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
        var unchecked_ = CanonicalExecutor.LoadUnchecked(source.Bytes);
        var model = unchecked_.Model;
        var check = GraphValidation.Check(model.Graph);
        var floatOrder = check.Order.Select(i => model.Graph.Nodes[i])
            .Select((n, i) => new TracePoint(check.Order[i], n.DisplayName, n.OpType, n.Outputs[0])).ToArray();
        // Float models are not admitted, so their value types come from the declarations in the file.
        var types = model.Graph.Inputs.Concat(model.Graph.Outputs).Concat(model.Graph.ValueInfo)
            .Where(v => v.StaticShape is not null)
            .GroupBy(v => v.Name)
            .ToDictionary(g => g.Key, g => new TensorInfo(g.First().ElementType, g.First().StaticShape!.Select(d => (int)d).ToArray()));
        return new PreparedModel(source, null, unchecked_.Inputs, source.FloatMacs, floatOrder, types, model);
    }

    /// <summary>
    /// A copy of the model whose graph outputs also include every node's output, so ONNX Runtime can be
    /// traced node by node like the canonical executor. Graph outputs need declared types: they come from
    /// admission's inferred <see cref="Types"/>.
    /// </summary>
    public byte[] WithAllOutputs()
    {
        var graph = Model.Graph;
        var outputs = graph.Outputs.ToList();
        foreach (var point in Order)
        {
            if (outputs.Any(o => o.Name == point.Output)) continue;
            if (!Types.TryGetValue(point.Output, out var info))
                throw new InvalidOperationException($"no static type for '{point.Output}', so it cannot be made a graph output");
            outputs.Add(new OnnxValueInfo(point.Output, (int)info.ElementType, info.Shape.Select(d => OnnxDim.Fixed(d)).ToArray()));
        }
        var traced = graph with { Outputs = outputs };
        return new OnnxModel(Model.IrVersion, Model.OpsetImports, traced, Model.ProducerName, Model.ProducerVersion).ToBytes();
    }

    public void Dispose() => Canonical?.Dispose();
}
