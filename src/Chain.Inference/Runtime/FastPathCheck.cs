namespace Chain.Inference.Runtime;

/// <summary>The outcome of comparing a fast executor with the canonical one on a set of inputs.</summary>
public sealed record FastPathReport(string Fast, int Cases, int Matched, string? FirstMismatch)
{
    public bool Agrees => Cases > 0 && Matched == Cases;

    public override string ToString() => Agrees
        ? $"{Fast}: {Matched}/{Cases} bit-identical"
        : $"{Fast}: {Matched}/{Cases} bit-identical; first mismatch: {FirstMismatch}";
}

/// <summary>
/// The start-up (and on-demand) self-check: the fast path is used for a model only if it reproduced
/// the canonical executor's output bytes on every case. One mismatch anywhere and the node uses the
/// canonical executor for that model, and says so.
/// </summary>
public static class FastPathCheck
{
    /// <summary>
    /// Why ONNX Runtime cannot be trusted for this model whatever a self-check finds, or null. QLinearAdd
    /// (com.microsoft): ORT's arithmetic depends on the CPU (FMA on AVX2, separate multiply and add on SSE2 and
    /// NEON) and on how its broadcaster splits the output into spans (A broadcast within a span re-associates
    /// the sum), so it differs from the canonical rule on rare near-tie elements that a few random inputs need
    /// not reach (docs/inference-semantics.md, "QLinearAdd").
    /// </summary>
    public static string? KnownDivergence(Onnx.OnnxModel model) =>
        KnownDivergence(model, System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture);

    /// <summary>
    /// <see cref="KnownDivergence(Onnx.OnnxModel)"/> for a given architecture. On arm64 QLinearMul is refused too: ONNX
    /// Runtime's arm64 kernel disagreed with the canonical rule on 2 of 1,200 random cases (12 of 629,379 elements, all
    /// with A broadcast per channel; measured under qemu, docs/determinism.md "arm64"), where x64 agreed on all.
    /// </summary>
    public static string? KnownDivergence(Onnx.OnnxModel model, System.Runtime.InteropServices.Architecture architecture)
    {
        foreach (var node in model.Graph.Nodes)
        {
            if (node.Domain != CanonicalExecutor.MicrosoftDomain) continue;
            if (node.OpType == "QLinearAdd")
                return $"node {node.DisplayName} is QLinearAdd, whose ONNX Runtime arithmetic depends on the CPU and the broadcast layout";
            if (node.OpType == "QLinearMul" && architecture == System.Runtime.InteropServices.Architecture.Arm64)
                return $"node {node.DisplayName} is QLinearMul, whose ONNX Runtime arm64 kernel differs from the canonical rule on some broadcast layouts";
        }
        return null;
    }

    public static FastPathReport Compare(IModelExecutor canonical, IModelExecutor fast, IEnumerable<IReadOnlyList<NamedTensor>> cases)
    {
        int total = 0, matched = 0;
        string? first = null;
        foreach (var inputs in cases)
        {
            total++;
            string? mismatch;
            try
            {
                mismatch = FirstDifference(canonical.Run(inputs), fast.Run(inputs));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                mismatch = $"{fast.Description} failed: {e.Message}";
            }
            if (mismatch is null) matched++;
            else first ??= $"case {total - 1}: {mismatch}";
        }
        return new FastPathReport(fast.Description, total, matched, first);
    }

    /// <summary>Null when both output lists are byte-identical (names, types, shapes, data); else what differs first.</summary>
    public static string? FirstDifference(IReadOnlyList<NamedTensor> expected, IReadOnlyList<NamedTensor> actual)
    {
        if (expected.Count != actual.Count) return $"{actual.Count} outputs, expected {expected.Count}";
        for (int i = 0; i < expected.Count; i++)
        {
            var e = expected[i].Value;
            var a = actual[i].Value;
            var name = expected[i].Name;
            if (e.ElementType != a.ElementType)
                return $"output '{name}' is {TensorElementTypes.Name(a.ElementType)}, expected {TensorElementTypes.Name(e.ElementType)}";
            if (!e.ShapeEquals(a.Shape)) return $"output '{name}' has shape {a.ShapeText}, expected {e.ShapeText}";
            var at = e.Data.CommonPrefixLength(a.Data);
            if (at != e.Data.Length)
            {
                var size = TensorElementTypes.SizeOf(e.ElementType);
                return $"output '{name}' differs first at element {at / size} (byte {at})";
            }
        }
        return null;
    }
}
