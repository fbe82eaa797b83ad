namespace Chain.Network.Tcp;

/// <summary>How long a dial loop waits before its next attempt.</summary>
internal static class ReconnectBackoff
{
    /// <summary>
    /// <c>min(max, base × 2^failures)</c> times a jitter in [0.5, 1) from <paramref name="random"/>, so peers that
    /// lost each other at the same moment do not redial in lockstep. <paramref name="random"/> is locked while used.
    /// </summary>
    public static TimeSpan Delay(int failures, TimeSpan baseDelay, TimeSpan maxDelay, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(failures);
        double jitter;
        lock (random) jitter = 0.5 + 0.5 * random.NextDouble();
        double ticks = Math.Min(maxDelay.Ticks, baseDelay.Ticks * Math.Pow(2, Math.Min(failures, 30)));
        return TimeSpan.FromTicks((long)(ticks * jitter));
    }
}
