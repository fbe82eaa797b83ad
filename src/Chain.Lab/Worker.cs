using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chain.Core;
using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Lab;

/// <summary>The first line a worker prints: what the child process's runtime let it use, and on which ISA.</summary>
public sealed record WorkerHeader(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("avx512f")] bool Avx512F,
    [property: JsonPropertyName("avx2")] bool Avx2,
    [property: JsonPropertyName("hw_intrinsics")] bool HardwareIntrinsics,
    [property: JsonPropertyName("isa")] string? Isa = null,
    [property: JsonPropertyName("advsimd")] bool AdvSimd = false,
    [property: JsonPropertyName("dp")] bool Dp = false)
{
    /// <summary>One line for reports: the GEMM path and the instruction-set flags that chose it.</summary>
    public string Describe() => Isa == LabIsa.Arm64
        ? $"child path {Path} on arm64 (advsimd={AdvSimd}, dp={Dp}, hw={HardwareIntrinsics})"
        : $"child path {Path} (avx512f={Avx512F}, avx2={Avx2}, hw={HardwareIntrinsics})";
}

/// <summary>The instruction-set architecture names the lab uses: "x64", "arm64".</summary>
public static class LabIsa
{
    public const string X64 = "x64", Arm64 = "arm64";

    /// <summary>This process's architecture.</summary>
    public static string Host { get; } = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
}

public sealed record WorkerNode(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("node")] string Node,
    [property: JsonPropertyName("op")] string Op,
    [property: JsonPropertyName("output")] string Output,
    [property: JsonPropertyName("hash")] string Hash);

/// <summary>One line per input: its output hash, latency and (when asked) the node trace.</summary>
public sealed record WorkerResult(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("ms")] double Milliseconds,
    [property: JsonPropertyName("trace")] IReadOnlyList<WorkerNode>? Trace);

/// <summary>
/// The child side of the process configurations (`chain determinism-worker`): runs the canonical executor
/// on the lab's input set, as rebuilt from (N, seed), and prints JSON lines on stdout. It runs in a process
/// whose DOTNET_Enable* variables decide which instruction sets .NET (and so the kernels) may use.
/// </summary>
public static class LabWorker
{
    public const string Command = "determinism-worker";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <param name="only">Run just this input index (trace requests), or all when null.</param>
    /// <param name="inputDirectory">Read the inputs from this folder (<see cref="LabInputs.Read"/>) instead of generating them.</param>
    public static void Run(byte[] modelBytes, int perPattern, int seed, bool trace, int? only, int warmupMs, TextWriter output,
        string? inputDirectory = null)
    {
        using var canonical = CanonicalExecutor.Load(modelBytes);
        var inputs = LabInputs.Create(canonical.Inputs, new LabInputSpec(perPattern, seed, 0, inputDirectory));
        output.WriteLine(JsonSerializer.Serialize(new WorkerHeader(KernelOptions.Current.ToString().ToLowerInvariant(),
            Avx512F.IsSupported, Avx2.IsSupported, Vector128.IsHardwareAccelerated, LabIsa.Host,
            AdvSimd.Arm64.IsSupported, Dp.IsSupported), Json));
        LabConfiguration.WarmUp(() => canonical.Run(inputs[0].Tensors), warmupMs);
        var clock = new Stopwatch();
        for (int i = 0; i < inputs.Count; i++)
        {
            if (only is { } o && o != i) continue;
            clock.Restart();
            var outputs = canonical.Run(inputs[i].Tensors);
            clock.Stop();
            IReadOnlyList<WorkerNode>? nodes = null;
            if (trace)
            {
                nodes = canonical.RunTraced(inputs[i].Tensors).Trace
                    .Select(t => new WorkerNode(t.NodeIndex, t.Node, t.OpType, t.Output, t.Hash.ToString())).ToArray();
            }
            output.WriteLine(JsonSerializer.Serialize(new WorkerResult(i, LabInputs.OutputHash(outputs), clock.Elapsed.TotalMilliseconds, nodes), Json));
        }
    }

    /// <summary>Parses a worker's stdout.</summary>
    public static (WorkerHeader Header, IReadOnlyList<WorkerResult> Results) Parse(string stdout)
    {
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0) throw new InvalidOperationException("the worker printed nothing");
        var header = JsonSerializer.Deserialize<WorkerHeader>(lines[0], Json) ?? throw new InvalidOperationException("bad worker header");
        var results = lines.Skip(1).Select(l => JsonSerializer.Deserialize<WorkerResult>(l, Json)
            ?? throw new InvalidOperationException($"bad worker line: {l}")).ToArray();
        return (header, results);
    }

    internal static NodeOutputHash ToNodeHash(WorkerNode n) => new(n.Index, n.Node, n.Op, n.Output, Hash32.Parse(n.Hash));
}

/// <summary>Starts a worker process with extra environment variables and returns its stdout.</summary>
public interface IWorkerLauncher
{
    string Run(IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> arguments);
}

/// <summary>
/// Launches <c>fileName leadingArguments... arguments...</c>, e.g. the chain apphost, <c>dotnet chain.dll</c>, or
/// <c>qemu-aarch64-static arm64/chain</c>, with <paramref name="baseEnvironment"/> under each run's own variables.
/// </summary>
public sealed class ProcessWorkerLauncher(string fileName, IReadOnlyList<string> leadingArguments,
    IReadOnlyDictionary<string, string>? baseEnvironment = null) : IWorkerLauncher
{
    public string FileName { get; } = fileName;
    public IReadOnlyList<string> LeadingArguments { get; } = leadingArguments;
    public IReadOnlyDictionary<string, string> BaseEnvironment { get; } = baseEnvironment ?? new Dictionary<string, string>();

    /// <summary>
    /// The running program itself: the apphost when started as `chain`, or `dotnet entry.dll` when started
    /// through the dotnet host (where the process path is dotnet, not chain).
    /// </summary>
    public static ProcessWorkerLauncher ForCurrentProcess()
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("the process path is unknown");
        if (Path.GetFileNameWithoutExtension(processPath) != "dotnet") return new ProcessWorkerLauncher(processPath, []);
        var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        if (string.IsNullOrEmpty(entry)) throw new InvalidOperationException("the entry assembly's location is unknown");
        return new ProcessWorkerLauncher(processPath, [entry]);
    }

    public string Run(IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in LeadingArguments.Concat(arguments)) start.ArgumentList.Add(a);
        foreach (var (key, value) in BaseEnvironment.Concat(environment)) start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {FileName}");
        // Both pipes are drained concurrently so a chatty stderr cannot block the child.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"worker exited with {process.ExitCode}: {stderr.Result.Trim()}");
        return stdout.Result;
    }
}

/// <summary>
/// The canonical executor in a child process with the given environment (DOTNET_Enable*=0, CHAIN_KERNELS=scalar),
/// on this machine's ISA or, through its launcher, on another (the arm64 build under qemu).
/// </summary>
public sealed class ChildProcessConfiguration : LabConfiguration
{
    private readonly IWorkerLauncher _launcher;
    private readonly IReadOnlyDictionary<string, string> _environment;

    /// <summary>On this machine with each of <paramref name="disabled"/> set to 0.</summary>
    public ChildProcessConfiguration(IReadOnlyList<string> disabled, IWorkerLauncher launcher)
        : this(LabIsa.Host, disabled.ToDictionary(d => d, _ => "0"), launcher)
    {
    }

    /// <summary>A worker of <paramref name="isa"/> with <paramref name="environment"/> set.</summary>
    public ChildProcessConfiguration(string isa, IReadOnlyDictionary<string, string> environment, IWorkerLauncher launcher)
    {
        Isa = isa;
        _environment = environment;
        _launcher = launcher;
    }

    public override string Isa { get; }
    public IReadOnlyList<string> Disabled => _environment.Where(e => e.Value == "0").Select(e => e.Key).ToArray();

    // "DOTNET_Enable" is dropped from the name to keep report columns and chart labels short.
    public override string Name => (Isa == LabIsa.Host ? "child" : Isa) + " " + (_environment.Count == 0 ? "default"
        : string.Join(",", _environment.Select(e => e.Key.Replace("DOTNET_Enable", "", StringComparison.Ordinal) + "=" + e.Value)));
    public override ConfigKind Kind => ConfigKind.ChildProcess;

    /// <summary>The arm64 build on its best path, with sdot hidden (the AdvSimd path), and forced scalar.</summary>
    public static IReadOnlyList<ChildProcessConfiguration> Arm64(IWorkerLauncher launcher) =>
    [
        new(LabIsa.Arm64, new Dictionary<string, string>(), launcher),
        new(LabIsa.Arm64, new Dictionary<string, string> { ["DOTNET_EnableArm64Dp"] = "0" }, launcher),
        new(LabIsa.Arm64, new Dictionary<string, string> { ["CHAIN_KERNELS"] = "scalar" }, launcher),
    ];

    /// <summary>Each variable alone, then all three.</summary>
    public static IReadOnlyList<ChildProcessConfiguration> Standard(IWorkerLauncher launcher) =>
    [
        new(["DOTNET_EnableAVX512F"], launcher),
        new(["DOTNET_EnableAVX2"], launcher),
        new(["DOTNET_EnableHWIntrinsic"], launcher),
        new(["DOTNET_EnableAVX512F", "DOTNET_EnableAVX2", "DOTNET_EnableHWIntrinsic"], launcher),
    ];

    public override ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec)
    {
        var (header, results) = Launch(model, spec, trace: false, only: null);
        // A foreign-ISA row must come from that ISA: a launcher pointed at the wrong build would otherwise pass as arm64.
        if (header.Isa is { } reported ? reported != Isa : Isa != LabIsa.Host)
            throw new InvalidOperationException($"the worker ran on {header.Isa ?? "an unreported ISA"}, not {Isa}");
        if (results.Count != inputs.Count)
            throw new InvalidOperationException($"worker returned {results.Count} results for {inputs.Count} inputs");
        var detail = header.Describe();
        return new ConfigRun(results.OrderBy(r => r.Index).Select(r => r.Hash).ToArray(), results.Average(r => r.Milliseconds), detail);
    }

    public override IReadOnlyList<NodeOutputHash> Trace(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, int index)
    {
        var (_, results) = Launch(model, spec, trace: true, only: index);
        var result = results.SingleOrDefault(r => r.Index == index) ?? throw new InvalidOperationException($"worker did not trace input {index}");
        return (result.Trace ?? []).Select(LabWorker.ToNodeHash).ToArray();
    }

    private (WorkerHeader, IReadOnlyList<WorkerResult>) Launch(PreparedModel model, LabInputSpec spec, bool trace, int? only)
    {
        var file = Path.Combine(Path.GetTempPath(), $"chain-lab-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(file, model.Bytes);
        try
        {
            var args = new List<string> { LabWorker.Command, "--model", file, "--inputs", spec.PerPattern.ToString(), "--seed", spec.Seed.ToString() };
            if (spec.WarmupMs > 0) args.AddRange(["--warmup-ms", spec.WarmupMs.ToString()]);
            if (trace) args.Add("--trace");
            if (only is { } o) args.AddRange(["--only", o.ToString()]);
            return LabWorker.Parse(_launcher.Run(_environment, args));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
