using Chain.Core;
using Chain.Core.Hashing;

namespace Chain.Execution;

/// <summary>
/// The part of a registration check that depends on the model's bytes alone (<see cref="ModelRegistry.Check"/>): the typed
/// input and output, gas and MACs, or the refusal.
/// </summary>
public sealed record ModelVerdict(TensorSignature? Input, TensorSignature? Output, ulong Gas, ulong Macs, string? Refusal);

/// <summary>
/// The last models' registration verdicts, by model id. Admission is a pure function of the bytes and the id is their
/// hash, so a verdict found here is the one admission would reach again. It matters for a large model: sealing a 30 MB
/// upload runs admission for seconds, in the proposer's build, in each validator's re-execution and again in any later
/// round's block carrying the same seal. Without it, a round whose timeouts were shorter than that on a loaded machine
/// was followed by another that ran it all again (a 4-validator devnet spent 14 rounds, 2 minutes, at one height).
/// Bounded: at most <see cref="Capacity"/> verdicts (each a few hundred bytes), the oldest evicted first.
/// </summary>
public sealed class ModelVerdictCache(int capacity)
{
    /// <summary>The process's cache, shared by every executor in it (a verdict is the same for all of them).</summary>
    public static ModelVerdictCache Shared { get; } = new(64);

    private readonly object _gate = new();
    private readonly Dictionary<Hash32, ModelVerdict> _verdicts = [];
    private readonly Queue<Hash32> _order = new();
    private long _hits, _misses;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), "a verdict cache holds at least one verdict");

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public int Count
    {
        get
        {
            lock (_gate) return _verdicts.Count;
        }
    }

    /// <summary>The verdict on <paramref name="modelBytes"/> (whose id is <paramref name="modelId"/>), judged by <paramref name="judge"/> when not cached.</summary>
    public ModelVerdict GetOrJudge(Hash32 modelId, ReadOnlySpan<byte> modelBytes, Func<Hash32, ReadOnlySpan<byte>, ModelVerdict> judge)
    {
        lock (_gate)
        {
            if (_verdicts.TryGetValue(modelId, out var cached))
            {
                _hits++;
                return cached;
            }
        }
        Interlocked.Increment(ref _misses);
        var verdict = judge(modelId, modelBytes); // outside the lock: two threads may judge the same model, and agree
        lock (_gate)
        {
            if (_verdicts.TryAdd(modelId, verdict))
            {
                _order.Enqueue(modelId);
                while (_verdicts.Count > Capacity) _verdicts.Remove(_order.Dequeue());
            }
        }
        return verdict;
    }

    /// <summary>The id a model's bytes are registered under.</summary>
    public static Hash32 IdOf(ReadOnlySpan<byte> modelBytes) => DomainHash.Compute(HashDomain.Model, modelBytes);
}
