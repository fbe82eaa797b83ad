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
        Refill();
        if (_tokens < amount) return false;
        _tokens -= amount;
        return true;
    }

    /// <summary>
    /// How long until the bucket holds <paramref name="amount"/> tokens (zero when it does now). An amount above the
    /// capacity is treated as the capacity, so a caller that waits this long and retries always gets through.
    /// </summary>
    public TimeSpan TimeUntil(double amount)
    {
        Refill();
        double missing = Math.Min(amount, _capacity) - _tokens;
        return missing <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(missing / _ratePerSecond);
    }

    /// <summary>Takes <paramref name="amount"/> tokens, going into debt if it must (after <see cref="TimeUntil"/> said zero, at most the capacity's rounding).</summary>
    public void Take(double amount)
    {
        Refill();
        _tokens -= amount;
    }

    private void Refill()
    {
        long now = _time.GetTimestamp();
        _tokens = Math.Min(_capacity, _tokens + _time.GetElapsedTime(_lastRefill, now).TotalSeconds * _ratePerSecond);
        _lastRefill = now;
    }
}
