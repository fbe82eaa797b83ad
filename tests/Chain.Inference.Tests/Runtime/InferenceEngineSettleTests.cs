using Chain.Core;
using Chain.Inference.Runtime;
using Chain.Inference.Tests.Onnx;

namespace Chain.Inference.Tests.Runtime;

/// <summary>The engine's modes and <see cref="InferenceEngine.Settle"/>: how a disputed fast-path result is decided.</summary>
public class InferenceEngineSettleTests
{
    private static readonly byte[] ModelBytes = Models.MatMulInteger(8, 4, 3).ToBytes();
    private static readonly IReadOnlyList<NamedTensor> Rare = [new("x", Tensor.Create<byte>(TensorElementType.UInt8, [1, 8], [7, 1, 200, 3, 99, 42, 0, 5]))];
    private static readonly IReadOnlyList<NamedTensor> Ordinary = [new("x", Tensor.Create<byte>(TensorElementType.UInt8, [1, 8], [1, 2, 3, 4, 5, 6, 7, 8]))];

    /// <summary>Canonical, but one output byte flipped on the rare input; counts calls and records disposal.</summary>
    private sealed class WrongOnRare(byte[] model) : IModelExecutor
    {
        private readonly CanonicalExecutor _inner = CanonicalExecutor.Load(model);
        public int Calls { get; private set; }
        public bool Disposed { get; private set; }
        public string Description => "wrong on the rare input";

        public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
        {
            Calls++;
            var outputs = _inner.Run(inputs);
            if (inputs[0].Value.Hash != Rare[0].Value.Hash) return outputs;
            var data = outputs[0].Value.Data.ToArray();
            data[0] ^= 1;
            return [new NamedTensor(outputs[0].Name, Tensor.Create(outputs[0].Value.ElementType, outputs[0].Value.Shape, data))];
        }

        public void Dispose() => Disposed = true;
    }

    private static (InferenceEngine Engine, WrongOnRare Fast, Hash32 ModelId) Setup()
    {
        WrongOnRare? fast = null;
        var engine = new InferenceEngine(fastPathFactory: bytes => fast = new WrongOnRare(bytes));
        var choice = engine.Load(ModelBytes);
        Assert.True(choice.UsesFastPath, choice.Reason); // the self-check never meets the rare input
        return (engine, fast!, choice.ModelId);
    }

    [Fact]
    public void Canonical_only_never_asks_the_fast_path_and_fast_path_results_say_so()
    {
        var (engine, fast, id) = Setup();
        using var _ = engine;
        int calls = fast.Calls;
        var canonical = engine.Execute(id, Rare, InferenceMode.CanonicalOnly);
        Assert.False(canonical.FastPath);
        Assert.Equal(calls, fast.Calls);
        var quick = engine.Execute(id, Rare, InferenceMode.FastPath);
        Assert.True(quick.FastPath);
        Assert.Equal(calls + 1, fast.Calls);
        Assert.NotNull(FastPathCheck.FirstDifference(canonical.Outputs, quick.Outputs)); // unchecked: the wrong bytes get through
        Assert.Equal(0, engine.Fallbacks);
    }

    [Fact]
    public void Settling_an_agreeing_result_keeps_the_fast_path()
    {
        var (engine, _, id) = Setup();
        using var __ = engine;
        var quick = engine.Execute(id, Ordinary, InferenceMode.FastPath);
        var settled = engine.Settle(id, Ordinary, quick.Outputs);
        Assert.Null(FastPathCheck.FirstDifference(engine.Canonical(id).Run(Ordinary), settled));
        Assert.Equal(0, engine.Fallbacks);
        Assert.True(engine.Choices.Single().UsesFastPath);
    }

    [Fact]
    public void Settling_a_wrong_result_returns_canonical_and_falls_back_once_with_the_input_on_record()
    {
        var (engine, fast, id) = Setup();
        var fellBack = new List<ExecutorChoice>();
        engine.FellBack += fellBack.Add;
        var quick = engine.Execute(id, Rare, InferenceMode.FastPath);
        var settled = engine.Settle(id, Rare, quick.Outputs);
        Assert.Null(FastPathCheck.FirstDifference(engine.Canonical(id).Run(Rare), settled));
        Assert.Equal(1, engine.Fallbacks);
        var choice = engine.Choices.Single();
        Assert.False(choice.UsesFastPath);
        Assert.Contains($"fast path differed from canonical on input {Rare[0].Value.Hash}: output 'y' differs first at element 0", choice.Reason);

        // The same dispute again (e.g. a cached copy) is not a second fallback, and the first cause stays.
        Assert.Null(FastPathCheck.FirstDifference(settled, engine.Settle(id, Rare, quick.Outputs)));
        Assert.Equal(1, engine.Fallbacks);
        Assert.Equal(choice.Reason, engine.Choices.Single().Reason);
        Assert.Equal(choice, Assert.Single(fellBack));
        // Off the fast path now: every mode runs canonical.
        int calls = fast.Calls;
        Assert.False(engine.Execute(id, Rare, InferenceMode.FastPath).FastPath);
        Assert.Equal(calls, fast.Calls);

        // Another thread could still be inside the executor taken off, so it is disposed with the engine, not before.
        Assert.False(fast.Disposed);
        engine.Dispose();
        Assert.True(fast.Disposed);
    }
}
