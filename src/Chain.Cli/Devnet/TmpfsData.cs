using System.Diagnostics;
using System.Globalization;

namespace Chain.Cli.Devnet;

/// <summary>
/// A stopped node's data directory moved onto a small tmpfs mounted in its place (needs root), so that its disk can be
/// filled; <see cref="Restore"/> copies it back onto the real disk. The node must be stopped around <see cref="Mount"/>
/// and <see cref="Restore"/>.
/// </summary>
internal sealed class TmpfsData(string dataDirectory)
{
    /// <summary>The tmpfs holds the node's data plus this much: room for the node to run before the filler is written.</summary>
    private const long SpareBytes = 64L << 20;

    private readonly string _onDisk = dataDirectory.TrimEnd('/') + ".on-disk";
    private string Filler => Path.Combine(dataDirectory, "fault-filler.bin");
    private long _size;

    public bool Mounted { get; private set; }

    /// <summary>Moves the data onto a new tmpfs; null when done, otherwise why not (and nothing changed).</summary>
    public string? Mount()
    {
        long used = Directory.EnumerateFiles(dataDirectory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        _size = (used + SpareBytes + (1 << 20) - 1) >> 20 << 20;
        Directory.Move(dataDirectory, _onDisk);
        Directory.CreateDirectory(dataDirectory);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={_size >> 20}m", "tmpfs", dataDirectory);
        if (code != 0)
        {
            Directory.Delete(dataDirectory);
            Directory.Move(_onDisk, dataDirectory);
            return output.Trim().Length > 0 ? output.Trim() : $"mount exited with {code}";
        }
        Mounted = true;
        Copy(_onDisk, dataDirectory);
        return null;
    }

    /// <summary>Writes a filler file that leaves <paramref name="headroom"/> bytes free on the tmpfs.</summary>
    public void Fill(long headroom)
    {
        long fill = Math.Max(0, AvailableBytes() - headroom);
        var chunk = new byte[1 << 20];
        using var file = new FileStream(Filler, FileMode.Create, FileAccess.Write);
        for (long written = 0; written < fill; written += chunk.Length)
            file.Write(chunk, 0, (int)Math.Min(chunk.Length, fill - written));
    }

    public void Free() => File.Delete(Filler);

    public string Describe() => $"data on a {_size >> 20} MiB tmpfs, {AvailableBytes() >> 10} KiB free";

    /// <summary>Copies the data back onto the disk and unmounts the tmpfs (no-op when not mounted).</summary>
    public void Restore()
    {
        if (!Mounted) return;
        Free();
        Directory.Delete(_onDisk, recursive: true);
        Copy(dataDirectory, _onDisk);
        if (Run("umount", dataDirectory).Code != 0) Run("umount", "-l", dataDirectory);
        Mounted = false;
        Directory.Delete(dataDirectory);
        Directory.Move(_onDisk, dataDirectory);
    }

    private long AvailableBytes()
    {
        var (code, output) = Run("df", "-B1", "--output=avail", dataDirectory);
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return code == 0 && long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
            ? bytes : throw new InvalidOperationException($"df {dataDirectory} failed: {output.Trim()}");
    }

    private static void Copy(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)), overwrite: true);
    }

    private static (int Code, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, $"{program}: {e.Message}");
        }
    }
}
