namespace Chain.State;

/// <summary>The tree has no root for the version asked for: never written, or pruned.</summary>
public sealed class StateVersionNotFoundException : KeyNotFoundException
{
    public StateVersionNotFoundException(ulong version)
        : base($"no state tree at version {version}: it was never committed or has been pruned")
    {
        Version = version;
    }

    public ulong Version { get; }
}
