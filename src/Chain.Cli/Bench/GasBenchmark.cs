using System.Diagnostics;
using Chain.Inference.Admission;
using Chain.Inference.Kernels;
using Chain.Inference.Runtime;

namespace Chain.Cli.Bench;

/// <summary>One measured model: its time per run and the gas its measured nodes are charged.</summary>
internal sealed record GasBenchFigure(
    string Kind, string Model, double NsPerRun, double WallNsPerRun, double OpGas, long ModelGas, double NsPerGas, int RunsPerBatch, int Batches);

/// <summary>The median ns/gas of one kind over its models, with its range.</summary>
internal sealed record GasKindFigure(string Kind, long Weight, int Models, double MedianNsPerGas, double MinNsPerGas, double MaxNsPerGas);

internal sealed record GasBenchReport(
    string Machine, string GemmPath, string Clock, int Repeat, IReadOnlyList<GasBenchFigure> Figures, IReadOnlyList<GasKindFigure> Kinds,
    string CheapestKind, string DearestKind, double Spread, double ModelSpread,
    long BlockGasLimit, double BlockSecondsAtDearestKind, double BlockSecondsAtDearestModel);

/// <summary>
/// Measures nanoseconds per gas for every <see cref="GasKind"/>: each model of <see cref="GasBenchModels"/> is
/// admitted, loaded, warmed up, then timed in <c>repeat</c> batches (the median batch's time per run), and its
/// time divided by the gas of its measured nodes: <c>Σ Work / GasSchedule.WorkPerGas</c>. Nothing is subtracted
/// (the models keep everything else small), so a figure is an upper bound on that kind's ns/gas. Time is the
/// thread's CPU time where it can be read (<see cref="ThreadClock"/>), else (or with --wall-clock) the Stopwatch;
/// both are reported.
/// </summary>
internal static class GasBenchmark
{
    public const long BlockGasLimit = 100_000_000;

    /// <summary>Time one batch aims at; the run count per batch follows from the warm-up.</summary>
    private static readonly TimeSpan BatchTarget = TimeSpan.FromMilliseconds(40);

    private static readonly TimeSpan WarmupTarget = TimeSpan.FromMilliseconds(30);

    public static GasBenchReport Run(int repeat, string? filter, bool wallClock)
    {
        var thread = !wallClock && ThreadClock.IsAvailable;
        var figures = new List<GasBenchFigure>();
        var models = GasBenchModels.All()
            .Where(m => filter is null || m.Kind.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)
                                        || m.Name.Contains(filter, StringComparison.OrdinalIgnoreCase))
            .ToList();
        if (models.Count == 0) throw new CliException($"no benchmark model matches '{filter}'");
        foreach (var model in models)
        {
            figures.Add(Measure(model, repeat, thread));
        }
        var kinds = figures.GroupBy(f => f.Kind)
            .Select(g => new GasKindFigure(g.Key, GasSchedule.Weight(Enum.Parse<GasKind>(g.Key)), g.Count(),
                Median(g.Select(f => f.NsPerGas)), g.Min(f => f.NsPerGas), g.Max(f => f.NsPerGas)))
            .OrderBy(k => Enum.Parse<GasKind>(k.Kind))
            .ToList();
        var cheapest = kinds.MinBy(k => k.MedianNsPerGas)!;
        var dearest = kinds.MaxBy(k => k.MedianNsPerGas)!;
        double slowestModel = figures.Max(f => f.NsPerGas), fastestModel = figures.Min(f => f.NsPerGas);
        return new GasBenchReport(
            $"{Environment.ProcessorCount} cpu, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
            KernelOptions.Current.ToString(), thread ? "thread cpu" : "wall", repeat, figures, kinds, cheapest.Kind, dearest.Kind,
            dearest.MedianNsPerGas / cheapest.MedianNsPerGas, slowestModel / fastestModel,
            BlockGasLimit, BlockGasLimit * dearest.MedianNsPerGas * 1e-9, BlockGasLimit * slowestModel * 1e-9);
    }

    private static GasBenchFigure Measure(GasBenchModel model, int repeat, bool thread)
    {
        var bytes = model.Model.ToBytes();
        var report = ModelAdmission.Check(bytes);
        if (!report.Admitted)
            throw new InvalidOperationException($"bench model '{model.Name}' is refused: {string.Join("; ", report.Reasons)}");
        long work = 0;
        foreach (var node in report.Nodes)
        {
            if (!node.Name.StartsWith(GasBenchModel.MeasuredPrefix, StringComparison.Ordinal)) continue;
            var onnx = report.Model!.Graph.Nodes[node.Index];
            var inputs = onnx.Inputs.Select(n => n.Length == 0 ? null : report.Values.GetValueOrDefault(n)).ToArray();
            var (kind, _) = GasSchedule.Classify(onnx.OpType, inputs, node.Outputs[0]!, node.Macs);
            if (kind != model.Kind)
                throw new InvalidOperationException($"bench model '{model.Name}': node {node.Name} ({node.OpType}) is {kind}, not {model.Kind}");
            work += node.Work;
        }
        if (work == 0) throw new InvalidOperationException($"bench model '{model.Name}' measures no node");
        var opGas = (double)work / GasSchedule.WorkPerGas;

        using var executor = CanonicalExecutor.Load(bytes);
        var inputs0 = InputGenerator.Create(executor.Inputs, InputPattern.Random, 11);

        // Warm-up: JIT tiers, packed weights, the pooled arena; it also sizes the batches.
        long Clock() => thread ? ThreadClock.Now() : Stopwatch.GetTimestamp() * 1_000_000_000 / Stopwatch.Frequency;
        var start = Clock();
        var warm = 0;
        do
        {
            executor.Run(inputs0);
            warm++;
        } while (warm < 2 || (repeat > 1 && Clock() - start < WarmupTarget.TotalNanoseconds));
        var estimate = (double)(Clock() - start) / warm;
        var perBatch = repeat > 1 ? (int)Math.Clamp(BatchTarget.TotalNanoseconds / Math.Max(estimate, 1), 1, 1_000_000) : 1;

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var batches = new double[Math.Max(1, repeat)];
        var walls = new double[batches.Length];
        var watch = new Stopwatch();
        for (var b = 0; b < batches.Length; b++)
        {
            watch.Restart();
            var t0 = Clock();
            for (var i = 0; i < perBatch; i++) executor.Run(inputs0);
            batches[b] = (double)(Clock() - t0) / perBatch;
            walls[b] = watch.Elapsed.TotalNanoseconds / perBatch;
        }
        var ns = Median(batches);
        return new GasBenchFigure(model.Kind.ToString(), model.Name, ns, Median(walls), opGas, report.Gas, ns / opGas, perBatch, batches.Length);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
