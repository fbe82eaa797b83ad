using Chain.Inference.Conformance;
using Chain.Inference.Runtime;

namespace Chain.Inference.Tests.Runtime;

public class InferenceEngineTests
{
    private static byte[] MatMulIntegerModel()
    {
        var dir = ConformanceRunner.Locate() ?? throw new InvalidOperationException("ONNX conformance cases not found (../shared/onnx-conformance or $ONNX_CONFORMANCE_DIR)");
        return File.ReadAllBytes(Path.Combine(dir, "test_matmulinteger", "model.onnx"));
    }

    /// <summary>A fast path that flips one output bit when the first input byte is odd: wrong only sometimes.</summary>
    private sealed class SometimesWrong(IModelExecutor inner) : IModelExecutor
    {
        public string Description => "sometimes-wrong";

        public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
        {
            var outputs = inner.Run(inputs);
            if ((inputs[0].Value.Data[0] & 1) == 0) return outputs;
            var first = outputs[0].Value;
            var data = first.Data.ToArray();
            data[^1] ^= 1;
            return [new NamedTensor(outputs[0].Name, Tensor.Create(first.ElementType, first.Shape, data)), .. outputs.Skip(1)];
        }

        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void Ort_fast_path_is_chosen_when_it_reproduces_canonical_bytes()
    {
        using var engine = new InferenceEngine();
        var choice = engine.Load(MatMulIntegerModel());
        Assert.True(choice.UsesFastPath, choice.Reason + " " + choice.Check);
        Assert.True(choice.Check!.Agrees);
        var inputs = InputGenerator.Create(engine.Canonical(choice.ModelId).Inputs, InputPattern.Random, 99);
        var fast = engine.Run(choice.ModelId, inputs, verify: true);
        Assert.Null(FastPathCheck.FirstDifference(engine.Canonical(choice.ModelId).Run(inputs), fast));
        Assert.Equal(0, engine.Fallbacks);
    }

    [Fact]
    public void A_fast_path_that_disagrees_once_is_never_used()
    {
        using var engine = new InferenceEngine(fastPathFactory: bytes => new SometimesWrong(new OrtExecutor(bytes, OrtSettings.Pinned)));
        var choice = engine.Load(MatMulIntegerModel());
        Assert.False(choice.UsesFastPath);
        Assert.False(choice.Check!.Agrees);
        Assert.Contains("differs first", choice.Check.FirstMismatch);
        Assert.Equal(1, engine.Fallbacks);
    }

    [Fact]
    public void A_run_time_mismatch_falls_back_and_returns_canonical_bytes()
    {
        // Self-check passes (its inputs happen to be even-first), then a verified run exposes the difference.
        bool corrupt = false;
        using var engine = new InferenceEngine(fastPathFactory: bytes => new Toggle(new OrtExecutor(bytes, OrtSettings.Pinned), () => corrupt));
        var choice = engine.Load(MatMulIntegerModel());
        Assert.True(choice.UsesFastPath);
        corrupt = true;
        var inputs = InputGenerator.Create(engine.Canonical(choice.ModelId).Inputs, InputPattern.Random, 5);
        var result = engine.Run(choice.ModelId, inputs, verify: true);
        Assert.Null(FastPathCheck.FirstDifference(engine.Canonical(choice.ModelId).Run(inputs), result));
        Assert.Equal(1, engine.Fallbacks);
        Assert.False(engine.Choices.Single().UsesFastPath);
    }

    [Fact]
    public void A_wrong_known_answer_refuses_to_load()
    {
        using var engine = new InferenceEngine();
        var bytes = MatMulIntegerModel();
        var canonical = CanonicalExecutor.Load(bytes);
        var inputs = InputGenerator.Create(canonical.Inputs, InputPattern.AllMax, 0);
        var good = canonical.Run(inputs)[0].Value.Hash;
        var ex = Assert.Throws<InvalidOperationException>(() => engine.Load(bytes, [new TestVector(inputs, default)]));
        Assert.Contains("does not implement the canonical semantics", ex.Message);
        Assert.True(engine.Load(bytes, [new TestVector(inputs, good)]).UsesFastPath);
    }

    private sealed class Toggle(IModelExecutor inner, Func<bool> corrupt) : IModelExecutor
    {
        public string Description => "toggle";

        public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
        {
            var outputs = inner.Run(inputs);
            if (!corrupt()) return outputs;
            var first = outputs[0].Value;
            var data = first.Data.ToArray();
            data[0] ^= 0x80;
            return [new NamedTensor(outputs[0].Name, Tensor.Create(first.ElementType, first.Shape, data))];
        }

        public void Dispose() => inner.Dispose();
    }
}
