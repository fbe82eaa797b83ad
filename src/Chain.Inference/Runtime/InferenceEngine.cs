using System.Collections.Concurrent;
using Chain.Core;

namespace Chain.Inference.Runtime;

/// <summary>Which executor serves a model, and why.</summary>
public sealed record ExecutorChoice(Hash32 ModelId, bool UsesFastPath, FastPathReport? Check, string Reason);

/// <summary>A known answer: the canonical output hash of one input, shipped with a genesis model.</summary>
public sealed record TestVector(IReadOnlyList<NamedTensor> Inputs, Hash32 ExpectedOutputHash);

/// <summary>
/// The node's inference service. Every model is loaded into the canonical executor (the definition);
/// the ONNX Runtime fast path is switched on for a model only after it reproduced the canonical bytes
/// on every self-check case (built-in adversarial inputs plus the model's known-answer vectors). A
/// failed check, a fast-path error, or a mismatch seen later all fall back to canonical for that model
/// and are counted, so operators see it in metrics. Results are always canonical bytes.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private sealed class LoadedModel(CanonicalExecutor canonical, IModelExecutor? fast, ExecutorChoice choice)
    {
        public CanonicalExecutor Canonical { get; } = canonical;
        public IModelExecutor? Fast { get; set; } = fast;
        public ExecutorChoice Choice { get; set; } = choice;
    }

    private readonly ConcurrentDictionary<Hash32, LoadedModel> _models = new();
    private readonly bool _enableFastPath;
    private readonly int _selfCheckSeeds;
    private readonly Func<byte[], IModelExecutor> _fastPathFactory;
    private long _fallbacks;

    /// <param name="enableFastPath">False forces the canonical executor everywhere (e.g. `--executor canonical`).</param>
    /// <param name="selfCheckSeeds">Random inputs per model in the self-check, besides the adversarial patterns.</param>
    /// <param name="fastPathFactory">Builds the fast executor for model bytes; ONNX Runtime with pinned settings by default.</param>
    public InferenceEngine(bool enableFastPath = true, int selfCheckSeeds = 4, Func<byte[], IModelExecutor>? fastPathFactory = null)
    {
        _enableFastPath = enableFastPath;
        _selfCheckSeeds = selfCheckSeeds;
        _fastPathFactory = fastPathFactory ?? (bytes => new OrtExecutor(bytes, OrtSettings.Pinned));
    }

    /// <summary>How many times a model fell back from the fast path to canonical (at load or at run time).</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    public IReadOnlyCollection<ExecutorChoice> Choices => _models.Values.Select(m => m.Choice).ToArray();

    /// <summary>
    /// Loads an admitted model (throws <see cref="ModelRefusedException"/> otherwise), checks its
    /// known-answer vectors under the canonical executor, and decides on the fast path.
    /// </summary>
    public ExecutorChoice Load(byte[] modelBytes, IReadOnlyList<TestVector>? vectors = null)
    {
        var canonical = CanonicalExecutor.Load(modelBytes);
        if (_models.TryGetValue(canonical.ModelId, out var existing)) return existing.Choice;
        foreach (var (vector, i) in (vectors ?? []).Select((v, i) => (v, i)))
        {
            var hash = canonical.Run(vector.Inputs)[0].Value.Hash;
            if (hash != vector.ExpectedOutputHash)
                throw new InvalidOperationException(
                    $"canonical executor gives {hash} for test vector {i} of model {canonical.ModelId}, expected {vector.ExpectedOutputHash}: this build or machine does not implement the canonical semantics");
        }
        var loaded = new LoadedModel(canonical, null, new ExecutorChoice(canonical.ModelId, false, null, "fast path disabled"));
        if (_enableFastPath) Decide(loaded, modelBytes, vectors);
        _models[canonical.ModelId] = loaded;
        return loaded.Choice;
    }

    /// <summary>Re-runs the self-check for every loaded model (on demand, e.g. from the RPC or CLI).</summary>
    public IReadOnlyList<ExecutorChoice> SelfCheck()
    {
        foreach (var model in _models.Values)
        {
            if (model.Fast is null) continue;
            var report = FastPathCheck.Compare(model.Canonical, model.Fast, Cases(model.Canonical, null));
            if (!report.Agrees) FallBack(model, report, "self-check mismatch");
            else model.Choice = model.Choice with { Check = report };
        }
        return Choices.ToArray();
    }

    public CanonicalExecutor Canonical(Hash32 modelId) => Get(modelId).Canonical;

    public bool IsLoaded(Hash32 modelId) => _models.ContainsKey(modelId);

    /// <summary>
    /// Runs a model. With the fast path on, the fast result is used as is (the self-check proved it
    /// equal); pass <paramref name="verify"/> to also run canonical and fall back on any difference.
    /// </summary>
    public IReadOnlyList<NamedTensor> Run(Hash32 modelId, IReadOnlyList<NamedTensor> inputs, bool verify = false)
    {
        var model = Get(modelId);
        var fast = model.Fast;
        if (fast is null) return model.Canonical.Run(inputs);
        IReadOnlyList<NamedTensor> result;
        try
        {
            result = fast.Run(inputs);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            FallBack(model, null, $"fast path failed: {e.Message}");
            return model.Canonical.Run(inputs);
        }
        if (!verify) return result;
        var expected = model.Canonical.Run(inputs);
        if (FastPathCheck.FirstDifference(expected, result) is { } difference)
        {
            FallBack(model, null, $"fast path differed at run time: {difference}");
        }
        return expected;
    }

    private LoadedModel Get(Hash32 modelId) =>
        _models.TryGetValue(modelId, out var model) ? model : throw new KeyNotFoundException($"model {modelId} is not loaded");

    private void Decide(LoadedModel model, byte[] modelBytes, IReadOnlyList<TestVector>? vectors)
    {
        IModelExecutor fast;
        try
        {
            fast = _fastPathFactory(modelBytes);
        }
        catch (InvalidOperationException e)
        {
            Interlocked.Increment(ref _fallbacks);
            model.Choice = new ExecutorChoice(model.Canonical.ModelId, false, null, $"ONNX Runtime cannot load the model: {e.Message}");
            return;
        }
        var report = FastPathCheck.Compare(model.Canonical, fast, Cases(model.Canonical, vectors));
        if (report.Agrees)
        {
            model.Fast = fast;
            model.Choice = new ExecutorChoice(model.Canonical.ModelId, true, report, "fast path reproduced canonical bytes");
        }
        else
        {
            fast.Dispose();
            Interlocked.Increment(ref _fallbacks);
            model.Choice = new ExecutorChoice(model.Canonical.ModelId, false, report, "fast path disagreed with canonical");
        }
    }

    private void FallBack(LoadedModel model, FastPathReport? report, string reason)
    {
        var fast = model.Fast;
        model.Fast = null;
        model.Choice = new ExecutorChoice(model.Canonical.ModelId, false, report ?? model.Choice.Check, reason);
        Interlocked.Increment(ref _fallbacks);
        fast?.Dispose();
    }

    private IEnumerable<IReadOnlyList<NamedTensor>> Cases(CanonicalExecutor canonical, IReadOnlyList<TestVector>? vectors)
    {
        foreach (var v in vectors ?? []) yield return v.Inputs;
        foreach (var pattern in Enum.GetValues<InputPattern>())
        {
            int repeats = pattern is InputPattern.Random or InputPattern.RandomExtremes ? _selfCheckSeeds : 1;
            for (int seed = 0; seed < repeats; seed++) yield return InputGenerator.Create(canonical.Inputs, pattern, seed);
        }
    }

    public void Dispose()
    {
        foreach (var model in _models.Values) model.Fast?.Dispose();
        _models.Clear();
    }
}
