namespace Chain.Inference.Runtime;

/// <summary>
/// Runs one loaded model: named input tensors in, named output tensors out (in the graph's output order).
/// Implemented by the canonical executor (the consensus definition) and the ONNX Runtime fast path,
/// which must agree with it bit for bit.
/// </summary>
public interface IModelExecutor : IDisposable
{
    /// <summary>A short description for reports, e.g. "canonical (avx2)" or "ort level=all threads=1".</summary>
    string Description { get; }

    IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs);
}

public readonly record struct NamedTensor(string Name, Tensor Value);
