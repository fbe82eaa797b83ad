using System.Globalization;

namespace Chain.Cli.Bench;

/// <summary>
/// A process's resident memory from Linux's /proc/PID/status: VmRSS now and VmHWM, the kernel's exact peak of VmRSS
/// since the process started (no sampling can miss a short peak), and VmRSS split into anonymous memory (the GC heap,
/// malloc arenas: RocksDB's memtables and caches) and mapped files. NaN where /proc is unavailable.
/// </summary>
internal static class ProcessMemory
{
    public readonly record struct Sample(double RssMb, double PeakMb, double AnonMb, double FileMb);

    public static Sample Read(int? pid)
    {
        double rss = double.NaN, peak = double.NaN, anon = double.NaN, file = double.NaN;
        if (pid is null) return new Sample(rss, peak, anon, file);
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kib(line) / 1024.0;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kib(line) / 1024.0;
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kib(line) / 1024.0;
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kib(line) / 1024.0;
        }
        catch (IOException)
        {
        }
        return new Sample(rss, peak, anon, file);
    }

    // "VmRSS:	  123456 kB"
    private static long Kib(string line) =>
        long.Parse(line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
