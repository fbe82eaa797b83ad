using Chain.Core.Hashing;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;

namespace Chain.Inference.Admission;

/// <summary>
/// Decides whether model bytes may be registered for consensus inference (rules in docs/onnx-subset.md):
/// well-formed subset, supported opset and ops, integer arithmetic only, static shapes within limits,
/// accumulators that cannot overflow int32 and no int16 saturation hazard on x86, and bounded cost.
/// The check is a pure function of the bytes, so every validator reaches the same verdict.
/// </summary>
public static partial class ModelAdmission
{
    public static AdmissionReport Check(ReadOnlySpan<byte> bytes)
    {
        var id = DomainHash.Compute(HashDomain.Model, bytes);
        var empty = new Dictionary<string, TensorInfo>();
        if (bytes.Length > AdmissionLimits.MaxModelBytes)
            return Refused(id, bytes.Length, null, new("size", $"model is {bytes.Length} bytes, more than the limit of {AdmissionLimits.MaxModelBytes}", null));
        OnnxModel model;
        try
        {
            model = OnnxModel.Parse(bytes);
        }
        catch (OnnxFormatException e)
        {
            return Refused(id, bytes.Length, null, new("format", e.Message, null));
        }
        try
        {
            return new Checker(model, id, bytes.Length).Run();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            // A rule that failed unexpectedly is a bug, but refusing is deterministic and keeps validators up.
            return Refused(id, bytes.Length, model, new("internal", $"admission failed: {e.GetType().Name}: {e.Message}", null));
        }
    }

    private static AdmissionReport Refused(Core.Hash32 id, int size, OnnxModel? model, AdmissionReason reason) =>
        new(id, size, model, [reason], [], new Dictionary<string, TensorInfo>(), 0, 0, MemoryPlan.Empty, 0);

    private sealed partial class Checker(OnnxModel model, Core.Hash32 id, int size)
    {
        private readonly List<AdmissionReason> _reasons = [];
        private readonly Dictionary<string, TensorInfo> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Tensor> _consts = new(StringComparer.Ordinal);
        private readonly Dictionary<string, OnnxNode> _producers = new(StringComparer.Ordinal);
        private readonly HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);
        private long _opset;
        private bool _microsoft; // the model imports com.microsoft version 1

        public AdmissionReport Run()
        {
            var nodesOut = new List<NodeAdmission>();
            long macs = 0, elements = 0, work = 0;
            var plan = MemoryPlan.Empty;
            if (CheckOpsets() && CheckGraph(out var order))
            {
                SeedValues();
                foreach (var index in order)
                {
                    var node = model.Graph.Nodes[index];
                    var before = _reasons.Count;
                    var result = CheckNode(node, out var nodeMacs);
                    var outs = new List<TensorInfo?>();
                    for (var i = 0; i < node.Outputs.Count; i++)
                    {
                        var name = node.Outputs[i];
                        TensorInfo? info = null;
                        if (name.Length > 0 && result is not null && i < result.Length && result[i] is { } r)
                        {
                            if (CheckTensorSize(node, name, r))
                            {
                                info = r;
                                _values[name] = r;
                                elements += r.ElementCount;
                            }
                        }
                        outs.Add(info);
                    }
                    if (result is not null && _reasons.Count == before && outs[0] is { } output)
                    {
                        var inputs = node.Inputs.Select(n => n.Length == 0 ? null : _values.GetValueOrDefault(n)).ToArray();
                        var constant = node.Inputs.Select(n => n.Length > 0 && _consts.ContainsKey(n)).ToArray();
                        var nodeWork = GasSchedule.NodeWork(node.OpType, inputs, output, nodeMacs, constant);
                        var scratch = ScratchBytes(node, inputs, output);
                        // Saturate: the cap checks below refuse anything this large anyway.
                        macs = GasSchedule.SaturatingAdd(macs, nodeMacs);
                        work = GasSchedule.SaturatingAdd(work, nodeWork);
                        nodesOut.Add(new NodeAdmission(index, node.Name, node.OpType, outs, nodeMacs, nodeWork, scratch));
                    }
                }
                CheckOutputs();
                if (macs > AdmissionLimits.MaxMacs)
                    Refuse("cost", $"the model needs {macs} multiply-accumulates, more than the limit of {AdmissionLimits.MaxMacs}", null);
                if (_reasons.Count == 0)
                {
                    plan = PlanMemory(nodesOut);
                    if (_reasons.Count == 0 && plan.ArenaBytes > AdmissionLimits.MaxArenaBytes)
                    {
                        Refuse("memory", $"the model needs {plan.ArenaBytes} bytes of planned memory for inputs, intermediates and scratch " +
                                         $"(at best {plan.LiveBytesPeak} live at once), more than the limit of {AdmissionLimits.MaxArenaBytes}", null);
                        plan = MemoryPlan.Empty;
                    }
                }
            }
            return new AdmissionReport(id, size, model, _reasons, nodesOut, _values, macs, elements, plan, work);
        }

        /// <summary>
        /// The static memory plan (docs/onnx-subset.md §4.2): graph inputs live from the first step to their
        /// last reader, each node output from its step to its last reader (graph outputs to the end), and
        /// each node's scratch during its own step only.
        /// </summary>
        private MemoryPlan PlanMemory(IReadOnlyList<NodeAdmission> nodes)
        {
            var step = new Dictionary<string, int>(StringComparer.Ordinal);
            var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var s = 0; s < nodes.Count; s++)
                foreach (var input in model.Graph.Nodes[nodes[s].Index].Inputs)
                    if (input.Length > 0) lastUse[input] = s;
            var end = nodes.Count;
            foreach (var o in _graphOutputs) lastUse[o] = end;
            var requests = new List<MemoryPlan.Request>();
            foreach (var v in model.Graph.Inputs)
            {
                if (_consts.ContainsKey(v.Name) || !_values.TryGetValue(v.Name, out var info)) continue;
                requests.Add(new(v.Name, -1, Bytes(info), 0, lastUse.GetValueOrDefault(v.Name, 0)));
            }
            for (var s = 0; s < nodes.Count; s++)
            {
                var n = nodes[s];
                var name = model.Graph.Nodes[n.Index].Outputs[0];
                requests.Add(new(name, n.Index, Bytes(n.Outputs[0]!), s, Math.Max(s, lastUse.GetValueOrDefault(name, s))));
                if (n.ScratchBytes > 0) requests.Add(new(null, n.Index, n.ScratchBytes, s, s));
            }
            // The live peak bounds every arena from below and costs linear time: refuse on it before placing.
            var livePeak = MemoryPlan.LivePeak(requests);
            if (livePeak > AdmissionLimits.MaxArenaBytes)
            {
                Refuse("memory", $"the model needs at least {livePeak} bytes of memory live at once (inputs, intermediates and scratch), " +
                                 $"more than the limit of {AdmissionLimits.MaxArenaBytes}", null);
                return MemoryPlan.Empty;
            }
            return MemoryPlan.Build(requests);
        }

        private static long Bytes(TensorInfo info) => info.ElementCount * TensorElementTypes.SizeOf(info.ElementType);

        /// <summary>
        /// Scratch the node's canonical kernel takes in a planned run, by the kernels' own formulas (they
        /// throw if a run ever asks for more, so the property tests would catch a wrong bound).
        /// </summary>
        private long ScratchBytes(Onnx.OnnxNode node, IReadOnlyList<TensorInfo?> inputs, TensorInfo output)
        {
            switch (node.OpType)
            {
                case "MatMulInteger" or "QLinearMatMul":
                {
                    var requantize = node.OpType == "QLinearMatMul";
                    var a = inputs[0]!.Shape;
                    var b = inputs[requantize ? 3 : 1]!.Shape;
                    int m = a.Length == 1 ? 1 : a[^2], k = a[^1], n = b.Length == 1 ? 1 : b[^1];
                    var batch = (long)m * n == 0 ? 0 : output.ElementCount / ((long)m * n);
                    return Kernels.CanonicalOps.MatMulScratchBytes(batch, m, k, n, requantize);
                }
                case "ConvInteger" or "QLinearConv":
                {
                    var requantize = node.OpType == "QLinearConv";
                    var w = inputs[requantize ? 3 : 1]!.Shape;
                    var kc = checked((int)w[1..].Aggregate(1L, (p, d) => p * d));
                    var positions = output.Shape[2..].Aggregate(1L, (p, d) => p * d);
                    return Kernels.CanonicalOps.ConvScratchBytes(output.Shape[0], w[0], (int)node.GetInt("group", 1), kc, positions, requantize);
                }
                default:
                    return 0;
            }
        }

        private void Refuse(string code, string message, OnnxNode? node) => _reasons.Add(new(code, message, node?.DisplayName));

        private bool CheckOpsets()
        {
            var ok = true;
            var defaults = 0;
            foreach (var o in model.OpsetImports)
            {
                if (o.Domain is "" or "ai.onnx")
                {
                    defaults++;
                    _opset = o.Version;
                    if (o.Version is < AdmissionLimits.MinOpset or > AdmissionLimits.MaxOpset)
                    {
                        Refuse("opset", $"ai.onnx opset {o.Version} is outside the supported range {AdmissionLimits.MinOpset}–{AdmissionLimits.MaxOpset}", null);
                        ok = false;
                    }
                }
                else if (o.Domain == AdmissionLimits.MicrosoftDomain)
                {
                    if (_microsoft || o.Version != AdmissionLimits.MicrosoftOpset)
                    {
                        Refuse("opset", _microsoft
                            ? $"the model imports the {o.Domain} opset more than once"
                            : $"{o.Domain} opset {o.Version} is not supported; only version {AdmissionLimits.MicrosoftOpset} (for QLinearAdd, QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool)", null);
                        ok = false;
                    }
                    _microsoft = true;
                }
                else
                {
                    Refuse("opset", $"opset domain '{o.Domain}' is not supported; only ai.onnx and com.microsoft (version 1) are", null);
                    ok = false;
                }
            }
            if (defaults != 1)
            {
                Refuse("opset", defaults == 0 ? "the model imports no ai.onnx opset" : "the model imports the ai.onnx opset more than once", null);
                ok = false;
            }
            return ok;
        }

        private bool CheckGraph(out IReadOnlyList<int> order)
        {
            var g = model.Graph;
            order = [];
            if (g.Nodes.Count > AdmissionLimits.MaxNodes)
            {
                Refuse("limit", $"the graph has {g.Nodes.Count} nodes, more than the limit of {AdmissionLimits.MaxNodes}", null);
                return false;
            }
            var check = GraphValidation.Check(g);
            foreach (var issue in check.Issues) _reasons.Add(new(issue.Code, issue.Message, issue.Node));
            if (!check.Ok) return false;
            if (g.Outputs.Count == 0)
            {
                Refuse("graph", "the graph has no outputs", null);
                return false;
            }
            order = check.Order;
            foreach (var n in g.Nodes)
            {
                foreach (var o in n.Outputs) if (o.Length > 0) _producers[o] = n;
                foreach (var i in n.Inputs.Where(i => i.Length > 0).Distinct())
                {
                    if (!_consumers.TryGetValue(i, out var list)) _consumers[i] = list = [];
                    list.Add(n);
                }
            }
            foreach (var o in g.Outputs) _graphOutputs.Add(o.Name);
            return true;
        }

        private void SeedValues()
        {
            foreach (var t in model.Graph.Initializers)
            {
                var info = new TensorInfo(t.Value.ElementType, t.Value.Shape.ToArray());
                _consts[t.Name] = t.Value;
                if (CheckTensorSize(null, t.Name, info)) _values[t.Name] = info;
            }
            foreach (var v in model.Graph.Inputs)
            {
                if (v.ElemType == 0 || !TensorElementTypes.IsKnown(v.ElementType))
                {
                    Refuse("input", $"graph input '{v.Name}' has element type {v.ElemType}, which is not supported", null);
                    continue;
                }
                if (!TensorElementTypes.IsInteger(v.ElementType))
                {
                    Refuse("float", $"graph input '{v.Name}' is {TensorElementTypes.Name(v.ElementType)}; consensus inputs must be integer tensors", null);
                    continue;
                }
                if (v.Shape is null || v.StaticShape is not { } shape)
                {
                    var text = v.Shape is null ? "no shape" : $"shape [{string.Join(",", v.Shape)}]";
                    Refuse("dynamic-shape", $"graph input '{v.Name}' has {text}; every input dimension (batch included) must be a fixed number", null);
                    continue;
                }
                if (shape.Length > Tensor.MaxRank || shape.Any(d => d < 0 || d > AdmissionLimits.MaxDim))
                {
                    Refuse("limit", $"graph input '{v.Name}' has shape [{string.Join(",", shape)}]: dimensions must be 0–{AdmissionLimits.MaxDim}, rank at most {Tensor.MaxRank}", null);
                    continue;
                }
                var info = new TensorInfo(v.ElementType, shape.Select(d => (int)d).ToArray());
                if (info.ElementCount * TensorElementTypes.SizeOf(v.ElementType) > Core.Protocol.ProtocolLimits.MaxTensorBytes)
                {
                    Refuse("limit", $"graph input '{v.Name}' {info} is larger than the {Core.Protocol.ProtocolLimits.MaxTensorBytes} bytes a transaction may carry", null);
                    continue;
                }
                _values[v.Name] = info;
            }
        }

        private bool CheckTensorSize(OnnxNode? node, string name, TensorInfo info)
        {
            if (info.Rank > Tensor.MaxRank || info.Shape.Any(d => d < 0 || d > AdmissionLimits.MaxDim) ||
                info.Shape.Aggregate(1.0, (a, d) => a * d) > AdmissionLimits.MaxTensorElements)
            {
                Refuse("limit", $"value '{name}' would be {info}: more than rank {Tensor.MaxRank}, a dimension over {AdmissionLimits.MaxDim} or over {AdmissionLimits.MaxTensorElements} elements", node);
                return false;
            }
            return true;
        }

        private void CheckOutputs()
        {
            foreach (var o in model.Graph.Outputs)
            {
                if (!_values.TryGetValue(o.Name, out var info)) continue; // a reason was already given upstream
                if (o.ElemType != 0 && o.ElemType != (int)info.ElementType)
                    Refuse("shape", $"graph output '{o.Name}' is declared {TensorElementTypes.Name(o.ElementType)} but is {info}", null);
                if (o.Shape is { } declared)
                {
                    var mismatch = declared.Count != info.Rank ||
                                   declared.Select((d, i) => d.Value is { } v && v != info.Shape[i]).Any(b => b);
                    if (mismatch)
                        Refuse("shape", $"graph output '{o.Name}' is declared [{string.Join(",", declared)}] but is {info}", null);
                }
            }
        }
    }
}
