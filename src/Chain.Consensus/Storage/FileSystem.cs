using System.Buffers.Binary;
using System.Numerics;

namespace Chain.Consensus.Storage;

/// <summary>
/// The file operations consensus persistence needs, with explicit durability. The simulator implements it
/// in memory and loses whatever was not synced when it crashes a validator.
/// </summary>
public interface IFileSystem
{
    /// <summary>The file's current contents, or null when it does not exist.</summary>
    byte[]? ReadAll(string path);
    /// <summary>Appends (creating the file); not durable until <see cref="Sync"/>.</summary>
    void Append(string path, ReadOnlySpan<byte> data);
    /// <summary>fsync: everything appended so far survives a crash.</summary>
    void Sync(string path);
    /// <summary>Cuts the file to <paramref name="length"/> bytes, durably.</summary>
    void Truncate(string path, long length);
    /// <summary>Replaces the contents atomically and durably (write temp, fsync, rename).</summary>
    void WriteAtomic(string path, ReadOnlySpan<byte> data);
}

/// <summary>The real file system.</summary>
public sealed class DiskFileSystem : IFileSystem, IDisposable
{
    private readonly Dictionary<string, FileStream> _appenders = new();

    public byte[]? ReadAll(string path)
    {
        if (_appenders.TryGetValue(path, out var s)) s.Flush();
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    public void Append(string path, ReadOnlySpan<byte> data)
    {
        if (!_appenders.TryGetValue(path, out var s))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            s = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
            _appenders[path] = s;
        }
        s.Write(data);
    }

    public void Sync(string path)
    {
        if (_appenders.TryGetValue(path, out var s)) s.Flush(flushToDisk: true);
    }

    public void Truncate(string path, long length)
    {
        Close(path);
        using var s = new FileStream(path, FileMode.Open, FileAccess.Write);
        s.SetLength(length);
        s.Flush(flushToDisk: true);
    }

    public void WriteAtomic(string path, ReadOnlySpan<byte> data)
    {
        Close(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = path + ".tmp";
        using (var s = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            s.Write(data);
            s.Flush(flushToDisk: true);
        }
        // rename(2) is atomic on POSIX; the directory entry itself is not fsynced (no portable .NET API).
        File.Move(tmp, path, overwrite: true);
    }

    private void Close(string path)
    {
        if (_appenders.Remove(path, out var s)) s.Dispose();
    }

    public void Dispose()
    {
        foreach (var s in _appenders.Values) s.Dispose();
        _appenders.Clear();
    }
}

/// <summary>CRC-32C (Castagnoli), via the hardware instruction where there is one.</summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }
}
