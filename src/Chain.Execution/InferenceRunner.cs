using Chain.Core;
using Chain.Inference;
using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Execution;

/// <summary>
/// The result of running a model on an input: the output tensor, or the executor's error. <paramref name="FastPath"/>:
/// the output is the fast path's, not compared with the canonical executor on this input (errors always come from
/// canonical: a fast-path error falls back to it).
/// </summary>
public sealed record InferenceOutcome(Tensor? Output, string? Error, bool FastPath = false)
{
    public bool Succeeded => Output is not null;

    /// <summary>Same output bytes (or same error) as <paramref name="other"/>, wherever each came from.</summary>
    public bool SameResult(InferenceOutcome other) =>
        Error == other.Error && (Output, other.Output) switch
        {
            (null, null) => true,
            ({ } a, { } b) => a.Encoded.Span.SequenceEqual(b.Encoded.Span),
            _ => false,
        };
}

/// <summary>
/// Runs inferences through the <see cref="InferenceEngine"/> and remembers results keyed by
/// (model id, input hash). The cache only saves time: an entry is exactly what the engine computes for
/// that key (inference is a pure function of model and input), so a hit and a miss give the same bytes.
/// Entries from the fast path are marked: a canonical run never takes one as is, it settles it
/// (<see cref="Settle"/>) and the canonical outcome replaces it. Bounded by entry count, oldest evicted first.
/// Thread-safe: the mempool's worker fills it while consensus reads it.
/// </summary>
public sealed class InferenceRunner
{
    private readonly InferenceEngine _engine;
    private readonly int _capacity;
    private readonly Dictionary<(Hash32, Hash32), InferenceOutcome> _cache = [];
    private readonly Queue<(Hash32, Hash32)> _order = new();
    private readonly Lock _lock = new();
    private long _hits, _misses;

    public InferenceRunner(InferenceEngine engine, int cacheCapacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cacheCapacity);
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _capacity = cacheCapacity;
    }

    public InferenceEngine Engine => _engine;
    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);

    public int CachedCount
    {
        get { lock (_lock) return _cache.Count; }
    }

    public bool IsCached(Hash32 modelId, Hash32 inputHash)
    {
        lock (_lock) return _cache.ContainsKey((modelId, inputHash));
    }

    /// <summary>Raised after each computed (not cached) inference with the model and the milliseconds it took; for metrics.</summary>
    public event Action<Hash32, double>? Computed;

    /// <summary>
    /// The outcome of <paramref name="modelId"/> on <paramref name="input"/>; loads the model from
    /// <paramref name="modelBytes"/> first if the engine does not have it. In any mode but
    /// <see cref="InferenceMode.FastPath"/> the outcome is canonical bytes: a cached fast-path entry is settled.
    /// </summary>
    public InferenceOutcome Run(Hash32 modelId, Func<byte[]> modelBytes, Tensor input, InferenceMode mode = InferenceMode.FastPath) =>
        Run(modelId, modelBytes, input, mode, out _);

    /// <summary>As <see cref="Run(Hash32, Func{byte[]}, Tensor, InferenceMode)"/>; <paramref name="cached"/>: the outcome came from the cache as it was.</summary>
    public InferenceOutcome Run(Hash32 modelId, Func<byte[]> modelBytes, Tensor input, InferenceMode mode, out bool cached)
    {
        ArgumentNullException.ThrowIfNull(input);
        cached = false;
        var key = (modelId, input.Hash);
        InferenceOutcome? unsettled = null;
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out var hit))
            {
                if (mode == InferenceMode.FastPath || !hit.FastPath)
                {
                    Interlocked.Increment(ref _hits);
                    cached = true;
                    return hit;
                }
                unsettled = hit;
            }
        }
        Interlocked.Increment(ref _misses);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = unsettled is null ? Compute(modelId, modelBytes, input, mode) : SettleUncached(modelId, modelBytes, input, unsettled);
        Computed?.Invoke(modelId, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Store(key, outcome);
        return outcome;
    }

    /// <summary>
    /// Decides a fast-path outcome by the canonical executor alone and returns the canonical one, which also
    /// replaces it in the cache; if they differ, the engine takes the model off the fast path
    /// (<see cref="InferenceEngine.Settle"/>). A canonical outcome is returned as it is. <paramref name="modelBytes"/>
    /// loads the model again if the engine's cache evicted it since it ran.
    /// </summary>
    public InferenceOutcome Settle(Hash32 modelId, Func<byte[]> modelBytes, Tensor input, InferenceOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (!outcome.FastPath) return outcome;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var settled = SettleUncached(modelId, modelBytes, input, outcome);
        Computed?.Invoke(modelId, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Store((modelId, input.Hash), settled);
        return settled;
    }

    private InferenceOutcome Compute(Hash32 modelId, Func<byte[]> modelBytes, Tensor input, InferenceMode mode)
    {
        // The engine's model cache: parsing, admission and planning once per model; pinned while it runs.
        using var model = _engine.Lease(modelId, modelBytes);
        var canonical = model.Canonical;
        var spec = canonical.Inputs[0];
        var recorded = canonical.OutputNames[0]; // receipts record the first declared output
        try
        {
            var run = model.Execute([new NamedTensor(spec.Name, input)], mode);
            return new InferenceOutcome(run.Outputs.First(o => o.Name == recorded).Value, null, run.FastPath);
        }
        catch (InferenceException e)
        {
            // Kernel errors are deterministic (same model, same input, same error), so they are a result too.
            return new InferenceOutcome(null, e.Message);
        }
    }

    private InferenceOutcome SettleUncached(Hash32 modelId, Func<byte[]> modelBytes, Tensor input, InferenceOutcome fast)
    {
        var output = fast.Output ?? throw new ArgumentException("a fast-path outcome always has an output (errors come from canonical)", nameof(fast));
        using var model = _engine.Lease(modelId, modelBytes); // reloaded if evicted since the fast path ran it
        var canonical = model.Canonical;
        var recorded = canonical.OutputNames[0];
        try
        {
            var outputs = model.Settle([new NamedTensor(canonical.Inputs[0].Name, input)], [new NamedTensor(recorded, output)]);
            return new InferenceOutcome(outputs.First(o => o.Name == recorded).Value, null);
        }
        catch (InferenceException e)
        {
            return new InferenceOutcome(null, e.Message);
        }
    }

    // A canonical outcome replaces a fast-path one for the same key; nothing replaces a canonical one.
    private void Store((Hash32, Hash32) key, InferenceOutcome outcome)
    {
        if (_capacity == 0) return;
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out var cached))
            {
                if (cached.FastPath && !outcome.FastPath) _cache[key] = outcome;
                return;
            }
            _cache.Add(key, outcome);
            _order.Enqueue(key);
            while (_cache.Count > _capacity) _cache.Remove(_order.Dequeue());
        }
    }
}
