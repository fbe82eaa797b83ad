using Chain.Core;
using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Testing;

/// <summary>
/// An injected fast path: the canonical executor, except that on one rare input (matched by tensor hash) it flips
/// one byte of the first output. The self-check's generated inputs never hit that input, so the engine adopts it.
/// It counts its calls, so a test can show the fault really happened.
/// </summary>
public sealed class FlippingFastPath(byte[] modelBytes, Hash32 rareInput) : IModelExecutor
{
    private readonly CanonicalExecutor _inner = CanonicalExecutor.Load(modelBytes);
    private int _calls, _flips;

    public Hash32 ModelId => _inner.ModelId;
    public int Calls => Volatile.Read(ref _calls);
    /// <summary>Runs on the rare input, each of which returned a flipped output.</summary>
    public int Flips => Volatile.Read(ref _flips);
    public string Description => $"canonical, but wrong on input {rareInput}";

    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
    {
        Interlocked.Increment(ref _calls);
        var outputs = _inner.Run(inputs);
        if (inputs[0].Value.Hash != rareInput) return outputs;
        Interlocked.Increment(ref _flips);
        var first = outputs[0].Value;
        var data = first.Data.ToArray();
        data[0] ^= 0x01;
        return [new NamedTensor(outputs[0].Name, Tensor.Create(first.ElementType, first.Shape, data)), .. outputs.Skip(1)];
    }

    public void Dispose() => _inner.Dispose();
}
