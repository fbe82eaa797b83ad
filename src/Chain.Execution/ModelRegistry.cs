using Chain.Core;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Admission;

namespace Chain.Execution;

/// <summary>The outcome of checking a model for registration: metadata when accepted, a reason otherwise.</summary>
public sealed record ModelCheck(Hash32 ModelId, ModelInfo? Info, string? Refusal)
{
    public bool Accepted => Info is not null;
}

/// <summary>Registration rules on top of ONNX admission (docs/execution.md, "RegisterModel").</summary>
public static class ModelRegistry
{
    /// <summary>Room for a canonical tensor's header (type, rank, dims, bin32 header) around its data.</summary>
    private const int TensorEnvelopeBytes = 64;

    /// <summary>
    /// Runs admission and the chain's own rules: exactly one input (an Infer carries one tensor), at least
    /// one output, of which the first is the one a receipt records; input and that output integer tensors,
    /// small enough to fit a transaction and a receipt. Pure function of the bytes: every node reaches the same verdict
    /// (remembered by model id in <see cref="ModelVerdictCache.Shared"/>, so a block re-executed does not run admission again).
    /// </summary>
    public static ModelCheck Check(ReadOnlySpan<byte> modelBytes, Address owner, string name, ulong height) =>
        Check(modelBytes, owner, name, height, ModelVerdictCache.Shared);

    public static ModelCheck Check(ReadOnlySpan<byte> modelBytes, Address owner, string name, ulong height, ModelVerdictCache verdicts)
    {
        var id = ModelVerdictCache.IdOf(modelBytes);
        var verdict = verdicts.GetOrJudge(id, modelBytes, Judge);
        if (verdict.Refusal is { } refusal) return new ModelCheck(id, null, refusal);
        return new ModelCheck(id, new ModelInfo(owner, name, verdict.Input!, verdict.Output!, verdict.Gas, verdict.Macs, height), null);
    }

    /// <summary>Admission and the chain's rules on the bytes alone: what <see cref="Check"/> adds to it is who, what name and when.</summary>
    public static ModelVerdict Judge(Hash32 modelId, ReadOnlySpan<byte> modelBytes)
    {
        var report = ModelAdmission.Check(modelBytes);
        if (report.ModelId != modelId) throw new ArgumentException($"the bytes hash to {report.ModelId}, not {modelId}", nameof(modelId));
        if (!report.Admitted || report.Model is null)
            return Refused("admission refused the model: " + string.Join("; ", report.Reasons.Take(5)));
        var graph = report.Model.Graph;
        var initializers = graph.Initializers.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = graph.Inputs.Where(i => !initializers.Contains(i.Name)).ToArray();
        if (inputs.Length != 1)
            return Refused($"a chain model takes exactly one input tensor, this one takes {inputs.Length}");
        // Receipts record one tensor: the first declared output (e.g. logits; a derived class index may follow).
        if (graph.Outputs.Count == 0)
            return Refused("the model declares no output");
        if (!report.Values.TryGetValue(inputs[0].Name, out var input) || !report.Values.TryGetValue(graph.Outputs[0].Name, out var output))
            return Refused("admission did not type the model's input and output");
        var inSig = new TensorSignature(input.ElementType, input.Shape.ToArray());
        var outSig = new TensorSignature(output.ElementType, output.Shape.ToArray());
        if (!TensorElementTypes.IsInteger(inSig.ElementType) || !TensorElementTypes.IsInteger(outSig.ElementType))
            return Refused($"input {inSig} and output {outSig} must be integer tensors");
        if (inSig.DataBytes + TensorEnvelopeBytes > ProtocolLimits.MaxTensorBytes)
            return Refused($"input {inSig} does not fit a transaction ({ProtocolLimits.MaxTensorBytes} bytes)");
        if (outSig.DataBytes + TensorEnvelopeBytes > ProtocolLimits.MaxTensorBytes)
            return Refused($"output {outSig} does not fit a receipt ({ProtocolLimits.MaxTensorBytes} bytes)");
        return new ModelVerdict(inSig, outSig, checked((ulong)report.Gas), checked((ulong)report.TotalMacs), null);
    }

    private static ModelVerdict Refused(string reason) => new(null, null, 0, 0, reason);
}
