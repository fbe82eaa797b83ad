using Chain.Consensus.Storage;

namespace Chain.Consensus.Simulation;

/// <summary>Thrown by the simulated disk at an injected crash point; the simulator catches it and crashes the node.</summary>
public sealed class SimulatedCrashException() : Exception("simulated crash");

/// <summary>
/// An in-memory disk with fsync semantics. Each file has contents and a durable length; a crash keeps the
/// durable bytes plus a random prefix of the rest, and may damage the last kept bytes (a torn write).
/// <see cref="WriteHook"/> runs after every write and may throw <see cref="SimulatedCrashException"/>.
/// </summary>
public sealed class SimFileSystem : IFileSystem
{
    private sealed class SimFile
    {
        public byte[] Data = new byte[256];
        public int Length, Durable;
    }

    private readonly Dictionary<string, SimFile> _files = new();

    /// <summary>Called after each append, truncate and atomic write with the running count of writes.</summary>
    public Action<long>? WriteHook { get; set; }
    public long Writes { get; private set; }

    public byte[]? ReadAll(string path) => _files.TryGetValue(path, out var f) ? f.Data.AsSpan(0, f.Length).ToArray() : null;

    public void Append(string path, ReadOnlySpan<byte> data)
    {
        if (!_files.TryGetValue(path, out var f)) _files[path] = f = new SimFile();
        if (f.Length + data.Length > f.Data.Length) Array.Resize(ref f.Data, Math.Max(f.Data.Length * 2, f.Length + data.Length));
        data.CopyTo(f.Data.AsSpan(f.Length));
        f.Length += data.Length;
        AfterWrite();
    }

    public void Sync(string path)
    {
        if (_files.TryGetValue(path, out var f)) f.Durable = f.Length;
    }

    public void Truncate(string path, long length)
    {
        var f = _files[path];
        f.Length = (int)Math.Min(f.Length, length);
        f.Durable = f.Length;
        AfterWrite();
    }

    public void WriteAtomic(string path, ReadOnlySpan<byte> data)
    {
        var f = new SimFile { Data = data.ToArray(), Length = data.Length, Durable = data.Length };
        if (f.Data.Length == 0) f.Data = new byte[256];
        _files[path] = f;
        AfterWrite();
    }

    private void AfterWrite()
    {
        Writes++;
        WriteHook?.Invoke(Writes);
    }

    /// <summary>Power loss: unsynced bytes survive only as a random prefix, whose last bytes may be garbled.</summary>
    public void Crash(SimRandom rng)
    {
        foreach (var f in _files.Values)
        {
            int unsynced = f.Length - f.Durable;
            if (unsynced <= 0) continue;
            int kept = rng.Below(unsynced + 1);
            f.Length = f.Durable + kept;
            if (kept > 0 && rng.Chance(0.3))
            {
                // The last byte always belongs to the final (torn) record, so earlier records stay intact.
                f.Data[f.Length - 1] ^= (byte)(1 + rng.Below(255));
            }
            f.Durable = f.Length;
        }
    }
}
