using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Chain.Core;
using Chain.Execution;
using Chain.Lab;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Devnet;

/// <summary>
/// A local network of `chain start` processes on loopback: the homes of a testnet (published devnet keys, the
/// repository's genesis models) and one child process per validator, each logging to its home's node.log.
/// Used by `chain devnet`, `chain bench network` and the multi-process tests. Processes can be stopped
/// gracefully (SIGTERM), killed (SIGKILL) and restarted on the same home.
/// </summary>
internal sealed partial class LocalNetwork : IAsyncDisposable
{
    /// <summary>
    /// Short consensus timeouts, loose enough for two busy cores, and info logs (which the checks read): the fault
    /// campaign and the multi-process tests use them, so a run sees many heights and quick recoveries.
    /// </summary>
    public static void ShortTimeouts(NodeConfig config)
    {
        config.Consensus.TimeoutProposeMs = 1500;
        config.Consensus.TimeoutPrevoteMs = 500;
        config.Consensus.TimeoutPrecommitMs = 500;
        config.Consensus.TimeoutDeltaMs = 250;
        config.Consensus.MinBlockIntervalMs = 200;
        config.Log.Level = "info";
    }

    private readonly Process?[] _processes;
    private readonly ProcessWorkerLauncher _launcher;

    private LocalNetwork(IReadOnlyList<NodeHome.TestnetNode> nodes, Genesis genesis, ProcessWorkerLauncher launcher)
    {
        Nodes = nodes;
        Genesis = genesis;
        _launcher = launcher;
        _processes = new Process?[nodes.Count];
        Clients = nodes.Select(n => new RpcClient(new Uri($"http://127.0.0.1:{n.RpcPort}/"), genesis.Validators, TimeSpan.FromSeconds(30))).ToArray();
    }

    public IReadOnlyList<NodeHome.TestnetNode> Nodes { get; }
    public Genesis Genesis { get; }
    /// <summary>One RPC client per node; they verify what they read against the genesis validator set.</summary>
    public IReadOnlyList<RpcClient> Clients { get; }

    /// <summary>
    /// Creates the homes in <paramref name="directory"/> (which must be empty or absent) for <paramref name="validators"/>
    /// validators on ports from <paramref name="basePort"/> (0: find free ones). <paramref name="launcher"/> runs `chain`
    /// (default: this very program).
    /// </summary>
    public static LocalNetwork Create(string directory, int validators, Genesis repositoryGenesis, int basePort = 0, Action<NodeConfig>? configure = null,
        ProcessWorkerLauncher? launcher = null, int? genesisValidators = null, ExecutionParameters? parameters = null)
    {
        if (basePort == 0) basePort = FindFreePorts(2 * validators);
        var nodes = NodeHome.CreateTestnet(directory, validators, new ChainId("chain-devnet-local"), repositoryGenesis.Models, basePort, devnetKeys: true, configure,
            parameters: parameters, genesisValidators: genesisValidators);
        return new LocalNetwork(nodes, nodes[0].Home.LoadGenesis(), launcher ?? ProcessWorkerLauncher.ForCurrentProcess());
    }

    public bool IsRunning(int i) => _processes[i] is { HasExited: false };

    /// <summary>Starts node <paramref name="i"/> (`chain start --home ...` plus <paramref name="extraArguments"/>); its output is appended to node.log.</summary>
    public void Start(int i, params string[] extraArguments)
    {
        if (IsRunning(i)) throw new InvalidOperationException($"node {i} is already running");
        var home = Nodes[i].Home;
        var launcher = LauncherFor(i); // another build for a mixed-architecture node (LocalNetwork.Arm64.cs)
        var start = new ProcessStartInfo(launcher.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in launcher.LeadingArguments.Concat(["start", "--home", home.Root]).Concat(extraArguments)) start.ArgumentList.Add(a);
        foreach (var (key, value) in launcher.BaseEnvironment) start.Environment[key] = value;
        var log = new StreamWriter(new FileStream(LogPath(i), FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var gate = new object();
        void Write(string? line)
        {
            if (line is null) return;
            lock (gate) log.WriteLine(line);
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Exited += (_, _) =>
        {
            // Let the output pumps finish before closing the log.
            process.WaitForExit();
            lock (gate) log.Dispose();
        };
        if (!process.Start()) throw new InvalidOperationException($"could not start node {i}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes[i] = process;
    }

    public string LogPath(int i) => Path.Combine(Nodes[i].Home.Root, "node.log");

    /// <summary>SIGKILL: the process dies at once, mid-write if it was writing.</summary>
    public void Kill(int i)
    {
        if (_processes[i] is not { HasExited: false } process) return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>The pid of node <paramref name="i"/>'s process, or null when it is not running.</summary>
    public int? ProcessId(int i) => _processes[i] is { HasExited: false } p ? p.Id : null;

    /// <summary>SIGSTOP: the process freezes; to its peers it looks cut off by a partition (sockets stay open, nothing answers).</summary>
    public void Pause(int i)
    {
        if (ProcessId(i) is { } pid) SendSignal(pid, Sigstop);
    }

    /// <summary>SIGCONT: a paused process runs on.</summary>
    public void Resume(int i)
    {
        if (ProcessId(i) is { } pid) SendSignal(pid, Sigcont);
    }

    /// <summary>SIGTERM and wait for a clean exit; the exit code, or null if it had to be killed after <paramref name="grace"/>.</summary>
    public async Task<int?> StopAsync(int i, TimeSpan grace)
    {
        if (_processes[i] is not { HasExited: false } process) return _processes[i]?.ExitCode;
        SendSignal(process.Id, Sigcont); // a paused process could not act on SIGTERM
        SendSignal(process.Id, Sigterm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Kill(i);
            return null;
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="deadline"/> passes (RPC errors count as "not yet").</summary>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan deadline, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < deadline)
        {
            try
            {
                if (await condition().ConfigureAwait(false)) return true;
            }
            catch (Exception e) when (e is RpcClientException or HttpRequestException or TaskCanceledException or IOException)
            {
                // not up yet
            }
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>The node's committed height, or null when its RPC does not answer.</summary>
    public async Task<ulong?> HeightAsync(int i, CancellationToken ct = default)
    {
        try
        {
            return (await Clients[i].StatusAsync(ct).ConfigureAwait(false)).Height;
        }
        catch (Exception e) when (e is RpcClientException or HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// A base port with <paramref name="count"/> consecutive free loopback ports, below the kernel's ephemeral range
    /// (ip_local_port_range): a port found free inside it can be taken by any outgoing connection — another test's
    /// client — before the node binds it (a stress run's node 0 failed to start with "address already in use" that way).
    /// </summary>
    public static int FindFreePorts(int count)
    {
        var random = new Random(Environment.ProcessId);
        int low = 10_000, high = Math.Max(low + 1_000, EphemeralPortsFrom() - count);
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int basePort = random.Next(low, high);
            var sockets = new List<Socket>();
            try
            {
                for (int p = basePort; p < basePort + count; p++)
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    sockets.Add(s);
                    s.Bind(new IPEndPoint(IPAddress.Loopback, p));
                }
                return basePort;
            }
            catch (SocketException)
            {
                // taken: try another range
            }
            finally
            {
                foreach (var s in sockets) s.Dispose();
            }
        }
        throw new InvalidOperationException($"no {count} consecutive free ports found");
    }

    // The first port the kernel hands out to outgoing connections (Linux's default is 32768); 32768 where unknown.
    private static int EphemeralPortsFrom()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2 && int.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, out int from) && from is > 1024 and <= 65535) return from;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return 32_768;
    }

    public async ValueTask DisposeAsync()
    {
        var stops = Enumerable.Range(0, _processes.Length).Select(i => StopAsync(i, TimeSpan.FromSeconds(15))).ToArray();
        await Task.WhenAll(stops).ConfigureAwait(false);
        foreach (var c in Clients) c.Dispose();
        foreach (var p in _processes) p?.Dispose();
    }

    private const int Sigterm = 15, Sigcont = 18, Sigstop = 19; // Linux x86-64 numbers

    private static void SendSignal(int pid, int signal)
    {
        if (Kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
