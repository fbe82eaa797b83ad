namespace Chain.Storage;

/// <summary>
/// Counts calls in flight on a native resource so that closing it waits for them and later calls are
/// refused with <see cref="ObjectDisposedException"/>; freeing native memory under a running call would crash.
/// </summary>
internal sealed class UseGate(string ownerName)
{
    private readonly object _sync = new();
    private int _users;
    private bool _closed;

    public void Enter()
    {
        lock (_sync)
        {
            if (_closed) throw new ObjectDisposedException(ownerName);
            _users++;
        }
    }

    public void Exit()
    {
        lock (_sync)
        {
            if (--_users == 0 && _closed) Monitor.PulseAll(_sync);
        }
    }

    /// <summary>Refuses new calls and waits for running ones. False when already closed (Dispose is idempotent).</summary>
    public bool Close()
    {
        lock (_sync)
        {
            if (_closed) return false;
            _closed = true;
            while (_users > 0) Monitor.Wait(_sync);
            return true;
        }
    }
}
