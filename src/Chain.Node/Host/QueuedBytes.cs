namespace Chain.Node.Host;

/// <summary>
/// Bytes waiting in a queue, against a limit: <see cref="TryAdd"/> before enqueueing, <see cref="Remove"/> when the
/// item leaves (or could not be enqueued). Thread-safe; a refused add leaves the count unchanged.
/// </summary>
public sealed class QueuedBytes(long limit)
{
    private long _bytes;

    public long Limit { get; } = limit;
    public long Bytes => Interlocked.Read(ref _bytes);

    public bool TryAdd(long bytes)
    {
        if (Interlocked.Add(ref _bytes, bytes) <= Limit) return true;
        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    public void Remove(long bytes) => Interlocked.Add(ref _bytes, -bytes);
}
