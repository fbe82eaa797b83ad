using System.Diagnostics;
using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Lab;

public enum ConfigKind
{
    /// <summary>The canonical executor in this process on a forced GEMM path.</summary>
    Canonical,
    /// <summary>The canonical executor in a child process with some CPU features hidden from .NET.</summary>
    ChildProcess,
    /// <summary>ONNX Runtime at one optimisation level and thread count.</summary>
    Ort,
}

/// <summary>Per-input output hashes of one configuration on one model, and its mean latency.</summary>
/// <param name="Outputs">The outputs themselves, per input, kept for float models (whose differences are measured, not just counted).</param>
public sealed record ConfigRun(IReadOnlyList<string> OutputHashes, double MeanLatencyMs, string? Detail = null,
    IReadOnlyList<IReadOnlyList<NamedTensor>>? Outputs = null);

/// <summary>One way of executing a model whose outputs the lab compares with the reference, input by input.</summary>
public abstract class LabConfiguration
{
    public abstract string Name { get; }
    public abstract ConfigKind Kind { get; }

    /// <summary>The instruction-set architecture the configuration runs on ("x64", "arm64").</summary>
    public virtual string Isa => LabIsa.Host;

    /// <summary>Canonical configurations run integer models only; ORT runs the float contrast model too.</summary>
    public virtual bool AppliesTo(PreparedModel model) => !model.IsFloat;

    public abstract ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec);

    /// <summary>The hash of every node output for one input, to find where this configuration first diverges.</summary>
    public abstract IReadOnlyList<NodeOutputHash> Trace(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, int index);

    public override string ToString() => Name;

    /// <summary>Called after each timed input (done, of how many), so a slow model's progress moves within a configuration.</summary>
    public Action<int, int>? InputDone { get; set; }

    /// <summary>Runs every input once, timed, after untimed warm-up runs (JIT tiering, ORT first-run allocation).</summary>
    /// <param name="keepOutputs">Return the outputs too (float models), not only their hashes.</param>
    protected ConfigRun Time(IModelExecutor executor, IReadOnlyList<LabInput> inputs, LabInputSpec spec, bool keepOutputs = false)
    {
        WarmUp(() => executor.Run(inputs[0].Tensors), spec.WarmupMs);
        var hashes = new string[inputs.Count];
        var kept = keepOutputs ? new IReadOnlyList<NamedTensor>[inputs.Count] : null;
        var clock = new Stopwatch();
        for (int i = 0; i < inputs.Count; i++)
        {
            clock.Start();
            var outputs = executor.Run(inputs[i].Tensors);
            clock.Stop();
            hashes[i] = LabInputs.OutputHash(outputs);
            if (kept is not null) kept[i] = outputs;
            InputDone?.Invoke(i + 1, inputs.Count);
        }
        return new ConfigRun(hashes, clock.Elapsed.TotalMilliseconds / inputs.Count, Outputs: kept);
    }

    /// <summary>
    /// Repeats <paramref name="run"/> for about <paramref name="milliseconds"/> (at least once, at most 100,000 times):
    /// long enough for .NET to move hot kernels from tier-0 to optimised code, so latencies compare code, not JIT state.
    /// </summary>
    public static void WarmUp(Action run, int milliseconds)
    {
        var clock = Stopwatch.StartNew();
        var count = 0;
        do
        {
            run();
            count++;
        } while (clock.ElapsedMilliseconds < milliseconds && count < 100_000);
    }
}

/// <summary>
/// How the input set was made, so a child process can rebuild it exactly — generated from (N, seed), or read from
/// <paramref name="InputDirectory"/> — and how long to warm up before timing.
/// </summary>
public sealed record LabInputSpec(int PerPattern, int Seed, int WarmupMs = 0, string? InputDirectory = null);

/// <summary>The canonical executor in-process with <see cref="KernelOptions.Use"/> forcing one GEMM path.</summary>
public sealed class CanonicalPathConfiguration(GemmPath path) : LabConfiguration
{
    public GemmPath Path { get; } = path;
    public override string Name => $"canonical {Path.ToString().ToLowerInvariant()}";
    public override ConfigKind Kind => ConfigKind.Canonical;

    public override ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec)
    {
        using var scope = KernelOptions.Use(Path);
        return Time(model.Canonical!, inputs, spec);
    }

    public override IReadOnlyList<NodeOutputHash> Trace(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, int index)
    {
        using var scope = KernelOptions.Use(Path);
        return model.Canonical!.RunTraced(inputs[index].Tensors).Trace;
    }
}

/// <summary>ONNX Runtime with the given settings; traced through a copy of the model that outputs every node's value.</summary>
public sealed class OrtConfiguration(OrtSettings settings) : LabConfiguration
{
    public OrtSettings Settings { get; } = settings;
    public override string Name => NameOf(Settings);

    /// <summary>"ort basic t2": the settings as report rows name them.</summary>
    public static string NameOf(OrtSettings settings) => $"ort {settings.Optimization.ToString().ToLowerInvariant()} t{settings.IntraOpThreads}";
    public override ConfigKind Kind => ConfigKind.Ort;
    public override bool AppliesTo(PreparedModel model) => true;

    public override ConfigRun Run(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec)
    {
        using var ort = new OrtExecutor(model.Bytes, Settings);
        return Time(ort, inputs, spec, keepOutputs: model.IsFloat);
    }

    public override IReadOnlyList<NodeOutputHash> Trace(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, int index)
    {
        // Exposing intermediates can stop ORT fusing nodes, so a divergence seen in Run may vanish here;
        // the caller reports that case as "not localised" rather than guessing.
        using var ort = new OrtExecutor(model.WithAllOutputs(), Settings);
        var outputs = ort.Run(inputs[index].Tensors).ToDictionary(o => o.Name, o => o.Value);
        return model.Order
            .Where(p => outputs.ContainsKey(p.Output))
            .Select(p => new NodeOutputHash(p.NodeIndex, p.Node, p.OpType, p.Output, outputs[p.Output].Hash))
            .ToArray();
    }
}
