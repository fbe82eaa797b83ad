namespace Chain.Lab;

/// <summary>
/// The lab across instruction-set architectures: starts the linux-arm64 build of <c>chain</c> as the worker of
/// the arm64 configurations — directly on an arm64 machine, under qemu user-mode emulation elsewhere — and
/// compares its per-input output hashes (JSON lines) with this process's reference.
/// </summary>
public static class CrossIsa
{
    /// <summary>Where `make chain-arm64` publishes the build, relative to the repository root.</summary>
    public const string DefaultArm64Chain = ".data/arm64/chain";

    public const string DefaultEmulator = "qemu-aarch64-static";

    /// <summary>Parses "x64,arm64": known names, no repeats, and the host's own ISA among them (it holds the reference).</summary>
    public static IReadOnlyList<string> ParseIsas(string text)
    {
        var isas = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var isa in isas)
            if (isa is not (LabIsa.X64 or LabIsa.Arm64)) throw new ArgumentException($"unknown ISA '{isa}' (known: x64, arm64)");
        if (isas.Distinct().Count() != isas.Length) throw new ArgumentException($"ISA listed twice in '{text}'");
        if (!isas.Contains(LabIsa.Host)) throw new ArgumentException($"the ISAs must include this machine's ({LabIsa.Host}), whose run is the reference");
        if (isas.Any(i => i != LabIsa.Host && i != LabIsa.Arm64))
            throw new ArgumentException($"only arm64 can be run as a foreign ISA (under qemu); this machine is {LabIsa.Host}");
        return isas;
    }

    /// <summary>
    /// The worker launcher for the arm64 build at <paramref name="chainPath"/>: the build itself on an arm64
    /// machine, else <paramref name="emulator"/> (found on PATH or given as a path) running it.
    /// </summary>
    /// <exception cref="FileNotFoundException">The build or the emulator is missing (the message says how to get it).</exception>
    /// <param name="cpuinfo">
    /// Under emulation only: an arm64 /proc/cpuinfo to bind over the host's in a private mount namespace for each worker
    /// (`unshare -m`, root), without which ONNX Runtime's arm64 library crashes under qemu-user; null to run as is.
    /// </param>
    public static ProcessWorkerLauncher Arm64Launcher(string chainPath, string emulator = DefaultEmulator, string? cpuinfo = null)
    {
        var chain = Path.GetFullPath(chainPath);
        if (!File.Exists(chain))
            throw new FileNotFoundException($"no arm64 build of chain at {chain}: run `make chain-arm64` (or pass --arm64-chain)", chain);
        if (LabIsa.Host == LabIsa.Arm64) return new ProcessWorkerLauncher(chain, []);
        var qemu = FindExecutable(emulator)
            ?? throw new FileNotFoundException($"{emulator} not found: `make chain-arm64` installs qemu-user-static and the arm64 runtime libraries", emulator);
        // The arm64 runtime libraries come from Debian's multiarch packages; ICU does not, so globalization is invariant
        // (no output hash depends on culture).
        var environment = new Dictionary<string, string> { ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1" };
        if (cpuinfo is null) return new ProcessWorkerLauncher(qemu, [chain], environment);
        var file = Path.GetFullPath(cpuinfo);
        if (!File.Exists(file))
            throw new FileNotFoundException($"no arm64 cpuinfo at {file}: `make chain-arm64` writes one to .data/arm64-cpuinfo", file);
        var unshare = FindExecutable("unshare") ?? throw new FileNotFoundException("unshare (util-linux) not found", "unshare");
        // The bind mount lives only in the worker's namespace: this process and the host keep the real /proc/cpuinfo.
        return new ProcessWorkerLauncher(unshare, ["-m", "sh", "-c", "mount --bind \"$0\" /proc/cpuinfo && exec \"$@\"", file, qemu, chain], environment);
    }

    private static string? FindExecutable(string name)
    {
        if (name.Contains('/')) return File.Exists(name) ? Path.GetFullPath(name) : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
