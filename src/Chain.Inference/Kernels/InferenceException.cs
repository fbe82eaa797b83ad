namespace Chain.Inference.Kernels;

/// <summary>
/// A kernel refused its inputs (shape, type or attribute mismatch, or a value outside the canonical
/// semantics). Deterministic: every validator refuses the same inputs with the same message.
/// </summary>
public sealed class InferenceException : Exception
{
    public InferenceException(string message) : base(message) { }

    public InferenceException(string op, string message) : base($"{op}: {message}") { }
}
