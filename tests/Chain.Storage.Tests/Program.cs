namespace Chain.Storage.Tests;

/// <summary>
/// Entry point of the test assembly when the crash test launches it as a child process
/// (<c>dotnet Chain.Storage.Tests.dll crash-child &lt;dir&gt; &lt;first batch&gt;</c>). The test runner never calls it.
/// </summary>
public static class Program
{
    public const string CrashChildVerb = "crash-child";
    private const long MaxBatches = 100_000;

    public static int Main(string[] args)
    {
        if (args.Length != 3 || args[0] != CrashChildVerb)
        {
            Console.Error.WriteLine($"usage: {CrashChildVerb} <store directory> <first batch>");
            return 2;
        }
        long first = long.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        // If the parent dies without killing us, stdin closes: stop rather than write forever.
        var parentGone = new Thread(() =>
        {
            while (Console.In.ReadLine() is not null) { }
            Environment.Exit(3);
        }) { IsBackground = true };
        parentGone.Start();

        using var store = RocksDbStore.Open(args[1]);
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        for (long batch = first; batch < first + MaxBatches; batch++)
        {
            store.Write(CrashWorkload.Batch(batch), sync: true);
            Console.Out.WriteLine($"wrote {batch}");
            Console.Out.Flush();
        }
        return 0;
    }
}
