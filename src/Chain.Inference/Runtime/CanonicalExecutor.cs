using Chain.Core;
using Chain.Inference.Admission;
using Chain.Inference.Kernels;
using Chain.Inference.Onnx;

namespace Chain.Inference.Runtime;

/// <summary>Raised when a model is not admitted for consensus execution; carries the admission report.</summary>
public sealed class ModelRefusedException(AdmissionReport report)
    : Exception("model refused: " + string.Join("; ", report.Reasons.Take(5)) + (report.Reasons.Count > 5 ? $" (+{report.Reasons.Count - 5} more)" : ""))
{
    public AdmissionReport Report { get; } = report;
}

/// <summary>The hash of one node output, for localising where two executions first diverge.</summary>
public readonly record struct NodeOutputHash(int NodeIndex, string Node, string OpType, string Output, Hash32 Hash);

/// <summary>
/// The canonical executor: the definition of inference for consensus. Walks the graph in the
/// topological order computed at load and runs each node with the one canonical kernel for its op
/// (src/Chain.Inference/Kernels; semantics in docs/inference-semantics.md). Loaded models are
/// immutable and <see cref="Run"/> keeps no state between calls, so one instance may serve many threads.
/// </summary>
public sealed class CanonicalExecutor : IModelExecutor
{
    private readonly OnnxModel _model;
    private readonly int[] _order;
    private readonly Dictionary<string, Tensor> _initializers;
    private readonly TensorSpec[] _inputs;
    private readonly string[] _outputs;

    private CanonicalExecutor(OnnxModel model, int[] order, Hash32 modelId)
    {
        _model = model;
        _order = order;
        ModelId = modelId;
        _initializers = model.Graph.Initializers.ToDictionary(t => t.Name, t => t.Value);
        _inputs = model.Graph.Inputs
            .Where(i => !_initializers.ContainsKey(i.Name))
            .Select(i => new TensorSpec(i.Name, i.ElementType,
                i.StaticShape?.Select(d => checked((int)d)).ToArray()
                ?? throw new InferenceException($"graph input '{i.Name}' has no static shape")))
            .ToArray();
        _outputs = model.Graph.Outputs.Select(o => o.Name).ToArray();
    }

    /// <summary>
    /// Loads a model for consensus use: it must pass admission (throws <see cref="ModelRefusedException"/>).
    /// </summary>
    public static CanonicalExecutor Load(ReadOnlySpan<byte> modelBytes)
    {
        var report = ModelAdmission.Check(modelBytes);
        if (!report.Admitted || report.Model is null) throw new ModelRefusedException(report);
        return FromModel(report.Model, report.ModelId);
    }

    /// <summary>
    /// Loads a model without admission, for the determinism lab's float contrast models and for
    /// conformance cases that admission refuses. Never used for consensus.
    /// </summary>
    public static CanonicalExecutor LoadUnchecked(ReadOnlySpan<byte> modelBytes)
    {
        var model = OnnxModel.Parse(modelBytes);
        return FromModel(model, Chain.Core.Hashing.DomainHash.Compute(Chain.Core.Hashing.HashDomain.Model, modelBytes));
    }

    private static CanonicalExecutor FromModel(OnnxModel model, Hash32 modelId)
    {
        var check = GraphValidation.Check(model.Graph);
        if (!check.Ok) throw new InferenceException("invalid graph: " + string.Join("; ", check.Issues.Select(i => i.Message)));
        return new CanonicalExecutor(model, [.. check.Order], modelId);
    }

    public Hash32 ModelId { get; }

    public OnnxModel Model => _model;

    /// <summary>The inputs a caller must supply (initializers excluded), with their exact types and shapes.</summary>
    public IReadOnlyList<TensorSpec> Inputs => _inputs;

    public IReadOnlyList<string> OutputNames => _outputs;

    public string Description => $"canonical ({KernelOptions.Current.ToString().ToLowerInvariant()})";

    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs) => Execute(inputs, null);

    /// <summary>Runs the model and returns, besides the outputs, the hash of every node output in execution order.</summary>
    public (IReadOnlyList<NamedTensor> Outputs, IReadOnlyList<NodeOutputHash> Trace) RunTraced(IReadOnlyList<NamedTensor> inputs)
    {
        var trace = new List<NodeOutputHash>();
        var outputs = Execute(inputs, trace);
        return (outputs, trace);
    }

    private IReadOnlyList<NamedTensor> Execute(IReadOnlyList<NamedTensor> inputs, List<NodeOutputHash>? trace)
    {
        var values = new Dictionary<string, Tensor>(_initializers);
        BindInputs(inputs, values);
        foreach (var index in _order)
        {
            var node = _model.Graph.Nodes[index];
            Tensor result;
            try
            {
                result = RunNode(node, values);
            }
            catch (InferenceException e)
            {
                throw new InferenceException($"node {node.DisplayName} ({node.OpType}): {e.Message}");
            }
            var output = node.Outputs[0];
            values[output] = result;
            trace?.Add(new NodeOutputHash(index, node.DisplayName, node.OpType, output, result.Hash));
        }
        var outputs = new NamedTensor[_outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            if (!values.TryGetValue(_outputs[i], out var value))
                throw new InferenceException($"graph output '{_outputs[i]}' was never produced");
            outputs[i] = new NamedTensor(_outputs[i], value);
        }
        return outputs;
    }

    private void BindInputs(IReadOnlyList<NamedTensor> inputs, Dictionary<string, Tensor> values)
    {
        if (inputs.Count != _inputs.Length)
            throw new InferenceException($"model takes {_inputs.Length} input(s) ({string.Join(", ", _inputs.Select(i => i.ToString()))}), got {inputs.Count}");
        foreach (var spec in _inputs)
        {
            var supplied = inputs.FirstOrDefault(i => i.Name == spec.Name).Value
                ?? throw new InferenceException($"input '{spec.Name}' is missing (expected {spec})");
            if (supplied.ElementType != spec.ElementType || !supplied.ShapeEquals(spec.Shape))
                throw new InferenceException($"input '{spec.Name}' is {supplied}, expected {TensorElementTypes.Name(spec.ElementType)}[{string.Join(",", spec.Shape)}]");
            values[spec.Name] = supplied;
        }
    }

    private static Tensor RunNode(OnnxNode node, Dictionary<string, Tensor> values)
    {
        Tensor In(int i) => Optional(i) ?? throw new InferenceException($"required input {i} is missing");
        Tensor? Optional(int i) => node.InputAt(i) is { } name
            ? values.TryGetValue(name, out var t) ? t : throw new InferenceException($"input '{name}' is not available")
            : null;
        int[] Ints(string name, int count, int fallback) =>
            node.GetInts(name)?.Select(v => checked((int)v)).ToArray() ?? Enumerable.Repeat(fallback, count).ToArray();
        int Int(string name, long fallback) => checked((int)node.GetInt(name, fallback));
        void RequireNoAutoPad()
        {
            var autoPad = node.GetString("auto_pad");
            if (autoPad is not null and not "NOTSET" and not "VALID")
                throw new InferenceException($"auto_pad={autoPad} is not supported; give explicit pads");
        }

        switch (node.OpType)
        {
            case "MatMulInteger":
                return CanonicalOps.MatMulInteger(In(0), In(1), Optional(2), Optional(3));
            case "QLinearMatMul":
                return CanonicalOps.QLinearMatMul(In(0), In(1), In(2), In(3), In(4), In(5), In(6), In(7));
            case "ConvInteger":
            {
                RequireNoAutoPad();
                var x = In(0);
                var spatial = x.Rank - 2;
                return CanonicalOps.ConvInteger(x, In(1), Optional(2), Optional(3),
                    Ints("pads", 2 * spatial, 0), Ints("strides", spatial, 1), Ints("dilations", spatial, 1), Int("group", 1));
            }
            case "QLinearConv":
            {
                RequireNoAutoPad();
                var x = In(0);
                var spatial = x.Rank - 2;
                return CanonicalOps.QLinearConv(x, In(1), In(2), In(3), In(4), In(5), In(6), In(7), Optional(8),
                    Ints("pads", 2 * spatial, 0), Ints("strides", spatial, 1), Ints("dilations", spatial, 1), Int("group", 1));
            }
            case "QuantizeLinear":
            {
                var outputDtype = node.GetInt("output_dtype", 0);
                return CanonicalOps.QuantizeLinear(In(0), In(1), Optional(2), Int("axis", 1),
                    outputDtype == 0 ? null : (TensorElementType)outputDtype);
            }
            case "DequantizeLinear":
                return CanonicalOps.DequantizeLinear(In(0), In(1), Optional(2), Int("axis", 1));
            case "Add":
                return CanonicalOps.Add(In(0), In(1));
            case "Mul":
                return CanonicalOps.Mul(In(0), In(1));
            case "Max":
                return CanonicalOps.Max(node.Inputs.Select((_, i) => In(i)).ToArray());
            case "Clip":
                return CanonicalOps.Clip(In(0), Optional(1), Optional(2));
            case "Relu":
                return CanonicalOps.Relu(In(0));
            case "MaxPool":
            {
                RequireNoAutoPad();
                if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0)
                    throw new InferenceException("the Indices output of MaxPool is not supported");
                var x = In(0);
                var spatial = x.Rank - 2;
                var kernel = node.GetInts("kernel_shape")?.Select(v => checked((int)v)).ToArray()
                    ?? throw new InferenceException("kernel_shape is required");
                return CanonicalOps.MaxPool(x, kernel, Ints("pads", 2 * spatial, 0), Ints("strides", spatial, 1),
                    Ints("dilations", spatial, 1), node.GetInt("ceil_mode", 0) != 0);
            }
            case "Reshape":
                return CanonicalOps.Reshape(In(0), In(1), node.GetInt("allowzero", 0) != 0);
            case "Flatten":
                return CanonicalOps.Flatten(In(0), Int("axis", 1));
            case "Transpose":
                return node.GetInts("perm") is { } perm
                    ? CanonicalOps.Transpose(In(0), perm.Select(v => checked((int)v)).ToArray())
                    : CanonicalOps.Transpose(In(0));
            case "Concat":
                return CanonicalOps.Concat(node.Inputs.Select((_, i) => In(i)).ToArray(), Int("axis", 0));
            case "Gather":
                return CanonicalOps.Gather(In(0), In(1), Int("axis", 0));
            case "ArgMax":
                return CanonicalOps.ArgMax(In(0), Int("axis", 0), node.GetInt("keepdims", 1) != 0, node.GetInt("select_last_index", 0) != 0);
            case "Cast":
                return CanonicalOps.Cast(In(0), (TensorElementType)node.GetInt("to", 0));
            default:
                throw new InferenceException($"op {node.OpType} has no canonical semantics");
        }
    }

    public void Dispose()
    {
        // Nothing native is held; present so callers treat both executors alike.
    }
}
