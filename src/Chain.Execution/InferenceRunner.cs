using Chain.Core;
using Chain.Inference;
using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Execution;

/// <summary>The result of running a model on an input: the output tensor, or the executor's error.</summary>
public sealed record InferenceOutcome(Tensor? Output, string? Error)
{
    public bool Succeeded => Output is not null;
}

/// <summary>
/// Runs inferences through the <see cref="InferenceEngine"/> and remembers results keyed by
/// (model id, input hash). The cache only saves time: an entry is exactly what the engine computes for
/// that key (inference is a pure function of model and input), so a hit and a miss give the same bytes.
/// Bounded by entry count, oldest evicted first. Thread-safe: the mempool's worker fills it while
/// consensus reads it.
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

    /// <summary>
    /// The outcome of <paramref name="modelId"/> on <paramref name="input"/>; loads the model from
    /// <paramref name="modelBytes"/> first if the engine does not have it.
    /// </summary>
    /// <summary>Raised after each computed (not cached) inference with the model and the milliseconds it took; for metrics.</summary>
    public event Action<Hash32, double>? Computed;

    public InferenceOutcome Run(Hash32 modelId, Func<byte[]> modelBytes, Tensor input)
    {
        var key = (modelId, input.Hash);
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out var hit))
            {
                Interlocked.Increment(ref _hits);
                return hit;
            }
        }
        Interlocked.Increment(ref _misses);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = Compute(modelId, modelBytes, input);
        Computed?.Invoke(modelId, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        lock (_lock)
        {
            if (_capacity > 0 && _cache.TryAdd(key, outcome))
            {
                _order.Enqueue(key);
                while (_cache.Count > _capacity) _cache.Remove(_order.Dequeue());
            }
        }
        return outcome;
    }

    private InferenceOutcome Compute(Hash32 modelId, Func<byte[]> modelBytes, Tensor input)
    {
        if (!_engine.IsLoaded(modelId)) _engine.Load(modelBytes());
        var canonical = _engine.Canonical(modelId);
        var spec = canonical.Inputs[0];
        var recorded = canonical.OutputNames[0]; // receipts record the first declared output
        try
        {
            var outputs = _engine.Run(modelId, [new NamedTensor(spec.Name, input)]);
            return new InferenceOutcome(outputs.First(o => o.Name == recorded).Value, null);
        }
        catch (InferenceException e)
        {
            // Kernel errors are deterministic (same model, same input, same error), so they are a result too.
            return new InferenceOutcome(null, e.Message);
        }
    }
}
