namespace Chain.Network.Tcp;

/// <summary>
/// A token bucket: refills at <c>ratePerSecond</c> up to <c>capacity</c>, measured on the injected clock.
/// Not thread-safe; each peer's reader loop owns its buckets.
/// </summary>
internal sealed class TokenBucket
{
    private readonly double _ratePerSecond;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private double _tokens;
    private long _lastRefill;

    public TokenBucket(double ratePerSecond, double capacity, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ratePerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(capacity, 0);
        _ratePerSecond = ratePerSecond;
        _capacity = capacity;
        _time = time;
        _tokens = capacity;
        _lastRefill = time.GetTimestamp();
    }

    /// <summary>Takes <paramref name="amount"/> tokens if the bucket holds them; otherwise takes none.</summary>
    public bool TryTake(double amount)
    {
        long now = _time.GetTimestamp();
        _tokens = Math.Min(_capacity, _tokens + _time.GetElapsedTime(_lastRefill, now).TotalSeconds * _ratePerSecond);
        _lastRefill = now;
        if (_tokens < amount) return false;
        _tokens -= amount;
        return true;
    }
}
