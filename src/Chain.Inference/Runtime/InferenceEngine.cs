using System.Collections.Concurrent;
using Chain.Core;
using Chain.Inference.Kernels;

namespace Chain.Inference.Runtime;

/// <summary>Which executor serves a model, and why.</summary>
public sealed record ExecutorChoice(Hash32 ModelId, bool UsesFastPath, FastPathReport? Check, string Reason);

/// <summary>Which executors one run may use.</summary>
public enum InferenceMode
{
    /// <summary>The fast path where the model has one (it passed its self-check), unchecked; else canonical.</summary>
    FastPath,

    /// <summary>The fast path and canonical both; canonical bytes returned, and a difference falls back.</summary>
    Verified,

    /// <summary>The canonical executor alone: how disagreements are settled and evidence is checked.</summary>
    CanonicalOnly,
}

/// <summary>
/// A run's outputs. <paramref name="FastPath"/>: they are the fast path's, trusted from the model's self-check
/// but not compared on this input; otherwise they are canonical bytes (computed or confirmed by canonical).
/// </summary>
public sealed record InferenceOutputs(IReadOnlyList<NamedTensor> Outputs, bool FastPath);

/// <summary>A known answer: the canonical output hash of one input, shipped with a genesis model.</summary>
public sealed record TestVector(IReadOnlyList<NamedTensor> Inputs, Hash32 ExpectedOutputHash);

/// <summary>
/// The node's inference service. Every model is loaded into the canonical executor (the definition);
/// the ONNX Runtime fast path is switched on for a model only after it reproduced the canonical bytes
/// on every self-check case (built-in adversarial inputs plus the model's known-answer vectors). A
/// failed check, a fast-path error, or a mismatch seen later (a verified run, or <see cref="Settle"/> when
/// a block disagreed) all fall back to canonical for that model and are counted, so operators see it in
/// metrics. Fast-path results are canonical bytes as far as the self-check can tell; whenever it matters
/// (a disagreement, evidence) the canonical executor decides (docs/determinism.md).
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private sealed class LoadedModel(CanonicalExecutor canonical, ExecutorChoice choice)
    {
        private IModelExecutor? _fast;

        public CanonicalExecutor Canonical { get; } = canonical;
        public IModelExecutor? Fast => Volatile.Read(ref _fast);
        public ExecutorChoice Choice { get; set; } = choice;

        public void UseFast(IModelExecutor fast) => Volatile.Write(ref _fast, fast);

        /// <summary>Takes the fast path away; the executor it had, or null when another thread took it first.</summary>
        public IModelExecutor? TakeFast() => Interlocked.Exchange(ref _fast, null);
    }

    private readonly ConcurrentDictionary<Hash32, LoadedModel> _models = new();
    // Fast executors taken off at run time: another thread may still be inside one, so they are disposed with the engine.
    private readonly List<IModelExecutor> _retired = [];
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

    private long _modelHits, _modelMisses, _modelBytes;

    /// <summary>
    /// The model cache (this engine's loaded models: parsed, admitted and planned, with their self-checked fast executor):
    /// <see cref="EnsureLoaded"/> calls that found the model loaded, and those that loaded it (parse, admission, planning,
    /// self-check). Models stay loaded for the engine's life (no eviction yet: a block may settle a fast-path result on
    /// a model after running it, so an evicted model would have to be reloadable from every caller).
    /// </summary>
    public long ModelCacheHits => Interlocked.Read(ref _modelHits);

    public long ModelCacheMisses => Interlocked.Read(ref _modelMisses);

    /// <summary>ONNX bytes of the loaded models: the size the cache's memory grows with (weights held by canonical, and by ORT when on the fast path).</summary>
    public long ModelCacheBytes => Interlocked.Read(ref _modelBytes);

    public int LoadedModels => _models.Count;

    /// <summary>Loads <paramref name="modelId"/> from <paramref name="modelBytes"/> unless it is loaded already; counts a cache hit or miss.</summary>
    public ExecutorChoice EnsureLoaded(Hash32 modelId, Func<byte[]> modelBytes)
    {
        ArgumentNullException.ThrowIfNull(modelBytes);
        if (_models.TryGetValue(modelId, out var loaded))
        {
            Interlocked.Increment(ref _modelHits);
            return loaded.Choice;
        }
        Interlocked.Increment(ref _modelMisses);
        return Load(modelBytes());
    }

    /// <summary>How many times a model fell back from the fast path to canonical (at load or at run time).</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    public IReadOnlyCollection<ExecutorChoice> Choices => _models.Values.Select(m => m.Choice).ToArray();

    /// <summary>
    /// Raised once each time a model leaves the fast path at run time (a self-check, verified run or settled
    /// result found a difference, or the fast path failed), with its new choice and the cause. Raised on the
    /// thread that saw it: handlers must be quick and thread-safe.
    /// </summary>
    public event Action<ExecutorChoice>? FellBack;

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
        var loaded = new LoadedModel(canonical, new ExecutorChoice(canonical.ModelId, false, null, "fast path disabled"));
        if (_enableFastPath) Decide(loaded, modelBytes, vectors);
        if (_models.TryAdd(canonical.ModelId, loaded))
        {
            Interlocked.Add(ref _modelBytes, modelBytes.Length);
            return loaded.Choice;
        }
        loaded.TakeFast()?.Dispose(); // another thread loaded it meanwhile: keep one executor per model
        return _models[canonical.ModelId].Choice;
    }

    /// <summary>Re-runs the self-check for every loaded model (on demand, e.g. from the RPC or CLI).</summary>
    public IReadOnlyList<ExecutorChoice> SelfCheck()
    {
        foreach (var model in _models.Values)
        {
            if (model.Fast is not { } fast) continue;
            var report = FastPathCheck.Compare(model.Canonical, fast, Cases(model.Canonical, null));
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
    public IReadOnlyList<NamedTensor> Run(Hash32 modelId, IReadOnlyList<NamedTensor> inputs, bool verify = false) =>
        Execute(modelId, inputs, verify ? InferenceMode.Verified : InferenceMode.FastPath).Outputs;

    /// <summary>Runs a model in <paramref name="mode"/>, saying whether the outputs are the fast path's unchecked ones.</summary>
    public InferenceOutputs Execute(Hash32 modelId, IReadOnlyList<NamedTensor> inputs, InferenceMode mode)
    {
        var model = Get(modelId);
        var fast = mode == InferenceMode.CanonicalOnly ? null : model.Fast;
        if (fast is null) return new(model.Canonical.Run(inputs), FastPath: false);
        IReadOnlyList<NamedTensor> result;
        try
        {
            result = fast.Run(inputs);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            FallBack(model, null, $"fast path failed: {e.Message}");
            return new(model.Canonical.Run(inputs), FastPath: false);
        }
        switch (mode)
        {
            case InferenceMode.FastPath:
                return new(result, FastPath: true);
            case InferenceMode.Verified:
            {
                var expected = model.Canonical.Run(inputs);
                if (FastPathCheck.FirstDifference(expected, result) is { } difference)
                    FallBack(model, null, $"fast path differed at run time: {difference}");
                return new(expected, FastPath: false);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "not a fast-path mode");
        }
    }

    /// <summary>
    /// Decides a result the fast path gave earlier for <paramref name="inputs"/> by the canonical executor
    /// alone, and returns the canonical outputs. <paramref name="fastOutputs"/> are the fast path's outputs
    /// (those the caller kept, matched by name); if any differs, the model falls back to canonical with the
    /// difference as the reason. A canonical kernel error is rethrown, after falling back (the fast path gave
    /// outputs where the semantics define an error).
    /// </summary>
    public IReadOnlyList<NamedTensor> Settle(Hash32 modelId, IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> fastOutputs)
    {
        var model = Get(modelId);
        string input = inputs.Count == 1 ? inputs[0].Value.Hash.ToString() : $"{inputs.Count} tensors";
        IReadOnlyList<NamedTensor> expected;
        try
        {
            expected = model.Canonical.Run(inputs);
        }
        catch (InferenceException e)
        {
            FallBack(model, null, $"fast path gave outputs on input {input} where the canonical executor fails: {e.Message}");
            throw;
        }
        foreach (var claimed in fastOutputs)
        {
            int i = 0;
            while (i < expected.Count && expected[i].Name != claimed.Name) i++;
            string? difference = i == expected.Count
                ? $"output '{claimed.Name}' is not an output of the model"
                : FastPathCheck.FirstDifference([expected[i]], [claimed]);
            if (difference is null) continue;
            FallBack(model, null, $"fast path differed from canonical on input {input}: {difference}");
            break;
        }
        return expected;
    }

    private LoadedModel Get(Hash32 modelId) =>
        _models.TryGetValue(modelId, out var model) ? model : throw new KeyNotFoundException($"model {modelId} is not loaded");

    private void Decide(LoadedModel model, byte[] modelBytes, IReadOnlyList<TestVector>? vectors)
    {
        if (FastPathCheck.KnownDivergence(model.Canonical.Model) is { } divergence)
        {
            Interlocked.Increment(ref _fallbacks);
            model.Choice = new ExecutorChoice(model.Canonical.ModelId, false, null, $"ONNX Runtime is not bit-exact for this model: {divergence}");
            return;
        }
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
            model.UseFast(fast);
            model.Choice = new ExecutorChoice(model.Canonical.ModelId, true, report, "fast path reproduced canonical bytes");
        }
        else
        {
            fast.Dispose();
            Interlocked.Increment(ref _fallbacks);
            model.Choice = new ExecutorChoice(model.Canonical.ModelId, false, report, "fast path disagreed with canonical");
        }
    }

    // Takes the model off the fast path, once: a concurrent caller finds it gone and the first cause stays on record.
    private void FallBack(LoadedModel model, FastPathReport? report, string reason)
    {
        var fast = model.TakeFast();
        if (fast is null) return;
        var choice = model.Choice = new ExecutorChoice(model.Canonical.ModelId, false, report ?? model.Choice.Check, reason);
        Interlocked.Increment(ref _fallbacks);
        lock (_retired) _retired.Add(fast);
        FellBack?.Invoke(choice);
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
        foreach (var model in _models.Values) model.TakeFast()?.Dispose();
        _models.Clear();
        lock (_retired)
        {
            foreach (var fast in _retired) fast.Dispose();
            _retired.Clear();
        }
    }
}
