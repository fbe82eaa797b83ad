namespace Chain.Node.Host;

/// <summary>
/// The system clock moved by a fixed offset (wall-clock time only; timers and elapsed time are the system's):
/// fault injection for a validator whose clock is wrong (`chain start --clock-offset-ms`).
/// </summary>
public sealed class OffsetTimeProvider(TimeSpan offset) : TimeProvider
{
    public TimeSpan Offset { get; } = offset;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}
