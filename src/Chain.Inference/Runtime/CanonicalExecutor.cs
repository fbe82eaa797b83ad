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
/// Memory one run used, measured by the executor: the highest arena byte a node's output or scratch
/// reached, and the largest sum of live planned values plus scratch at one step. Both are at most the
/// plan's <see cref="MemoryPlan.ArenaBytes"/>, the proven peak (a request beyond the plan throws).
/// </summary>
public readonly record struct MemoryUsage(long ArenaBytes, long HighestByte, long PeakLiveBytes);

/// <summary>
/// The canonical executor: the definition of inference for consensus. Walks the graph in the
/// topological order computed at load and runs each node with the one canonical kernel for its op
/// (src/Chain.Inference/Kernels; semantics in docs/inference-semantics.md). An admitted model runs from
/// its static memory plan (<see cref="MemoryPlan"/>): graph inputs and every intermediate live in one
/// arena at the planned offsets, reused once their last consumer ran, and kernels draw scratch from the
/// node's planned workspace, so a run allocates nothing of data size and its peak is the proven one.
/// Arenas are pooled, so one instance may serve many threads and a warm run reuses an arena.
/// </summary>
public sealed class CanonicalExecutor : IModelExecutor
{
    private readonly OnnxModel _model;
    private readonly Step[] _steps;
    private readonly Tensor?[] _constants;      // per slot: the initializer, else null
    private readonly string[] _slotNames;
    private readonly TensorSpec[] _inputs;
    private readonly int[] _inputSlots;
    private readonly string[] _outputs;
    private readonly int[] _outputSlots;
    private readonly MemoryPlan? _plan;
    private readonly PlannedBuffer?[] _slotBuffers;   // per slot: where the plan keeps it (inputs and node outputs)
    private readonly int[] _lastUse;            // per slot: the last step that reads it (steps.Length for outputs)
    private readonly int[][] _dying;            // per step: the slots whose lifetime ends with it
    private readonly System.Collections.Concurrent.ConcurrentBag<byte[]> _arenas = new();

    /// <summary>
    /// Warm arenas kept for reuse, in bytes, across every loaded model of the process. Capped, so that many
    /// registered models with large plans cannot make a node keep an arena each: past the cap an arena is
    /// dropped after its run (the next run of that model allocates it again).
    /// </summary>
    private static long _retainedArenaBytes;

    /// <summary>The most arena bytes kept warm process-wide: one largest admissible arena.</summary>
    public const long MaxRetainedArenaBytes = AdmissionLimits.MaxArenaBytes;

    /// <summary>Arena bytes now kept warm for reuse, across all executors.</summary>
    public static long RetainedArenaBytes => Interlocked.Read(ref _retainedArenaBytes);

    /// <summary>One node, resolved at load: its input and output slots and its planned buffers.</summary>
    private sealed record Step(int Index, OnnxNode Node, int[] Inputs, int Output, PlannedBuffer? Buffer, PlannedBuffer? Workspace,
        TensorInfo? Type);

    private CanonicalExecutor(OnnxModel model, int[] order, Hash32 modelId, MemoryPlan? plan, IReadOnlyDictionary<string, TensorInfo>? types)
    {
        _model = model;
        _plan = plan;
        ModelId = modelId;
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        int Slot(string name) => slots.TryGetValue(name, out var i) ? i : slots[name] = slots.Count;
        foreach (var t in model.Graph.Initializers) Slot(t.Name);
        var initializerNames = model.Graph.Initializers.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        _inputs = model.Graph.Inputs
            .Where(i => !initializerNames.Contains(i.Name))
            .Select(i => new TensorSpec(i.Name, i.ElementType,
                i.StaticShape?.Select(d => checked((int)d)).ToArray()
                ?? throw new InferenceException($"graph input '{i.Name}' has no static shape")))
            .ToArray();
        _inputSlots = _inputs.Select(i => Slot(i.Name)).ToArray();
        _steps = order.Select(index =>
        {
            var node = model.Graph.Nodes[index];
            var inputs = node.Inputs.Select(n => n.Length == 0 ? -1 : Slot(n)).ToArray();
            var output = Slot(node.Outputs.Count > 0 && node.Outputs[0].Length > 0
                ? node.Outputs[0]
                : throw new InferenceException($"node {node.DisplayName} has no output"));
            return new Step(index, node, inputs, output, plan?.ForValue(node.Outputs[0]), plan?.Workspace(index),
                types?.GetValueOrDefault(node.Outputs[0]));
        }).ToArray();
        _outputs = model.Graph.Outputs.Select(o => o.Name).ToArray();
        _outputSlots = _outputs.Select(Slot).ToArray();
        _slotNames = new string[slots.Count];
        foreach (var (name, i) in slots) _slotNames[i] = name;
        _constants = new Tensor?[slots.Count];
        foreach (var t in model.Graph.Initializers) _constants[slots[t.Name]] = t.Value;
        _slotBuffers = _slotNames.Select(n => plan?.ForValue(n)).ToArray();
        _lastUse = new int[slots.Count];
        Array.Fill(_lastUse, -1);
        for (var s = 0; s < _steps.Length; s++)
            foreach (var i in _steps[s].Inputs)
                if (i >= 0) _lastUse[i] = s;
        foreach (var o in _outputSlots) _lastUse[o] = _steps.Length;
        // Lifetimes exactly as the plan has them: an input nobody reads dies after step 0, a node output
        // nobody reads after its own step; each step then frees the values whose last step it was.
        foreach (var i in _inputSlots)
            if (_lastUse[i] < 0) _lastUse[i] = 0;
        for (var s = 0; s < _steps.Length; s++)
            if (_lastUse[_steps[s].Output] < 0) _lastUse[_steps[s].Output] = s;
        var dying = new List<int>[_steps.Length];
        for (var s = 0; s < dying.Length; s++) dying[s] = [];
        for (var slot = 0; slot < _lastUse.Length; slot++)
            if (_lastUse[slot] >= 0 && _lastUse[slot] < _steps.Length && _constants[slot] is null) dying[_lastUse[slot]].Add(slot);
        _dying = dying.Select(d => d.ToArray()).ToArray();
        if (plan is not null)
        {
            // The plan must cover every value the run writes; admission builds it from the same graph.
            foreach (var i in _inputSlots)
                if (_slotBuffers[i] is null) throw new InferenceException($"memory plan has no buffer for input '{_slotNames[i]}'");
            foreach (var step in _steps)
                if (step.Buffer is null || step.Type is null)
                    throw new InferenceException($"memory plan has no buffer or type for '{_slotNames[step.Output]}'");
        }
    }

    /// <summary>
    /// Loads a model for consensus use: it must pass admission (throws <see cref="ModelRefusedException"/>),
    /// and it runs from the admission's memory plan.
    /// </summary>
    public static CanonicalExecutor Load(ReadOnlySpan<byte> modelBytes)
    {
        var report = ModelAdmission.Check(modelBytes);
        if (!report.Admitted || report.Model is null) throw new ModelRefusedException(report);
        return FromModel(report.Model, report.ModelId, report.MemoryPlan, report.Values);
    }

    /// <summary>
    /// Loads a model without admission, for the determinism lab's float contrast models and for
    /// conformance cases that admission refuses. Never used for consensus: with no plan, each node's
    /// output is a fresh array, dropped after its last consumer.
    /// </summary>
    public static CanonicalExecutor LoadUnchecked(ReadOnlySpan<byte> modelBytes)
    {
        var model = OnnxModel.Parse(modelBytes);
        return FromModel(model, Chain.Core.Hashing.DomainHash.Compute(Chain.Core.Hashing.HashDomain.Model, modelBytes), null, null);
    }

    private static CanonicalExecutor FromModel(OnnxModel model, Hash32 modelId, MemoryPlan? plan, IReadOnlyDictionary<string, TensorInfo>? types)
    {
        var check = GraphValidation.Check(model.Graph);
        if (!check.Ok) throw new InferenceException("invalid graph: " + string.Join("; ", check.Issues.Select(i => i.Message)));
        return new CanonicalExecutor(model, [.. check.Order], modelId, plan, types);
    }

    public Hash32 ModelId { get; }

    public OnnxModel Model => _model;

    /// <summary>The static memory plan the executor runs from; null for a model loaded without admission.</summary>
    public MemoryPlan? MemoryPlan => _plan;

    /// <summary>The inputs a caller must supply (initializers excluded), with their exact types and shapes.</summary>
    public IReadOnlyList<TensorSpec> Inputs => _inputs;

    public IReadOnlyList<string> OutputNames => _outputs;

    public string Description => $"canonical ({KernelOptions.Current.ToString().ToLowerInvariant()})";

    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs) => Execute(inputs, null, out _);

    /// <summary>Runs the model and returns, besides the outputs, the hash of every node output in execution order.</summary>
    public (IReadOnlyList<NamedTensor> Outputs, IReadOnlyList<NodeOutputHash> Trace) RunTraced(IReadOnlyList<NamedTensor> inputs)
    {
        var trace = new List<NodeOutputHash>();
        var outputs = Execute(inputs, trace, out _);
        return (outputs, trace);
    }

    /// <summary>Runs the model and reports the memory the run used (for the measured-versus-proven check).</summary>
    public (IReadOnlyList<NamedTensor> Outputs, MemoryUsage Memory) RunMeasured(IReadOnlyList<NamedTensor> inputs)
    {
        var outputs = Execute(inputs, null, out var usage);
        return (outputs, usage);
    }

    private IReadOnlyList<NamedTensor> Execute(IReadOnlyList<NamedTensor> inputs, List<NodeOutputHash>? trace, out MemoryUsage usage)
    {
        var values = (Tensor?[])_constants.Clone();
        byte[]? arena = null;
        if (_plan is not null)
        {
            if (_arenas.TryTake(out arena)) Interlocked.Add(ref _retainedArenaBytes, -arena.Length);
            else arena = new byte[_plan.ArenaBytes];
        }
        try
        {
            BindInputs(inputs, values, arena);
            long highest = 0, peakLive = 0, live = 0;
            if (arena is not null)
                foreach (var i in _inputSlots) live += MemoryPlan.Align(_slotBuffers[i]!.Bytes);
            for (var s = 0; s < _steps.Length; s++)
            {
                var step = _steps[s];
                var node = step.Node;
                Tensor result;
                try
                {
                    if (arena is null) result = RunNode(node, step.Inputs, values);
                    else
                    {
                        var buffer = step.Buffer!;
                        var workspace = step.Workspace is { } w ? arena.AsMemory((int)w.Offset, (int)w.Bytes) : Memory<byte>.Empty;
                        var info = step.Type!;
                        using var scope = KernelMemory.Enter(arena.AsMemory((int)buffer.Offset, (int)buffer.Bytes), info.ElementType, info.Shape, workspace);
                        result = RunNode(node, step.Inputs, values);
                        if (!scope.OutputTaken || !result.IsView)
                            throw new InferenceException("the kernel did not write its planned output");
                        live += MemoryPlan.Align(buffer.Bytes);
                        highest = Math.Max(highest, Math.Max(buffer.Offset + buffer.Bytes,
                            step.Workspace is { } ws ? ws.Offset + scope.WorkspaceHighWater : 0));
                        peakLive = Math.Max(peakLive, live + scope.WorkspaceHighWater);
                    }
                }
                catch (InferenceException e)
                {
                    throw new InferenceException($"node {node.DisplayName} ({node.OpType}): {e.Message}");
                }
                values[step.Output] = result;
                trace?.Add(new NodeOutputHash(step.Index, node.DisplayName, node.OpType, _slotNames[step.Output], result.Hash));
                // Values whose lifetime ends with this step are dead: their arena bytes may now be reused.
                foreach (var slot in _dying[s])
                {
                    if (values[slot] is null) continue;
                    if (arena is not null && _slotBuffers[slot] is { } b) live -= MemoryPlan.Align(b.Bytes);
                    values[slot] = null;
                }
            }
            var outputs = new NamedTensor[_outputs.Length];
            for (int i = 0; i < outputs.Length; i++)
            {
                var value = values[_outputSlots[i]] ?? throw new InferenceException($"graph output '{_outputs[i]}' was never produced");
                // Outputs leave the executor: copies, since the arena is reused by the next run.
                outputs[i] = new NamedTensor(_outputs[i], value.IsView ? value.Copy() : value);
            }
            usage = new MemoryUsage(_plan?.ArenaBytes ?? 0, highest, peakLive);
            return outputs;
        }
        finally
        {
            if (arena is not null)
            {
                if (Interlocked.Add(ref _retainedArenaBytes, arena.Length) <= MaxRetainedArenaBytes) _arenas.Add(arena);
                else Interlocked.Add(ref _retainedArenaBytes, -arena.Length);
            }
        }
    }

    private void BindInputs(IReadOnlyList<NamedTensor> inputs, Tensor?[] values, byte[]? arena)
    {
        if (inputs.Count != _inputs.Length)
            throw new InferenceException($"model takes {_inputs.Length} input(s) ({string.Join(", ", _inputs.Select(i => i.ToString()))}), got {inputs.Count}");
        for (var k = 0; k < _inputs.Length; k++)
        {
            var spec = _inputs[k];
            Tensor? supplied = null;
            foreach (var i in inputs)
                if (i.Name == spec.Name) supplied = i.Value;
            if (supplied is null) throw new InferenceException($"input '{spec.Name}' is missing (expected {spec})");
            if (supplied.ElementType != spec.ElementType || !supplied.ShapeEquals(spec.Shape))
                throw new InferenceException($"input '{spec.Name}' is {supplied}, expected {TensorElementTypes.Name(spec.ElementType)}[{string.Join(",", spec.Shape)}]");
            if (arena is not null)
            {
                // Inputs live in the arena too, so the plan accounts for them and no kernel caches them.
                var b = _slotBuffers[_inputSlots[k]]!;
                var memory = arena.AsMemory((int)b.Offset, (int)b.Bytes);
                supplied.Data.CopyTo(memory.Span);
                supplied = Tensor.View(spec.ElementType, spec.Shape, memory);
            }
            values[_inputSlots[k]] = supplied;
        }
    }

    /// <summary>The ONNX Runtime contrib domain of QLinearAdd, QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    private static Tensor RunNode(OnnxNode node, int[] slots, Tensor?[] values)
    {
        Tensor In(int i) => Optional(i) ?? throw new InferenceException($"required input {i} is missing");
        Tensor? Optional(int i) => i < slots.Length && slots[i] >= 0
            ? values[slots[i]] ?? throw new InferenceException($"input '{node.Inputs[i]}' is not available")
            : null;
        int[] Ints(string name, int count, int fallback) =>
            node.GetInts(name)?.Select(v => checked((int)v)).ToArray() ?? Enumerable.Repeat(fallback, count).ToArray();
        int Int(string name, long fallback) => checked((int)node.GetInt(name, fallback));
        // Explicit pads, or those auto_pad implies (docs/onnx-subset.md §5): VALID none; SAME_* the total
        // max(0, (out−1)·s + e − in) with out = ceil(in/s), the odd one at the end (UPPER) or beginning (LOWER).
        int[] Pads(Tensor x, int[] kernel, int[] strides, int[] dilations)
        {
            var spatial = x.Rank - 2;
            var autoPad = node.GetString("auto_pad") ?? "NOTSET";
            switch (autoPad)
            {
                case "NOTSET":
                    return Ints("pads", 2 * spatial, 0);
                case "VALID":
                    return new int[2 * spatial];
                case "SAME_UPPER" or "SAME_LOWER":
                    var pads = new int[2 * spatial];
                    for (var d = 0; d < spatial; d++)
                    {
                        long input = x.Shape[2 + d], s = strides[d], effective = (kernel[d] - 1L) * dilations[d] + 1;
                        var output = (input + s - 1) / s;
                        var total = (int)Math.Max(0, (output - 1) * s + effective - input);
                        var small = total / 2;
                        pads[d] = autoPad == "SAME_UPPER" ? small : total - small;
                        pads[spatial + d] = total - pads[d];
                    }
                    return pads;
                default:
                    throw new InferenceException($"auto_pad={autoPad} is not supported");
            }
        }

        if (node.Domain == MicrosoftDomain)
        {
            switch (node.OpType)
            {
                case "QLinearAdd":
                    return CanonicalOps.QLinearAdd(In(0), In(1), Optional(2), In(3), In(4), Optional(5), In(6), Optional(7));
                case "QLinearMul":
                    return CanonicalOps.QLinearMul(In(0), In(1), Optional(2), In(3), In(4), Optional(5), In(6), Optional(7));
                case "QLinearGlobalAveragePool":
                    if (node.GetInt("channels_last", 0) != 0) throw new InferenceException("channels_last=1 is not supported");
                    return CanonicalOps.QLinearGlobalAveragePool(In(0), In(1), Optional(2), In(3), Optional(4));
                case "QLinearAveragePool":
                {
                    if (node.GetInt("channels_last", 0) != 0) throw new InferenceException("channels_last=1 is not supported");
                    var x = In(0);
                    var spatial = x.Rank - 2;
                    var kernel = node.GetInts("kernel_shape")?.Select(v => checked((int)v)).ToArray()
                        ?? throw new InferenceException("kernel_shape is required");
                    var strides = Ints("strides", spatial, 1);
                    var sameAutoPad = node.GetString("auto_pad") is "SAME_UPPER" or "SAME_LOWER";
                    return CanonicalOps.QLinearAveragePool(x, In(1), Optional(2), In(3), Optional(4), kernel,
                        Pads(x, kernel, strides, Enumerable.Repeat(1, spatial).ToArray()), strides,
                        !sameAutoPad && node.GetInt("ceil_mode", 0) != 0, node.GetInt("count_include_pad", 0) != 0);
                }
                default:
                    throw new InferenceException($"op {node.OpType} of domain {node.Domain} has no canonical semantics");
            }
        }
        if (node.Domain is not ("" or "ai.onnx"))
            throw new InferenceException($"op {node.OpType} of domain {node.Domain} has no canonical semantics");
        switch (node.OpType)
        {
            case "MatMulInteger":
                return CanonicalOps.MatMulInteger(In(0), In(1), Optional(2), Optional(3));
            case "QLinearMatMul":
                return CanonicalOps.QLinearMatMul(In(0), In(1), In(2), In(3), In(4), In(5), In(6), In(7));
            case "ConvInteger" or "QLinearConv":
            {
                var qlinear = node.OpType == "QLinearConv";
                var x = In(0);
                var w = In(qlinear ? 3 : 1);
                var spatial = x.Rank - 2;
                var strides = Ints("strides", spatial, 1);
                var dilations = Ints("dilations", spatial, 1);
                var pads = Pads(x, w.Shape[2..].ToArray(), strides, dilations);
                return qlinear
                    ? CanonicalOps.QLinearConv(x, In(1), In(2), w, In(4), In(5), In(6), In(7), Optional(8), pads, strides, dilations, Int("group", 1))
                    : CanonicalOps.ConvInteger(x, w, Optional(2), Optional(3), pads, strides, dilations, Int("group", 1));
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
                if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0)
                    throw new InferenceException("the Indices output of MaxPool is not supported");
                var x = In(0);
                var spatial = x.Rank - 2;
                var kernel = node.GetInts("kernel_shape")?.Select(v => checked((int)v)).ToArray()
                    ?? throw new InferenceException("kernel_shape is required");
                var strides = Ints("strides", spatial, 1);
                var dilations = Ints("dilations", spatial, 1);
                var sameAutoPad = node.GetString("auto_pad") is "SAME_UPPER" or "SAME_LOWER";
                // SAME_* fixes the output at ceil(in/s); the derived pads give exactly that, so ceil_mode has no say.
                return CanonicalOps.MaxPool(x, kernel, Pads(x, kernel, strides, dilations), strides, dilations,
                    !sameAutoPad && node.GetInt("ceil_mode", 0) != 0);
            }
            case "Reshape":
                return CanonicalOps.Reshape(In(0), In(1), node.GetInt("allowzero", 0) != 0);
            case "Flatten":
                return CanonicalOps.Flatten(In(0), Int("axis", 1));
            case "Identity":
                return CanonicalOps.Identity(In(0));
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

    /// <summary>Releases the warm arenas (nothing native is held).</summary>
    public void Dispose()
    {
        while (_arenas.TryTake(out var arena)) Interlocked.Add(ref _retainedArenaBytes, -arena.Length);
    }
}
