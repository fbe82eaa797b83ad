namespace Chain.Inference.Admission;

/// <summary>
/// One buffer of a <see cref="MemoryPlan"/>: a node output (<see cref="Value"/> set) or the scratch workspace
/// of one node (<see cref="Value"/> null), live from step <see cref="First"/> to step <see cref="Last"/>
/// inclusive (steps are positions in the execution order), at <see cref="Offset"/> in the arena.
/// </summary>
public sealed record PlannedBuffer(string? Value, int Node, long Bytes, int First, int Last, long Offset)
{
    public bool Overlaps(PlannedBuffer other) => First <= other.Last && other.First <= Last;
}

/// <summary>
/// The static memory plan of an admitted model (docs/onnx-subset.md §4.2): every intermediate value and
/// every node's scratch workspace gets a fixed offset in one arena, reused once the value's last consumer
/// has run (TFLite's arena planner, "greedy by size"). The arena size is the proven peak: the canonical
/// executor allocates exactly one arena of <see cref="ArenaBytes"/> per concurrent run and never anything
/// of data size besides. Graph inputs (the transaction's) and initializers (the model's) are not in it.
/// </summary>
public sealed class MemoryPlan
{
    /// <summary>Every buffer starts on a cache line, so SIMD loads never straddle two buffers.</summary>
    public const int Alignment = 64;

    private readonly Dictionary<string, PlannedBuffer> _byValue;
    private readonly Dictionary<int, PlannedBuffer> _workspaces;

    private MemoryPlan(IReadOnlyList<PlannedBuffer> buffers, long arenaBytes, long liveBytesPeak)
    {
        Buffers = buffers;
        ArenaBytes = arenaBytes;
        LiveBytesPeak = liveBytesPeak;
        _byValue = buffers.Where(b => b.Value is not null).ToDictionary(b => b.Value!, StringComparer.Ordinal);
        _workspaces = buffers.Where(b => b.Value is null).ToDictionary(b => b.Node);
    }

    public static MemoryPlan Empty { get; } = new([], 0, 0);

    /// <summary>Buffers in placement order (largest first).</summary>
    public IReadOnlyList<PlannedBuffer> Buffers { get; }

    /// <summary>The arena size: the proven peak of per-run memory, in bytes.</summary>
    public long ArenaBytes { get; }

    /// <summary>The largest sum of buffers live at one step: no plan can do with less (the arena is ≥ this).</summary>
    public long LiveBytesPeak { get; }

    public PlannedBuffer? ForValue(string name) => _byValue.GetValueOrDefault(name);

    /// <summary>The workspace of the node at file index <paramref name="node"/>, if it needs one.</summary>
    public PlannedBuffer? Workspace(int node) => _workspaces.GetValueOrDefault(node);

    public static long Align(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    /// <summary>A requested buffer: its lifetime in steps and its size.</summary>
    public readonly record struct Request(string? Value, int Node, long Bytes, int First, int Last);

    /// <summary>
    /// Places the buffers: largest first (ties by first step, then request order, so the plan is a pure
    /// function of the model), each at the lowest aligned offset where it overlaps no placed buffer that is
    /// live at the same time. Empty buffers get offset 0 and no space.
    /// </summary>
    public static MemoryPlan Build(IReadOnlyList<Request> requests)
    {
        var order = Enumerable.Range(0, requests.Count)
            .OrderByDescending(i => requests[i].Bytes).ThenBy(i => requests[i].First).ThenBy(i => i).ToArray();
        var placed = new List<PlannedBuffer>(requests.Count);
        // Placed buffers by offset: first fit is one pass over them, skipping those not live at the same
        // time, so placing n buffers costs O(n²) simple steps at worst (no per-buffer sort).
        var byOffset = new List<PlannedBuffer>(requests.Count);
        long arena = 0;
        foreach (var i in order)
        {
            var r = requests[i];
            var size = Align(r.Bytes);
            long offset = 0;
            if (size > 0)
            {
                foreach (var p in byOffset)
                {
                    if (p.First > r.Last || r.First > p.Last) continue;
                    if (p.Offset - offset >= size) break;
                    offset = Math.Max(offset, p.Offset + Align(p.Bytes));
                }
            }
            var buffer = new PlannedBuffer(r.Value, r.Node, r.Bytes, r.First, r.Last, offset);
            placed.Add(buffer);
            if (size > 0)
            {
                var at = byOffset.BinarySearch(buffer, OffsetOrder.Instance);
                byOffset.Insert(at < 0 ? ~at : at, buffer);
            }
            arena = Math.Max(arena, offset + size);
        }
        return new MemoryPlan(placed, arena, LivePeak(requests));
    }

    /// <summary>
    /// The largest sum of aligned buffer sizes live at one step: a lower bound on any arena, computed in
    /// linear time, so admission can refuse an oversized model before placing anything.
    /// </summary>
    public static long LivePeak(IReadOnlyList<Request> requests)
    {
        if (requests.Count == 0) return 0;
        var delta = new long[requests.Max(r => r.Last) + 2];
        foreach (var r in requests)
        {
            delta[r.First] += Align(r.Bytes);
            delta[r.Last + 1] -= Align(r.Bytes);
        }
        long live = 0, peak = 0;
        foreach (var d in delta)
        {
            live += d;
            peak = Math.Max(peak, live);
        }
        return peak;
    }

    private sealed class OffsetOrder : IComparer<PlannedBuffer>
    {
        public static readonly OffsetOrder Instance = new();

        public int Compare(PlannedBuffer? x, PlannedBuffer? y) => x!.Offset.CompareTo(y!.Offset);
    }
}
