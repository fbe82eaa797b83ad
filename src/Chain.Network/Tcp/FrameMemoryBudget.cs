using Chain.Core;

namespace Chain.Network.Tcp;

/// <summary>
/// A node-wide bound on the bytes held by large inbound frames while they are being received and decrypted. A
/// frame above <see cref="SmallFrameBytes"/> reserves its announced length here before a buffer is sized by it, and
/// gives it back once its payload has been handed on; a connection whose reservation must wait simply stops reading,
/// which pushes back on its sender through TCP. So however many peers announce maximal frames at once, what they
/// can pin is the capacity, not peers × frame size (the attack in issue 15: 37 peers × 33.6 MB). Waiters are served in
/// arrival order, so a large frame is never starved by a stream of smaller ones.
/// A frame whose body never completes (its peer too slow or gone) leaves its buffer as garbage on the large object
/// heap, which the GC may not collect for a long time when little else is allocated; so once the budget is idle again
/// after such frames, it asks for one background collection (<see cref="MemoryReclaimer"/>), and the node's memory comes back after an attack.
/// </summary>
public sealed class FrameMemoryBudget
{
    /// <summary>Frames up to this size (votes, transactions, status) never wait: they are read from a pooled buffer.</summary>
    public const int SmallFrameBytes = 64 << 10;

    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _available;
    private long _abandonedSinceCollection;

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;
        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public FrameMemoryBudget(long capacityBytes)
    {
        if (capacityBytes < NetworkLimits.MaxFrameCiphertextBytes)
            throw new ArgumentOutOfRangeException(nameof(capacityBytes),
                $"the frame memory budget ({capacityBytes} bytes) must hold at least one maximal frame ({NetworkLimits.MaxFrameCiphertextBytes} bytes)");
        Capacity = capacityBytes;
        _available = capacityBytes;
    }

    public long Capacity { get; }

    /// <summary>Bytes reserved now.</summary>
    public long Reserved
    {
        get { lock (_gate) return Capacity - _available; }
    }

    /// <summary>Reservations waiting for room now.</summary>
    public int Waiting
    {
        get { lock (_gate) return _waiters.Count; }
    }

    /// <summary>The most bytes ever reserved at once (for tests and metrics).</summary>
    public long PeakReserved { get; private set; }

    /// <summary>Background collections asked for after abandoned frames (for tests and metrics).</summary>
    public int CollectionsRequested { get; private set; }

    /// <summary>Called with the buffer bytes of a frame whose body never completed: its buffer is garbage now.</summary>
    public void Abandoned(long bytes)
    {
        lock (_gate) _abandonedSinceCollection += bytes;
    }

    /// <summary>Reserves <paramref name="bytes"/> (at most the capacity), waiting in arrival order; dispose the lease to give it back.</summary>
    public async ValueTask<Lease> ReserveAsync(long bytes, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, Capacity);
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (_gate)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                Take(bytes);
                return new Lease(this, bytes);
            }
            waiter = new Waiter(bytes);
            node = _waiters.AddLast(waiter);
        }
        await using (ct.Register(() => Abandon(node)))
        {
            try
            {
                await waiter.Granted.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new OperationCanceledException(ct);
            }
        }
        return new Lease(this, bytes);
    }

    // A cancelled waiter leaves the queue; if it was granted in the meantime, its bytes go back.
    private void Abandon(LinkedListNode<Waiter> node)
    {
        lock (_gate)
        {
            if (node.List is not null)
            {
                _waiters.Remove(node);
                node.Value.Granted.TrySetCanceled();
                GrantWaiters(); // the head may have changed
                return;
            }
        }
    }

    private void Take(long bytes)
    {
        _available -= bytes;
        PeakReserved = Math.Max(PeakReserved, Capacity - _available);
    }

    private void Release(long bytes)
    {
        bool collect;
        lock (_gate)
        {
            _available += bytes;
            GrantWaiters();
            // Idle after abandoned frames: nothing of a complete frame is left to collect, only the attackers' garbage.
            collect = _available == Capacity && _abandonedSinceCollection > 0;
            if (collect)
            {
                _abandonedSinceCollection = 0;
                CollectionsRequested++;
            }
        }
        // The abandoned buffers are large objects, which only a full collection frees; it runs in the background.
        if (collect) MemoryReclaimer.Shared.Request();
    }

    private void GrantWaiters()
    {
        while (_waiters.First is { } first && first.Value.Bytes <= _available)
        {
            _waiters.RemoveFirst();
            Take(first.Value.Bytes);
            if (!first.Value.Granted.TrySetResult()) _available += first.Value.Bytes; // cancelled as it was granted
        }
    }

    /// <summary>A reservation; disposing it returns the bytes (once).</summary>
    public sealed class Lease(FrameMemoryBudget owner, long bytes) : IDisposable
    {
        private int _released;

        public long Bytes { get; } = bytes;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release(Bytes);
        }
    }
}
