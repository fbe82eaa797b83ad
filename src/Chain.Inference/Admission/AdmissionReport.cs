using Chain.Core;
using Chain.Inference.Onnx;

namespace Chain.Inference.Admission;

/// <summary>Why a model was refused: a stable code, a message for people, and the node when there is one.</summary>
public sealed record AdmissionReason(string Code, string Message, string? Node)
{
    public override string ToString() => Node is null ? $"[{Code}] {Message}" : $"[{Code}] {Node}: {Message}";
}

/// <summary>A value's static type: element type and fully known shape.</summary>
public sealed record TensorInfo(TensorElementType ElementType, int[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
    public int Rank => Shape.Length;
    public override string ToString() => $"{TensorElementTypes.Name(ElementType)}[{string.Join(",", Shape)}]";
}

/// <summary>What admission learned about one node: its outputs' types (null for an omitted optional output),
/// MACs, work in gas milli-units (<see cref="GasSchedule"/>) and the scratch its kernel takes.</summary>
public sealed record NodeAdmission(int Index, string Name, string OpType, IReadOnlyList<TensorInfo?> Outputs, long Macs,
    long Work, long ScratchBytes);

/// <summary>
/// The outcome of <see cref="ModelAdmission.Check"/>. When <see cref="Admitted"/> is true, <see cref="Model"/>,
/// <see cref="Nodes"/> (in execution order) and <see cref="Values"/> are complete and an executor may rely on them.
/// </summary>
public sealed class AdmissionReport
{
    internal AdmissionReport(Hash32 modelId, int modelBytes, OnnxModel? model, IReadOnlyList<AdmissionReason> reasons,
        IReadOnlyList<NodeAdmission> nodes, IReadOnlyDictionary<string, TensorInfo> values, long totalMacs, long totalElements,
        MemoryPlan memoryPlan, long totalWork)
    {
        MemoryPlan = memoryPlan;
        TotalWork = totalWork;
        ModelId = modelId;
        ModelBytes = modelBytes;
        Model = model;
        Reasons = reasons;
        Nodes = nodes;
        Values = values;
        TotalMacs = totalMacs;
        TotalElements = totalElements;
    }

    public bool Admitted => Reasons.Count == 0;

    /// <summary>DomainHash.Compute(HashDomain.Model, bytes): the id the chain registers the model under.</summary>
    public Hash32 ModelId { get; }

    public int ModelBytes { get; }

    /// <summary>The parsed model, or null when the bytes did not parse.</summary>
    public OnnxModel? Model { get; }

    public IReadOnlyList<AdmissionReason> Reasons { get; }

    /// <summary>Per-node results in execution (topological) order; <see cref="NodeAdmission.Index"/> is the file index.</summary>
    public IReadOnlyList<NodeAdmission> Nodes { get; }

    /// <summary>Static type of every value whose type was inferred: graph inputs, initializers and node outputs.</summary>
    public IReadOnlyDictionary<string, TensorInfo> Values { get; }

    /// <summary>Multiply-accumulates for one inference (MatMul/Conv products; one per pooling window element).</summary>
    public long TotalMacs { get; }

    /// <summary>Sum of the element counts of all node outputs: the data-movement part of the cost.</summary>
    public long TotalElements { get; }

    /// <summary>Work of all nodes in gas milli-units (<see cref="GasSchedule.NodeWork"/>).</summary>
    public long TotalWork { get; }

    /// <summary>The static memory plan the canonical executor runs from (empty when refused).</summary>
    public MemoryPlan MemoryPlan { get; }

    /// <summary>The proven peak of per-run memory: the planned arena, in bytes.</summary>
    public long PeakMemoryBytes => MemoryPlan.ArenaBytes;

    /// <summary>Gas one inference costs: <see cref="GasSchedule.Gas"/> of the work and the planned arena.</summary>
    public long Gas => GasSchedule.Gas(TotalWork, MemoryPlan.ArenaBytes);
}
