namespace Chain.Network.Tcp;

/// <summary>Monotonic counters shared by a network and its connections; read through <see cref="TcpPeerNetwork"/>'s properties.</summary>
internal sealed class NetworkCounters
{
    public long BytesReceived, BytesSent, MessagesReceived, MessagesSent;
    public long DroppedSends, HandshakeFailures, RefusedConnections, Bans;
    public long RateLimitedMessages, ProtocolViolations, HandlerErrors;

    /// <summary>Bytes sent per channel (index: the channel's byte value; unknown channels count in slot 0).</summary>
    public readonly long[] BytesSentByChannel = new long[8];

    public void AddSent(byte channel, long bytes)
    {
        Add(ref BytesSent, bytes);
        Add(ref BytesSentByChannel[channel < BytesSentByChannel.Length ? channel : 0], bytes);
    }

    public static long Read(ref long counter) => Interlocked.Read(ref counter);
    public static void Add(ref long counter, long amount = 1) => Interlocked.Add(ref counter, amount);
}

/// <summary>Background tasks a network must await on shutdown; a finished task removes itself.</summary>
internal sealed class TaskTracker
{
    private readonly object _gate = new();
    private readonly HashSet<Task> _tasks = [];

    public void Track(Task task)
    {
        lock (_gate) _tasks.Add(task);
        task.ContinueWith(t => { lock (_gate) _tasks.Remove(t); }, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits until no tracked task is left (tasks started while waiting are waited for too).</summary>
    public async Task WhenAllAsync()
    {
        while (true)
        {
            Task[] pending;
            lock (_gate) pending = [.. _tasks];
            if (pending.Length == 0) return;
            try { await Task.WhenAll(pending).ConfigureAwait(false); }
            catch (Exception) { /* each loop reports its own failure; shutdown only needs them finished */ }
        }
    }
}

/// <summary>A task that completes at the next <see cref="Pulse"/>; waiters take <see cref="Next"/> before checking their condition so no pulse is missed.</summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Next => Volatile.Read(ref _next).Task;

    public void Pulse() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
