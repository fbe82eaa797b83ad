using Chain.Core;
using Chain.Core.Protocol;
using Chain.Light.Sync;

namespace Chain.Cli.Commands;

/// <summary>
/// Re-runs a committed inference here with the canonical executor (`chain query receipt --rerun`, `chain light receipt
/// --rerun`): the model's bytes (proven by the caller) on the transaction's input; the first output's hash is what the
/// receipt must carry. The light client gets it through <see cref="IInferenceRerunner"/>, so Chain.Light stays free of
/// the executor.
/// </summary>
internal sealed class CanonicalRerunner : IInferenceRerunner
{
    public Hash32 OutputHash(ReadOnlyMemory<byte> modelCode, InferBody inference) => Run(modelCode.Span, inference).Output.Hash;

    /// <summary>The first output, with its name.</summary>
    public static (string Name, Inference.Tensor Output) Run(ReadOnlySpan<byte> modelCode, InferBody inference)
    {
        var executor = Inference.Runtime.CanonicalExecutor.Load(modelCode);
        var input = Core.Codec.Canonical.Decode<Inference.Tensor>(inference.Input);
        var outputs = executor.Run([new Inference.Runtime.NamedTensor(executor.Inputs[0].Name, input)]);
        var name = executor.OutputNames[0];
        return (name, outputs.First(o => o.Name == name).Value);
    }
}
