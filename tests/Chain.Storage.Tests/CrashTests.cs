using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Xunit.Abstractions;

namespace Chain.Storage.Tests;

/// <summary>
/// Kills a writer process with SIGKILL at seeded points and checks that RocksDB recovers to a prefix of
/// whole batches: every batch entirely present or entirely absent, every acknowledged batch present.
/// </summary>
public sealed class CrashTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _directory = new();
    private readonly ITestOutputHelper _output;

    public CrashTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Batches_are_all_or_nothing_across_sigkill()
    {
        var path = _directory.Sub("db");
        var random = new Random(20261125);
        long next = 0;
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 3; round++)
        {
            // Round 0 kills right after "ready", which may land inside the very first write.
            int acknowledgementsBeforeKill = round == 0 ? 0 : random.Next(1, 10);
            long lastAcknowledged = next - 1;
            using (var child = StartChild(path, next, out var stderr))
            {
                try
                {
                    await ExpectLine(child, "ready", stderr);
                    _output.WriteLine($"round {round}: child ready at {clock.ElapsedMilliseconds} ms");
                    if (round == 0)
                    {
                        // A second process must not open a store that another process holds.
                        var refused = Assert.Throws<StoreInUseException>(() => RocksDbStore.Open(path));
                        Assert.Contains(Path.GetFullPath(path), refused.Message);
                    }
                    for (int i = 0; i < acknowledgementsBeforeKill; i++)
                    {
                        var line = await ExpectLine(child, "wrote ", stderr);
                        lastAcknowledged = long.Parse(line["wrote ".Length..], System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
                finally
                {
                    child.Kill(entireProcessTree: true);
                    Assert.True(child.WaitForExit((int)Deadline.TotalMilliseconds), "killed child did not exit");
                }
            }
            _output.WriteLine($"round {round}: killed after batch {lastAcknowledged} at {clock.ElapsedMilliseconds} ms");
            next = VerifyPrefixOfWholeBatches(path, lastAcknowledged) + 1;
            _output.WriteLine($"round {round}: store recovered through batch {next - 1} at {clock.ElapsedMilliseconds} ms");
        }
        Assert.True(next > 3, $"only {next} batches were written across all rounds");
    }

    // Returns the last batch present; fails unless batches 0..last are whole and nothing else is there.
    private static long VerifyPrefixOfWholeBatches(string path, long lastAcknowledged)
    {
        using var store = RocksDbStore.Open(path);
        long last = store.Get(Column.Meta, CrashWorkload.LastBatchKey) is { } marker ? (long)Keys.ReadHeight(marker) : -1;
        Assert.True(last >= lastAcknowledged, $"batch {lastAcknowledged} was acknowledged but the store ends at {last}");
        for (long batch = 0; batch <= last + 1; batch++)
        {
            for (int j = 0; j < CrashWorkload.KeysPerBatch; j++)
            {
                var value = store.Get(CrashWorkload.ColumnOf(j), CrashWorkload.Key(batch, j));
                if (batch <= last) Assert.True(value is not null && value.AsSpan().SequenceEqual(CrashWorkload.Value(batch, j)), $"batch {batch} key {j} is missing or wrong");
                else Assert.Null(value);
            }
        }
        // Nothing beyond the marker: a torn batch would leave stray keys past it.
        for (int c = 0; c < 6; c++)
        {
            int expected = (int)(last + 1) * (CrashWorkload.KeysPerBatch / 6);
            Assert.Equal(expected, store.Iterate((Column)c).Count());
        }
        return last;
    }

    private static Process StartChild(string path, long firstBatch, out StringBuilder stderr)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add(Program.CrashChildVerb);
        start.ArgumentList.Add(path);
        start.ArgumentList.Add(firstBatch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the crash child");
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        stderr = errors;
        return process;
    }

    private static async Task<string> ExpectLine(Process child, string prefix, StringBuilder stderr)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        string? line;
        try
        {
            line = await child.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            line = null;
        }
        if (line is null || !line.StartsWith(prefix, StringComparison.Ordinal))
        {
            string errors;
            lock (stderr) errors = stderr.ToString();
            Assert.Fail($"expected '{prefix}...' from the crash child, got '{line ?? "<nothing>"}'; stderr: {errors}");
        }
        return line;
    }

    // The dotnet host running this test: the CLI sets DOTNET_HOST_PATH; otherwise it sits three levels
    // above the runtime directory (<root>/shared/Microsoft.NETCore.App/<version>/).
    private static string DotnetHost()
    {
        var fromCli = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromCli) && File.Exists(fromCli)) return fromCli;
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(root, "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }
}
