using Chain.Core;
using Chain.Core.Hashing;
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
    internal sealed class LoadedModel(CanonicalExecutor canonical, ExecutorChoice choice, long onnxBytes)
    {
        private IModelExecutor? _fast;

        public CanonicalExecutor Canonical { get; } = canonical;
        public long OnnxBytes { get; } = onnxBytes;
        public IModelExecutor? Fast => Volatile.Read(ref _fast);
        public ExecutorChoice Choice { get; set; } = choice;

        public void UseFast(IModelExecutor fast) => Volatile.Write(ref _fast, fast);

        /// <summary>Takes the fast path away; the executor it had, or null when another thread took it first.</summary>
        public IModelExecutor? TakeFast() => Interlocked.Exchange(ref _fast, null);
    }

    /// <summary>The default <see cref="ModelCacheBudgetBytes"/> (the node's <c>inference.model_cache_bytes</c> default).</summary>
    public const long DefaultModelCacheBytes = 512L << 20;

    private readonly ModelCache<LoadedModel> _models;
    // Fast executors taken off at run time: another thread may still be inside one, so they are disposed with the engine.
    private readonly List<IModelExecutor> _retired = [];
    private readonly bool _enableFastPath;
    private readonly int _selfCheckSeeds;
    private readonly Func<byte[], IModelExecutor> _fastPathFactory;
    private readonly MemoryReclaimer? _reclaimer;
    private long _fallbacks;

    /// <param name="enableFastPath">False forces the canonical executor everywhere (e.g. `--executor canonical`).</param>
    /// <param name="selfCheckSeeds">Random inputs per model in the self-check, besides the adversarial patterns.</param>
    /// <param name="fastPathFactory">Builds the fast executor for model bytes; ONNX Runtime with pinned settings by default.</param>
    /// <param name="modelCacheBytes">The model cache's memory budget (<see cref="ModelCacheBytes"/> counts against it).</param>
    /// <param name="reclaimer">Asked for a background collection after a model is loaded (its transient copies are garbage) or evicted (the node passes <see cref="MemoryReclaimer.Shared"/>).</param>
    public InferenceEngine(bool enableFastPath = true, int selfCheckSeeds = 4, Func<byte[], IModelExecutor>? fastPathFactory = null,
        long modelCacheBytes = DefaultModelCacheBytes, MemoryReclaimer? reclaimer = null)
    {
        _reclaimer = reclaimer;
        _enableFastPath = enableFastPath;
        _selfCheckSeeds = selfCheckSeeds;
        _fastPathFactory = fastPathFactory ?? (bytes => new OrtExecutor(bytes, OrtSettings.Pinned));
        _models = new ModelCache<LoadedModel>(modelCacheBytes, Unload);
    }

    private long _modelHits, _modelMisses;

    /// <summary>
    /// The model cache (this engine's loaded models: parsed, admitted and planned, with their self-checked fast executor),
    /// kept under <see cref="ModelCacheBudgetBytes"/> by evicting the least recently used model that no caller is using
    /// (see <see cref="ModelCache{TModel}"/>). <see cref="Lease"/> and <see cref="EnsureLoaded"/> calls that found the
    /// model loaded, and those that loaded it (parse, admission, planning, self-check); an evicted model is loaded again
    /// from the bytes its next caller supplies.
    /// </summary>
    public long ModelCacheHits => Interlocked.Read(ref _modelHits);

    public long ModelCacheMisses => Interlocked.Read(ref _modelMisses);

    public long ModelCacheEvictions => _models.Evictions;

    public long ModelCacheBudgetBytes => _models.BudgetBytes;

    /// <summary>Bytes charged for the loaded models (<see cref="ChargedBytes"/>).</summary>
    public long ModelCacheBytes => _models.Bytes;

    /// <summary>
    /// What the cache charges for a loaded model of <paramref name="onnxBytes"/>: 3× for the canonical executor, which holds
    /// the weights and their packed copies for the GEMM kernels (measured: +70 MiB of managed heap for a 30.0 MB CNN after
    /// its first run, 2.4×; `chain bench models`), and 1× more for an ORT session, which holds its own copy. Planned
    /// arenas are not charged: they are capped process-wide (<see cref="CanonicalExecutor.MaxRetainedArenaBytes"/>).
    /// </summary>
    public static long ChargedBytes(long onnxBytes, bool fastPath) => onnxBytes * (fastPath ? 4 : 3);

    public int LoadedModels => _models.Count;

    /// <summary>Loads <paramref name="modelId"/> from <paramref name="modelBytes"/> unless it is loaded already; counts a cache hit or miss.</summary>
    public ExecutorChoice EnsureLoaded(Hash32 modelId, Func<byte[]> modelBytes)
    {
        using var lease = Lease(modelId, modelBytes);
        return lease.Choice;
    }

    /// <summary>
    /// The model <paramref name="modelId"/>, loaded from <paramref name="modelBytes"/> unless the cache holds it (a hit
    /// or a miss is counted), and pinned until the lease is disposed: eviction never takes a model someone is using.
    /// A <see cref="ModelRefusedException"/> if the bytes are not an admitted model, an <see cref="InvalidOperationException"/>
    /// if they are not the model <paramref name="modelId"/>.
    /// </summary>
    public ModelLease Lease(Hash32 modelId, Func<byte[]> modelBytes)
    {
        ArgumentNullException.ThrowIfNull(modelBytes);
        if (_models.Acquire(modelId) is { } held)
        {
            Interlocked.Increment(ref _modelHits);
            return new ModelLease(this, held);
        }
        Interlocked.Increment(ref _modelMisses);
        var loaded = Prepare(modelBytes(), null);
        if (loaded.Canonical.ModelId != modelId)
        {
            Unload(loaded);
            throw new InvalidOperationException($"the bytes supplied for model {modelId} are model {loaded.Canonical.ModelId}");
        }
        return new ModelLease(this, Keep(loaded, pin: true));
    }

    /// <summary>How many times a model fell back from the fast path to canonical (at load or at run time).</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    public IReadOnlyCollection<ExecutorChoice> Choices => _models.Snapshot().Select(m => m.Choice).ToArray();

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
        ArgumentNullException.ThrowIfNull(modelBytes);
        var id = DomainHash.Compute(HashDomain.Model, modelBytes);
        if (_models.Acquire(id) is { } held)
        {
            _models.Release(id);
            return held.Choice;
        }
        return Keep(Prepare(modelBytes, vectors), pin: false).Choice;
    }

    // Parses, admits and plans the model, checks its vectors, and decides on the fast path; not yet in the cache.
    private LoadedModel Prepare(byte[] modelBytes, IReadOnlyList<TestVector>? vectors)
    {
        var canonical = CanonicalExecutor.Load(modelBytes);
        try
        {
            foreach (var (vector, i) in (vectors ?? []).Select((v, i) => (v, i)))
            {
                var hash = canonical.Run(vector.Inputs)[0].Value.Hash;
                if (hash != vector.ExpectedOutputHash)
                    throw new InvalidOperationException(
                        $"canonical executor gives {hash} for test vector {i} of model {canonical.ModelId}, expected {vector.ExpectedOutputHash}: this build or machine does not implement the canonical semantics");
            }
        }
        catch
        {
            canonical.Dispose();
            throw;
        }
        var loaded = new LoadedModel(canonical, new ExecutorChoice(canonical.ModelId, false, null, "fast path disabled"), modelBytes.Length);
        if (_enableFastPath) Decide(loaded, modelBytes, vectors);
        return loaded;
    }

    // Puts a prepared model in the cache; when another thread loaded it meanwhile, keeps that one (one executor per model).
    private LoadedModel Keep(LoadedModel loaded, bool pin)
    {
        long charged = ChargedBytes(loaded.OnnxBytes, loaded.Fast is not null);
        var kept = _models.Add(loaded.Canonical.ModelId, loaded, charged, pin, out bool added);
        if (!added) Unload(loaded);
        _reclaimer?.Request(); // the load's copies (assembled bytes, parsed graph) are garbage now
        return kept;
    }

    // An evicted (or duplicate) model: nobody is inside it (pinned models are not evicted), so its memory goes now.
    private void Unload(LoadedModel model)
    {
        model.TakeFast()?.Dispose();
        model.Canonical.Dispose();
        _reclaimer?.Request();
    }

    /// <summary>Re-runs the self-check for every loaded model (on demand, e.g. from the RPC or CLI).</summary>
    public IReadOnlyList<ExecutorChoice> SelfCheck()
    {
        foreach (var id in _models.Snapshot().Select(m => m.Canonical.ModelId))
        {
            if (_models.Acquire(id) is not { } model) continue; // evicted meanwhile
            try
            {
                if (model.Fast is not { } fast) continue;
                var report = FastPathCheck.Compare(model.Canonical, fast, Cases(model.Canonical, null));
                if (!report.Agrees) FallBack(model, report, "self-check mismatch");
                else model.Choice = model.Choice with { Check = report };
            }
            finally
            {
                _models.Release(id);
            }
        }
        return Choices.ToArray();
    }

    /// <summary>The canonical executor of a loaded model (it stays usable after an eviction; its arenas are released).</summary>
    public CanonicalExecutor Canonical(Hash32 modelId)
    {
        using var lease = Pinned(modelId);
        return lease.Canonical;
    }

    public bool IsLoaded(Hash32 modelId) => _models.Contains(modelId);

    /// <summary>
    /// Runs a model. With the fast path on, the fast result is used as is (the self-check proved it
    /// equal); pass <paramref name="verify"/> to also run canonical and fall back on any difference.
    /// </summary>
    public IReadOnlyList<NamedTensor> Run(Hash32 modelId, IReadOnlyList<NamedTensor> inputs, bool verify = false) =>
        Execute(modelId, inputs, verify ? InferenceMode.Verified : InferenceMode.FastPath).Outputs;

    /// <summary>Runs a model in <paramref name="mode"/>, saying whether the outputs are the fast path's unchecked ones.</summary>
    public InferenceOutputs Execute(Hash32 modelId, IReadOnlyList<NamedTensor> inputs, InferenceMode mode)
    {
        using var lease = Pinned(modelId);
        return lease.Execute(inputs, mode);
    }

    private InferenceOutputs Execute(LoadedModel model, IReadOnlyList<NamedTensor> inputs, InferenceMode mode)
    {
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
        using var lease = Pinned(modelId);
        return lease.Settle(inputs, fastOutputs);
    }

    private IReadOnlyList<NamedTensor> Settle(LoadedModel model, IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> fastOutputs)
    {
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

    // A loaded model pinned for one call; a model not loaded (never, or evicted) is a KeyNotFoundException: use Lease.
    private ModelLease Pinned(Hash32 modelId) =>
        _models.Acquire(modelId) is { } model ? new ModelLease(this, model) : throw new KeyNotFoundException($"model {modelId} is not loaded");

    /// <summary>
    /// A model pinned in the cache (<see cref="Lease"/>): it is not evicted, and its ORT session not disposed, until
    /// the lease is disposed. Run it through the lease.
    /// </summary>
    public sealed class ModelLease : IDisposable
    {
        private readonly InferenceEngine _engine;
        private readonly LoadedModel _model;
        private int _disposed;

        internal ModelLease(InferenceEngine engine, LoadedModel model)
        {
            _engine = engine;
            _model = model;
        }

        public ExecutorChoice Choice => _model.Choice;

        public CanonicalExecutor Canonical => _model.Canonical;

        /// <summary>As <see cref="InferenceEngine.Execute(Hash32, IReadOnlyList{NamedTensor}, InferenceMode)"/>.</summary>
        public InferenceOutputs Execute(IReadOnlyList<NamedTensor> inputs, InferenceMode mode) => _engine.Execute(Live(), inputs, mode);

        /// <summary>As <see cref="InferenceEngine.Settle(Hash32, IReadOnlyList{NamedTensor}, IReadOnlyList{NamedTensor})"/>.</summary>
        public IReadOnlyList<NamedTensor> Settle(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> fastOutputs) =>
            _engine.Settle(Live(), inputs, fastOutputs);

        private LoadedModel Live() =>
            Volatile.Read(ref _disposed) == 0 ? _model : throw new ObjectDisposedException(nameof(ModelLease), $"the lease on model {_model.Canonical.ModelId} is over");

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) _engine._models.Release(_model.Canonical.ModelId);
        }
    }

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
        foreach (var model in _models.Clear()) Unload(model);
        lock (_retired)
        {
            foreach (var fast in _retired) fast.Dispose();
            _retired.Clear();
        }
    }
}
