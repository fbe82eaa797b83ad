using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chain.Core;
using Chain.Core.Codec;
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
    [property: JsonPropertyName("dp")] bool Dp = false,
    [property: JsonPropertyName("ort")] string? Ort = null)
{
    /// <summary>One line for reports: the GEMM path (or the ORT settings) and the instruction-set flags that chose it.</summary>
    public string Describe() => Ort is not null
        ? $"child {Ort} on {Isa ?? "an unreported ISA"} (advsimd={AdvSimd}, dp={Dp})"
        : Isa == LabIsa.Arm64
        ? $"child path {Path} on arm64 (advsimd={AdvSimd}, dp={Dp}, hw={HardwareIntrinsics})"
        : $"child path {Path} (avx512f={Avx512F}, avx2={Avx2}, hw={HardwareIntrinsics})";

    /// <summary>A foreign-ISA row must come from that ISA: a launcher pointed at the wrong build would otherwise pass as arm64.</summary>
    /// <exception cref="InvalidOperationException">The worker ran on another ISA than <paramref name="isa"/>.</exception>
    public void RequireIsa(string isa)
    {
        if (Isa is { } reported ? reported != isa : isa != LabIsa.Host)
            throw new InvalidOperationException($"the worker ran on {Isa ?? "an unreported ISA"}, not {isa}");
    }
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

/// <summary>One output tensor, canonically encoded (<see cref="Chain.Inference.Tensor"/>) and base64'd.</summary>
public sealed record WorkerOutput(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("tensor")] string Tensor)
{
    public static WorkerOutput From(NamedTensor t) => new(t.Name, Convert.ToBase64String(Canonical.Encode(t.Value)));

    /// <summary>Decoded strictly: anything but a tensor's canonical encoding is refused.</summary>
    public NamedTensor Decode() => new(Name, Canonical.Decode<Chain.Inference.Tensor>(Convert.FromBase64String(Tensor)));
}

/// <summary>One line per input: its output hash, latency, (when asked) the node trace and (for float models) the outputs themselves.</summary>
public sealed record WorkerResult(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("ms")] double Milliseconds,
    [property: JsonPropertyName("trace")] IReadOnlyList<WorkerNode>? Trace,
    [property: JsonPropertyName("outputs")] IReadOnlyList<WorkerOutput>? Outputs = null,
    [property: JsonPropertyName("ort")] string? Ort = null);

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

    /// <summary>
    /// The ONNX Runtime side of a worker (`--ort LEVEL:THREADS`): runs <paramref name="modelBytes"/> — any ONNX model ORT
    /// accepts — on the inputs the parent wrote to <paramref name="inputDirectory"/> (<see cref="LabInputs.Write"/>).
    /// A trace lists every graph output's hash (the parent sends a copy of the model with every node output exposed);
    /// <paramref name="values"/> adds the outputs themselves, for the float metrics.
    /// </summary>
    /// <param name="settings">The settings to run, one after the other in one process (under qemu each start costs seconds).</param>
    public static void RunOrt(byte[] modelBytes, IReadOnlyList<OrtSettings> settings, string inputDirectory, bool trace, int? only, int warmupMs, bool values,
        TextWriter output)
    {
        var graph = Chain.Inference.Onnx.OnnxModel.ParseForTooling(modelBytes).Graph;
        var initializers = graph.Initializers.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = LabInputs.Read(LabInputs.WrittenSpecs(graph.Inputs.Where(i => !initializers.Contains(i.Name)).Select(i => i.Name).ToArray(), inputDirectory),
            inputDirectory);
        output.WriteLine(JsonSerializer.Serialize(new WorkerHeader("ort", false, false, Vector128.IsHardwareAccelerated, LabIsa.Host,
            AdvSimd.Arm64.IsSupported, Dp.IsSupported, "ort"), Json));
        output.Flush(); // the header says how far the worker got should ORT crash the process below
        foreach (var setting in settings)
        {
            var name = OrtConfiguration.NameOf(setting);
            using var ort = new OrtExecutor(modelBytes, setting);
            LabConfiguration.WarmUp(() => ort.Run(inputs[0].Tensors), warmupMs);
            var clock = new Stopwatch();
            for (int i = 0; i < inputs.Count; i++)
            {
                if (only is { } o && o != i) continue;
                clock.Restart();
                var outputs = ort.Run(inputs[i].Tensors);
                clock.Stop();
                var nodes = trace ? outputs.Select(t => new WorkerNode(-1, "", "", t.Name, t.Value.Hash.ToString())).ToArray() : null;
                output.WriteLine(JsonSerializer.Serialize(new WorkerResult(i, LabInputs.OutputHash(outputs), clock.Elapsed.TotalMilliseconds, nodes,
                    values ? outputs.Select(WorkerOutput.From).ToArray() : null, name), Json));
            }
            output.Flush();
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
        if (process.ExitCode != 0) throw new WorkerFailedException(process.ExitCode, stderr.Result.Trim());
        return stdout.Result;
    }
}

/// <summary>A worker process that exited with a non-zero code (128 + N: killed by signal N).</summary>
public sealed class WorkerFailedException(int exitCode, string stderr)
    : InvalidOperationException($"worker exited with {exitCode}{SignalName(exitCode)}: {FirstLines(stderr)}")
{
    public int ExitCode { get; } = exitCode;
    public string Stderr { get; } = stderr;

    /// <summary>True when a signal that a crash raises ended the process (SIGSEGV, SIGBUS, SIGILL, SIGABRT).</summary>
    public bool Crashed => ExitCode is 128 + 11 or 128 + 7 or 128 + 4 or 128 + 6;

    private static string SignalName(int code) => code switch
    {
        128 + 11 => " (SIGSEGV)",
        128 + 7 => " (SIGBUS)",
        128 + 4 => " (SIGILL)",
        128 + 6 => " (SIGABRT)",
        128 + 9 => " (SIGKILL)",
        _ => "",
    };

    // A crash can print pages of native stack; a report row keeps the first lines.
    private static string FirstLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(2);
        var joined = string.Join(" / ", lines);
        return joined.Length > 300 ? joined[..300] + "…" : joined;
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

    /// <summary>Each variable alone, then all three (on an arm64 host: the dot product hidden, then all SIMD hidden).</summary>
    public static IReadOnlyList<ChildProcessConfiguration> Standard(IWorkerLauncher launcher) => LabIsa.Host == LabIsa.Arm64
    ?
    [
        new(["DOTNET_EnableArm64Dp"], launcher),
        new(["DOTNET_EnableHWIntrinsic"], launcher),
    ]
    :
    [
        new(["DOTNET_EnableAVX512F"], launcher),
        new(["DOTNET_EnableAVX2"], launcher),
        new(["DOTNET_EnableHWIntrinsic"], launcher),
        new(["DOTNET_EnableAVX512F", "DOTNET_EnableAVX2", "DOTNET_EnableHWIntrinsic"], launcher),
    ];

    public override ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec)
    {
        var (header, results) = Launch(model, spec, trace: false, only: null);
        header.RequireIsa(Isa);
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
            if (spec.InputDirectory is { } dir) args.AddRange(["--input-dir", Path.GetFullPath(dir)]);
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

/// <summary>
/// ONNX Runtime at one optimisation level and thread count in a worker of another ISA (the arm64 build, whose ORT is
/// the linux-arm64 native library: other MLAS kernels). The parent writes the exact inputs to a folder for it, so a
/// float model needs no input rules in the worker. A worker that crashes (ORT under qemu-user without an arm64
/// /proc/cpuinfo) makes this row an error that says why; the run goes on.
/// </summary>
public sealed class OrtWorkerConfiguration : LabConfiguration
{
    private readonly IWorkerLauncher _launcher;
    private readonly OrtWorkerBatch _batch;

    /// <param name="batch">Shared by configurations that run together: one worker runs all their settings per model.</param>
    public OrtWorkerConfiguration(string isa, OrtSettings settings, IWorkerLauncher launcher, OrtWorkerBatch? batch = null)
    {
        Isa = isa;
        Settings = settings;
        _launcher = launcher;
        _batch = batch ?? new OrtWorkerBatch([settings]);
    }

    public OrtSettings Settings { get; }
    public override string Isa { get; }
    public override string Name => $"{Isa} {OrtConfiguration.NameOf(Settings)}";
    public override ConfigKind Kind => ConfigKind.Ort;
    public override bool AppliesTo(PreparedModel model) => true;

    /// <summary>The arm64 worker at every optimisation level × 1, 2, 4 threads, as in this process: one worker start per model.</summary>
    public static IReadOnlyList<OrtWorkerConfiguration> Arm64(IWorkerLauncher launcher)
    {
        var batch = new OrtWorkerBatch(DeterminismLab.OrtGrid);
        return DeterminismLab.OrtGrid.Select(s => new OrtWorkerConfiguration(LabIsa.Arm64, s, launcher, batch)).ToArray();
    }

    public override ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec)
    {
        var (header, all) = _batch.Get(model, () => Launch(_batch.Settings, model.Bytes, inputs, spec, trace: false, only: null, values: model.IsFloat));
        header.RequireIsa(Isa);
        var name = OrtConfiguration.NameOf(Settings);
        var results = all.Where(r => r.Ort == name).ToArray();
        if (results.Length != inputs.Count)
            throw new InvalidOperationException($"worker returned {results.Length} results for {inputs.Count} inputs");
        var ordered = results.OrderBy(r => r.Index).ToArray();
        var outputs = model.IsFloat
            ? ordered.Select(r => (IReadOnlyList<NamedTensor>)(r.Outputs ?? throw new InvalidOperationException("the worker sent no outputs"))
                .Select(o => o.Decode()).ToArray()).ToArray()
            : null;
        return new ConfigRun(ordered.Select(r => r.Hash).ToArray(), ordered.Average(r => r.Milliseconds), (header with { Ort = name }).Describe(), outputs);
    }

    public override IReadOnlyList<NodeOutputHash> Trace(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, int index)
    {
        var (_, results) = Launch([Settings], model.WithAllOutputs(), inputs, spec with { WarmupMs = 0 }, trace: true, only: index, values: false);
        var result = results.SingleOrDefault(r => r.Index == index) ?? throw new InvalidOperationException($"worker did not trace input {index}");
        var hashes = (result.Trace ?? []).ToDictionary(n => n.Output, n => Hash32.Parse(n.Hash), StringComparer.Ordinal);
        return model.Order.Where(p => hashes.ContainsKey(p.Output))
            .Select(p => new NodeOutputHash(p.NodeIndex, p.Node, p.OpType, p.Output, hashes[p.Output])).ToArray();
    }

    private (WorkerHeader, IReadOnlyList<WorkerResult>) Launch(IReadOnlyList<OrtSettings> settings, byte[] modelBytes, IReadOnlyList<LabInput> inputs,
        LabInputSpec spec, bool trace, int? only, bool values)
    {
        var dir = Directory.CreateTempSubdirectory($"chain-lab-{Environment.ProcessId}-").FullName;
        try
        {
            var file = Path.Combine(dir, "model.onnx");
            File.WriteAllBytes(file, modelBytes);
            var inputDir = Path.Combine(dir, "inputs");
            LabInputs.Write(inputs, inputDir);
            var args = new List<string> { LabWorker.Command, "--model", file, "--inputs", "1", "--seed", "0", "--input-dir", inputDir,
                "--ort", string.Join(",", settings.Select(s => $"{s.Optimization.ToString().ToLowerInvariant()}:{s.IntraOpThreads}")) };
            if (spec.WarmupMs > 0) args.AddRange(["--warmup-ms", spec.WarmupMs.ToString()]);
            if (trace) args.Add("--trace");
            if (values) args.Add("--values");
            if (only is { } o) args.AddRange(["--only", o.ToString()]);
            try
            {
                return LabWorker.Parse(_launcher.Run(new Dictionary<string, string>(), args));
            }
            catch (WorkerFailedException e) when (e.Crashed && Isa != LabIsa.Host)
            {
                throw new InvalidOperationException($"ONNX Runtime {Isa} could not run here: {e.Message}. Under qemu-user ORT's CPU detection "
                    + "reads the x86 host's /proc/cpuinfo and crashes; run the lab natively on arm64, or pass --arm64-cpuinfo FILE (root: "
                    + "an arm64 /proc/cpuinfo bound in a private mount namespace)", e);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>
/// One worker run per model for a set of ORT configurations: the first configuration to ask launches the worker with
/// every setting, the others read its results (or get its error). Under qemu a worker start costs tens of seconds.
/// </summary>
public sealed class OrtWorkerBatch(IReadOnlyList<OrtSettings> settings)
{
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<PreparedModel, Lazy<(WorkerHeader, IReadOnlyList<WorkerResult>)>> _runs = new();

    public IReadOnlyList<OrtSettings> Settings { get; } = settings;

    /// <summary>The batch's results for <paramref name="model"/>, launching once; a failed launch fails every configuration alike.</summary>
    public (WorkerHeader Header, IReadOnlyList<WorkerResult> Results) Get(PreparedModel model, Func<(WorkerHeader, IReadOnlyList<WorkerResult>)> launch) =>
        _runs.GetValue(model, _ => new Lazy<(WorkerHeader, IReadOnlyList<WorkerResult>)>(launch)).Value;
}
