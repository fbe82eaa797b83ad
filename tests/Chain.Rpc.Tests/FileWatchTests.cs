using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;

namespace Chain.Rpc.Tests;

/// <summary>
/// The RPC server watches no files. ASP.NET's default host reloads appsettings.json on change by watching its content
/// root, the working directory: nodes started in a busy folder (`chain bench network` from /tmp, where other programs
/// write all the time) each kept a ".NET File Watch" thread waking on every change there — 5 % of the machine's CPU in
/// a profile of the benchmark's burst, with perf's symbol maps also written to /tmp. The node has no appsettings.
/// </summary>
public sealed class FileWatchTests
{
    [Fact]
    public async Task Starting_the_RPC_server_adds_no_inotify_watch()
    {
        if (!OperatingSystem.IsLinux()) return; // inotify is how .NET watches files on Linux; /proc shows its watches
        int before = InotifyWatches();
        var node = new InProcessRpcNode(RpcTestHost.Genesis, RpcTestHost.ValidatorKeys, new InferenceRunner(new InferenceEngine(enableFastPath: false)));
        await using var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        using var client = new RpcClient(server.BaseAddress, RpcTestHost.Genesis.Validators);
        await client.StatusAsync();
        Assert.Equal(before, InotifyWatches());
    }

    // Every inotify watch this process holds: one "inotify wd:" line per watch in /proc/self/fdinfo of an inotify fd.
    private static int InotifyWatches()
    {
        int watches = 0;
        foreach (var fd in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            try
            {
                watches += File.ReadLines(fd).Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                // closed meanwhile
            }
        }
        return watches;
    }
}
