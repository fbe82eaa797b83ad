using Chain.Lab;

namespace Chain.Cli.Devnet;

/// <summary>Which validators of a devnet run the linux-arm64 build (`make chain-arm64`), and from where.</summary>
/// <param name="Count">How many validators, counted from the last one.</param>
/// <param name="Chain">The arm64 `chain` executable.</param>
/// <param name="Emulator">The user-mode emulator that runs it on another ISA (ignored on an arm64 machine).</param>
internal sealed record Arm64Nodes(int Count, string Chain = CrossIsa.DefaultArm64Chain, string Emulator = CrossIsa.DefaultEmulator);

/// <summary>
/// A mixed-architecture network: some nodes run another build of `chain` (the arm64 one, under qemu on x86),
/// chosen per node by a launcher of their own.
/// </summary>
internal sealed partial class LocalNetwork
{
    private readonly Dictionary<int, ProcessWorkerLauncher> _nodeLaunchers = [];

    /// <summary>The nodes that run the arm64 build, in index order.</summary>
    public IReadOnlyList<int> Arm64Indices { get; private set; } = [];

    /// <summary>Node <paramref name="i"/> runs with <paramref name="launcher"/> from its next <see cref="Start"/> on.</summary>
    public void UseLauncher(int i, ProcessWorkerLauncher launcher)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(i);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(i, Nodes.Count);
        _nodeLaunchers[i] = launcher;
    }

    private ProcessWorkerLauncher LauncherFor(int i) => _nodeLaunchers.GetValueOrDefault(i, _launcher);

    /// <summary>
    /// Makes the last <see cref="Arm64Nodes.Count"/> nodes run the arm64 build (<see cref="CrossIsa.Arm64Launcher"/>:
    /// natively on arm64, under the emulator elsewhere) with <c>inference.fast_path = false</c> in their config.toml:
    /// ONNX Runtime's arm64 library dies under qemu unless an arm64 /proc/cpuinfo is bound over the host's, and the
    /// fast path never decides a result anyway, so such a node runs every inference on the canonical executor.
    /// Call before starting those nodes.
    /// </summary>
    /// <exception cref="FileNotFoundException">The build or the emulator is missing (the message says how to get it).</exception>
    public void RunOnArm64(Arm64Nodes arm64)
    {
        if (arm64.Count < 0 || arm64.Count > Nodes.Count)
            throw new ArgumentOutOfRangeException(nameof(arm64), $"{arm64.Count} arm64 nodes in a network of {Nodes.Count}");
        var launcher = CrossIsa.Arm64Launcher(arm64.Chain, arm64.Emulator);
        var indices = Enumerable.Range(Nodes.Count - arm64.Count, arm64.Count).ToArray();
        foreach (var i in indices)
        {
            var home = Nodes[i].Home;
            var config = home.LoadConfig();
            config.Inference.FastPath = false;
            config.Save(home.ConfigPath);
            UseLauncher(i, launcher);
        }
        Arm64Indices = indices;
    }

    /// <summary>How many blocks of heights <paramref name="from"/>..<paramref name="to"/> node <paramref name="i"/>'s validator proposed (read from node 0).</summary>
    public async Task<int> ProposalsAsync(int i, ulong from, ulong to, CancellationToken ct = default)
    {
        var proposer = Nodes[i].ValidatorKey.Address;
        int count = 0;
        for (var h = from; h <= to; h++)
            if ((await Clients[0].BlockAsync(h, ct).ConfigureAwait(false)).Block.Header.Proposer == proposer) count++;
        return count;
    }
}
