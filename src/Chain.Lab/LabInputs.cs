using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Lab;

/// <summary>One generated input: which pattern family it belongs to and its position in that family.</summary>
public sealed record LabInput(InputPattern Pattern, int Index, IReadOnlyList<NamedTensor> Tensors)
{
    public string Label => $"{Pattern}#{Index}";
}

/// <summary>
/// The lab's input set: N inputs for every <see cref="InputPattern"/>, in a fixed order. The worker child
/// process rebuilds it from (specs, N, seed), so parent and child must derive it the same way: here.
/// </summary>
public static class LabInputs
{
    public static IReadOnlyList<LabInput> Create(IReadOnlyList<TensorSpec> specs, int perPattern, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perPattern, 1);
        var result = new List<LabInput>();
        foreach (var pattern in Enum.GetValues<InputPattern>())
        {
            for (int i = 0; i < perPattern; i++)
            {
                // Distinct seeds per family and index; the fixed-pattern families ignore them but are still
                // repeated N times, which catches run-to-run variation (threads) on identical inputs.
                var inputSeed = unchecked(seed * 1_000_003 + (int)pattern * 10_007 + i);
                result.Add(new LabInput(pattern, i, InputGenerator.Create(specs, pattern, inputSeed)));
            }
        }
        return result;
    }

    /// <summary>A compact identity of a run's outputs: the tensor hashes (type, shape and bytes) of every output.</summary>
    public static string OutputHash(IReadOnlyList<NamedTensor> outputs) =>
        string.Join("+", outputs.Select(o => o.Value.Hash.ToString()));
}
