using System.Runtime;

namespace Chain.Core;

/// <summary>
/// One background compacting collection that gives memory back to the operating system after a rare big event: a
/// block that carried model chunks or a seal, a model loaded into or evicted from the model cache, large P2P frames
/// abandoned by their senders. Such events leave tens of MiB of dead large buffers that the GC would otherwise keep
/// committed for a long time when little else is allocated (docs/execution.md, "RSS bound").
/// <see cref="Request"/> never collects on the caller's thread: it only schedules. The collection runs on a thread-pool
/// timer <see cref="Delay"/> after the first request (so that the event's last copies are unreachable by then), at most
/// once per <see cref="MinInterval"/>; requests made while one is scheduled join it. Thread-safe.
/// </summary>
public sealed class MemoryReclaimer
{
    /// <summary>Time from a request to its collection: the committing thread has let go of the block by then.</summary>
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>The least time between two collections: each pauses the process ~0.8 ms per MiB of live heap (it compacts it).</summary>
    public static readonly TimeSpan DefaultMinInterval = TimeSpan.FromSeconds(3);

    /// <summary>The process's reclaimer (node code calls this one; tests make their own).</summary>
    public static MemoryReclaimer Shared { get; } = new(TimeProvider.System, DefaultDelay, DefaultMinInterval, CompactAndDecommit);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Action _collect;
    private ITimer? _scheduled;
    private long _lastCollection = long.MinValue;
    private int _requests, _collections;

    public MemoryReclaimer(TimeProvider time, TimeSpan delay, TimeSpan minInterval, Action collect)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(minInterval, TimeSpan.Zero);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _collect = collect ?? throw new ArgumentNullException(nameof(collect));
        Delay = delay;
        MinInterval = minInterval;
    }

    public TimeSpan Delay { get; }
    public TimeSpan MinInterval { get; }

    /// <summary>Requests made (for tests and metrics).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Collections run (for tests and metrics).</summary>
    public int Collections => Volatile.Read(ref _collections);

    /// <summary>Schedules one collection unless one is scheduled already; returns at once.</summary>
    public void Request()
    {
        lock (_gate)
        {
            _requests++;
            if (_scheduled is not null) return;
            long now = _time.GetTimestamp();
            var due = Delay;
            if (_lastCollection != long.MinValue)
            {
                var sinceLast = _time.GetElapsedTime(_lastCollection, now);
                if (MinInterval - sinceLast > due) due = MinInterval - sinceLast;
            }
            _scheduled = _time.CreateTimer(_ => Run(), null, due, Timeout.InfiniteTimeSpan);
        }
    }

    private void Run()
    {
        lock (_gate)
        {
            _scheduled?.Dispose();
            _scheduled = null;
            _lastCollection = _time.GetTimestamp(); // a request during the collection waits MinInterval from its start
            _collections++;
        }
        _collect();
    }

    /// <summary>
    /// A full, blocking, compacting collection of every generation and the large object heap that decommits what it
    /// frees (<see cref="GCCollectionMode.Aggressive"/>): the default collections keep freed regions committed.
    /// </summary>
    public static void CompactAndDecommit()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
