using Chain.Core;

namespace Chain.Inference.Runtime;

/// <summary>
/// Loaded models by id under a memory budget, least recently used evicted first. Each entry is charged the bytes
/// its owner states. A pinned entry (one a caller is using) is never evicted, nor is the most recently used one,
/// so a single model larger than the budget stays loaded until another is used. Evicted entries go to
/// <c>evicted</c> outside the lock (the owner releases their memory). Thread-safe.
/// </summary>
public sealed class ModelCache<TModel>(long budgetBytes, Action<TModel> evicted) where TModel : class
{
    private sealed class Entry(Hash32 id, TModel model, long bytes)
    {
        public Hash32 Id { get; } = id;
        public TModel Model { get; } = model;
        public long Bytes { get; } = bytes;
        public int Pins { get; set; }
        public LinkedListNode<Entry>? Node { get; set; }
    }

    private readonly Dictionary<Hash32, Entry> _entries = [];
    private readonly LinkedList<Entry> _recency = new(); // first: most recently used
    private readonly Lock _lock = new();
    private long _bytes, _evictions;

    public long BudgetBytes { get; } = budgetBytes >= 0 ? budgetBytes : throw new ArgumentOutOfRangeException(nameof(budgetBytes), budgetBytes, "a budget is at least 0 bytes");

    /// <summary>Bytes charged for the entries held now.</summary>
    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>The entries held now, most recently used first.</summary>
    public IReadOnlyList<TModel> Snapshot()
    {
        lock (_lock) return _recency.Select(e => e.Model).ToArray();
    }

    public bool Contains(Hash32 id)
    {
        lock (_lock) return _entries.ContainsKey(id);
    }

    /// <summary>The entry for <paramref name="id"/>, pinned and marked most recently used; null when not held. Pair with <see cref="Release"/>.</summary>
    public TModel? Acquire(Hash32 id)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var entry)) return null;
            entry.Pins++;
            Touch(entry);
            return entry.Model;
        }
    }

    /// <summary>
    /// Adds <paramref name="model"/> charged <paramref name="bytes"/>, pinned when <paramref name="pin"/>, and evicts
    /// what the budget requires. When <paramref name="id"/> is held already (another thread loaded it meanwhile) the
    /// held entry is returned (pinned likewise) and <paramref name="added"/> is false: the caller releases its copy.
    /// </summary>
    public TModel Add(Hash32 id, TModel model, long bytes, bool pin, out bool added)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        List<TModel> victims;
        lock (_lock)
        {
            if (_entries.TryGetValue(id, out var held))
            {
                if (pin) held.Pins++;
                Touch(held);
                added = false;
                return held.Model;
            }
            var entry = new Entry(id, model, bytes) { Pins = pin ? 1 : 0 };
            _entries.Add(id, entry);
            _bytes += bytes;
            Touch(entry);
            added = true;
            victims = EvictOverBudget();
        }
        foreach (var victim in victims) evicted(victim);
        return model;
    }

    /// <summary>Unpins an entry <see cref="Acquire"/> or a pinning <see cref="Add"/> returned; evicts what the budget requires.</summary>
    public void Release(Hash32 id)
    {
        List<TModel> victims;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var entry) || entry.Pins == 0)
                throw new InvalidOperationException($"model {id} is not pinned: release without acquire");
            entry.Pins--;
            victims = EvictOverBudget();
        }
        foreach (var victim in victims) evicted(victim);
    }

    /// <summary>Removes every entry, pinned or not, and returns them (for the owner's disposal).</summary>
    public IReadOnlyList<TModel> Clear()
    {
        lock (_lock)
        {
            var all = _recency.Select(e => e.Model).ToArray();
            _entries.Clear();
            _recency.Clear();
            _bytes = 0;
            return all;
        }
    }

    private void Touch(Entry entry)
    {
        if (entry.Node is { } node) _recency.Remove(node);
        entry.Node = _recency.AddFirst(entry);
    }

    // Oldest first, skipping pinned entries and never the most recently used one.
    private List<TModel> EvictOverBudget()
    {
        var victims = new List<TModel>();
        var node = _recency.Last;
        while (_bytes > BudgetBytes && node is not null && node != _recency.First)
        {
            var previous = node.Previous;
            var entry = node.Value;
            if (entry.Pins == 0)
            {
                _recency.Remove(node);
                _entries.Remove(entry.Id);
                _bytes -= entry.Bytes;
                Interlocked.Increment(ref _evictions);
                victims.Add(entry.Model);
            }
            node = previous;
        }
        return victims;
    }
}
