using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Lab;

/// <summary>One configuration on one model: how often it reproduced the reference bytes, where it first diverged, how fast it ran.</summary>
/// <param name="Float">For a float model: how far its outputs were from the reference's (null for integer models, and for errors).</param>
public sealed record LabRow(
    string Model,
    string Configuration,
    ConfigKind Kind,
    bool Consensus,
    int Runs,
    int Matches,
    double MatchRate,
    string? FirstDivergentInput,
    string? DivergentNode,
    string? DivergentOp,
    double MeanLatencyMs,
    double Gops,
    double PeakFraction,
    string? Detail,
    string? Error,
    string Isa,
    FloatDivergence? Float = null)
{
    public bool FullMatch => Error is null && Runs > 0 && Matches == Runs;
}

/// <param name="NotAdmitted">Why admission refused a researcher's model, which the lab then measures under ONNX Runtime only.</param>
/// <param name="Quantized">For an int8 twin made by --quantize: its float model and the accuracy cost.</param>
public sealed record LabModelInfo(string Name, string ModelId, bool IsFloat, long Macs, string Reference, int Nodes, string? NotAdmitted = null,
    LabQuantizedInfo? Quantized = null)
{
    /// <summary>The report's one-line caveat for a model consensus would not admit.</summary>
    public string? Caveat => NotAdmitted is null ? null : $"not admitted: {NotAdmitted} — measured under ONNX Runtime only; canonical semantics do not apply";
}

public sealed record LabReport(
    string Machine,
    string BestGemmPath,
    PeakResult Peak,
    int InputsPerPattern,
    int Seed,
    int InputsPerModel,
    IReadOnlyList<LabModelInfo> Models,
    IReadOnlyList<LabRow> Rows,
    string? InputDirectory = null)
{
    /// <summary>
    /// True when every consensus (integer model) configuration reproduced the reference on every input. An ONNX Runtime
    /// configuration that could not run at all (an error, e.g. ORT arm64 under qemu) is reported but not counted: a node
    /// whose ORT cannot run keeps the model on the canonical executor. One that ran and gave other bytes counts.
    /// </summary>
    public bool ConsensusAllMatch => Rows.Where(r => r.Consensus && !(r.Kind == ConfigKind.Ort && r.Error is not null)).All(r => r.FullMatch);
}

/// <summary>
/// Progress of a lab run: finished (model, configuration) pairs out of the total, and what runs now;
/// <paramref name="Step"/> is how far the current pair is through its inputs (0 to 1), for a slow model's bar and ETA.
/// </summary>
public readonly record struct LabProgress(int Done, int Total, string Current, double Step = 0)
{
    /// <summary>Done plus the current pair's fraction: what a progress bar shows.</summary>
    public double Value => Done + Math.Clamp(Step, 0, 1);
}

public sealed class LabOptions
{
    public int InputsPerPattern { get; init; } = 20;
    public int Seed { get; init; } = 1;

    /// <summary>Read every model's inputs from this folder (<see cref="LabInputs.Read"/>) instead of generating them.</summary>
    public string? InputDirectory { get; init; }

    /// <summary>Untimed warm-up per configuration and model before latencies are taken.</summary>
    public int WarmupMs { get; init; } = 200;

    /// <summary>How long the int8 peak microbenchmark runs.</summary>
    public TimeSpan PeakDuration { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Null to measure; a value to skip the benchmark (tests).</summary>
    public PeakResult? Peak { get; init; }

    /// <summary>Also quantize every float model (<see cref="LabQuantization"/>) and run its int8 twin right after it.</summary>
    public bool Quantize { get; init; }
}

/// <summary>
/// The determinism lab. For each model it computes the reference outputs — the canonical executor on the
/// best GEMM path, in this process (for a model run under ORT only — the float contrast model, or a researcher's
/// model that admission refuses — ORT, optimisations off, one thread) — then
/// runs every configuration on the same inputs and compares output bytes input by input. On the first
/// mismatch it traces both sides node by node to name the first node whose output differs.
/// </summary>
public static class DeterminismLab
{
    public static readonly OrtSettings FloatReference = new(OrtOptimization.Disabled, 1);

    /// <summary>
    /// Every in-process GEMM path the CPU supports, the child-process variants (when a launcher is given), ORT at
    /// 4 levels × 1/2/4 threads, and (when <paramref name="arm64"/> is given: across ISAs) the arm64 build's canonical
    /// variants and its ORT at the same 12 settings.
    /// </summary>
    public static IReadOnlyList<LabConfiguration> DefaultConfigurations(IWorkerLauncher? launcher, IWorkerLauncher? arm64 = null)
    {
        var list = new List<LabConfiguration>();
        list.AddRange(Enum.GetValues<GemmPath>().Where(KernelOptions.IsSupported).Select(p => new CanonicalPathConfiguration(p)));
        if (launcher is not null) list.AddRange(ChildProcessConfiguration.Standard(launcher));
        list.AddRange(OrtGrid.Select(s => new OrtConfiguration(s)));
        if (arm64 is not null)
        {
            list.AddRange(ChildProcessConfiguration.Arm64(arm64));
            list.AddRange(OrtWorkerConfiguration.Arm64(arm64));
        }
        return list;
    }

    /// <summary>The ONNX Runtime settings the lab tries on every ISA: each optimisation level × 1, 2, 4 threads.</summary>
    public static IReadOnlyList<OrtSettings> OrtGrid { get; } =
        [.. Enum.GetValues<OrtOptimization>().SelectMany(level => new[] { 1, 2, 4 }.Select(threads => new OrtSettings(level, threads)))];

    public static LabReport Run(IReadOnlyList<LabModel> models, IReadOnlyList<LabConfiguration> configurations, LabOptions options,
        Action<LabProgress>? progress = null)
    {
        var spec = new LabInputSpec(options.InputsPerPattern, options.Seed, options.WarmupMs, options.InputDirectory);
        if (options.Quantize)
        {
            var quantizing = models.Count(m => m.IsFloat);
            var made = 0;
            // Each float model is followed by its int8 twin, so the report shows the trade side by side.
            models = models.SelectMany(m =>
            {
                if (!m.IsFloat) return new[] { m };
                progress?.Invoke(new LabProgress(0, 1, $"{m.Name}: quantizing ({++made}/{quantizing})"));
                return [m, LabQuantization.Quantize(m, spec)];
            }).ToArray();
        }
        var prepared = models.Select(PreparedModel.Load).ToArray();
        try
        {
            var total = prepared.Sum(m => configurations.Count(c => c.AppliesTo(m)) + 1) + 1;
            var done = 0;
            string current = "";
            void Step(string label) => progress?.Invoke(new LabProgress(done++, total, current = label));
            // In-process configurations report each input, so a model that takes minutes per configuration still moves the bar.
            void Within(int i, int n) => progress?.Invoke(new LabProgress(done - 1, total, $"{current} ({i}/{n})", (double)i / n));

            Step("int8 peak");
            var peak = options.Peak ?? Int8Peak.Measure(options.PeakDuration);
            var rows = new List<LabRow>();
            var infos = new List<LabModelInfo>();
            var inputsPerModel = 0;
            foreach (var model in prepared)
            {
                var inputs = LabInputs.Create(model.Inputs, spec);
                inputsPerModel = inputs.Count;
                Step($"{model.Name}: reference");
                LabConfiguration reference = model.IsFloat
                    ? new OrtConfiguration(FloatReference)
                    : new CanonicalPathConfiguration(KernelOptions.BestSupported);
                reference.InputDone = Within;
                var expected = reference.Run(model, inputs, spec);
                infos.Add(new LabModelInfo(model.Name, Chain.Core.Hashing.DomainHash.Compute(Chain.Core.Hashing.HashDomain.Model, model.Bytes).ToString(),
                    model.IsFloat, model.Macs, reference.Name, model.Order.Count, model.Source.NotAdmitted, model.Source.Quantized));
                foreach (var config in configurations.Where(c => c.AppliesTo(model)))
                {
                    Step($"{model.Name}: {config.Name}");
                    config.InputDone = Within;
                    try
                    {
                        rows.Add(Measure(model, inputs, spec, reference, expected, config, peak));
                    }
                    finally
                    {
                        config.InputDone = null;
                    }
                }
            }
            progress?.Invoke(new LabProgress(total, total, "done"));
            return new LabReport(Environment.MachineName + $" ({Environment.ProcessorCount} cpus)", KernelOptions.BestSupported.ToString().ToLowerInvariant(),
                peak, spec.PerPattern, spec.Seed, inputsPerModel, infos, rows, spec.InputDirectory);
        }
        finally
        {
            foreach (var m in prepared) m.Dispose();
        }
    }

    private static LabRow Measure(PreparedModel model, IReadOnlyList<LabInput> inputs, LabInputSpec spec, LabConfiguration reference,
        ConfigRun expected, LabConfiguration config, PeakResult peak)
    {
        var consensus = !model.IsFloat;
        ConfigRun run;
        try
        {
            run = config.Run(model, inputs, spec);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new LabRow(model.Name, config.Name, config.Kind, consensus, inputs.Count, 0, 0, null, null, null, 0, 0, 0, null, e.Message, config.Isa);
        }
        var matches = 0;
        int? first = null;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (run.OutputHashes[i] == expected.OutputHashes[i]) matches++;
            else first ??= i;
        }
        string? node = null, op = null, detail = run.Detail;
        if (first is { } index)
        {
            try
            {
                var divergent = DivergenceLocator.FirstDivergence(reference.Trace(model, inputs, spec, index), config.Trace(model, inputs, spec, index));
                if (divergent is { } d)
                {
                    node = d.Node;
                    op = d.OpType;
                }
                else
                {
                    node = "(not localised: every node output agrees once intermediates are exposed, e.g. a fusion that exposing them prevents)";
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                node = $"(trace failed: {e.Message})";
            }
        }
        var gops = run.MeanLatencyMs > 0 ? 2.0 * model.Macs / (run.MeanLatencyMs * 1e-3) / 1e9 : 0;
        return new LabRow(model.Name, config.Name, config.Kind, consensus, inputs.Count, matches, (double)matches / inputs.Count,
            first is { } f ? inputs[f].Label : null, node, op, run.MeanLatencyMs, gops, peak.Gops > 0 ? gops / peak.Gops : 0, detail, null, config.Isa,
            model.IsFloat ? Divergence(expected, run) : null);
    }

    /// <summary>The float divergence of <paramref name="run"/> from <paramref name="expected"/>; all zero when every output hash matched.</summary>
    private static FloatDivergence? Divergence(ConfigRun expected, ConfigRun run)
    {
        if (expected.Outputs is not { } reference || run.Outputs is not { } actual) return null;
        var acc = new FloatDivergenceAccumulator();
        for (var i = 0; i < reference.Count; i++) acc.Add(reference[i], actual[i]);
        return acc.Result;
    }
}

/// <summary>Finds the first node, in the reference's execution order, whose output hash differs between two traces.</summary>
public static class DivergenceLocator
{
    /// <returns>The reference's entry for that node, or null when every node both traces share agrees.</returns>
    public static NodeOutputHash? FirstDivergence(IReadOnlyList<NodeOutputHash> reference, IReadOnlyList<NodeOutputHash> actual)
    {
        var byOutput = new Dictionary<string, NodeOutputHash>(StringComparer.Ordinal);
        foreach (var a in actual) byOutput[a.Output] = a;
        foreach (var r in reference)
        {
            // A node the other side did not record (e.g. fused away) is skipped; one it recorded differently is the answer.
            if (byOutput.TryGetValue(r.Output, out var a) && a.Hash != r.Hash) return r;
        }
        return null;
    }
}
