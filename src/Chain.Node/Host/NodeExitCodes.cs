using Chain.Storage;

namespace Chain.Node.Host;

/// <summary>
/// The exit codes of <c>chain start</c> (docs/node.md, "Exit codes"). Every non-zero exit is preceded by its cause:
/// one <c>error:</c> line for a refused start, a critical log line for a stop on a fatal error.
/// </summary>
public static class NodeExitCodes
{
    /// <summary>Stopped by SIGINT/SIGTERM after a clean shutdown.</summary>
    public const int Clean = 0;

    /// <summary>Refused to start: bad config, genesis or key, a locked, corrupted or incompatible store, a port in use...</summary>
    public const int StartRefused = 1;

    /// <summary>The node's loop stopped on an exception it could not handle (not a storage failure): a bug, or a state it must not guess past.</summary>
    public const int NodeFailed = 2;

    /// <summary>The node stopped because its storage failed: a write or read refused (full disk, I/O error) or corruption found while running.</summary>
    public const int StorageFailed = 3;

    /// <summary>An exception escaped a background thread of the process (outside the node's loop): logged, then the process ends.</summary>
    public const int Crashed = 4;

    /// <summary>The exit code for a node that stopped on <paramref name="failure"/>.</summary>
    public static int For(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        for (var e = failure; e is not null; e = e.InnerException)
            if (e is StorageException or IOException) return StorageFailed;
        return NodeFailed;
    }

    /// <summary>One line naming the failure and its causes: "StorageException: ... ← IOException: No space left on device".</summary>
    public static string Describe(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var parts = new List<string>();
        for (var e = failure; e is not null && parts.Count < 4; e = e.InnerException)
            parts.Add($"{e.GetType().Name}: {OneLine(e.Message)}");
        return string.Join(" <- ", parts);
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
