using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Chain.Cli.Bench;
using Chain.Inference.Admission;
using Chain.Inference.Kernels;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain bench gas`: nanoseconds per gas of every gas kind on this machine, measured on small admitted models
/// (<see cref="GasBenchModels"/>), and their spread: gas is meant to be proportional to canonical execution
/// time, so the spread says how far one block's re-execution time can stray from what its gas says.
/// </summary>
internal static class BenchGasCommand
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Write the figures as JSON to this file" };
        var repeat = new Option<int>("--repeat")
        {
            Description = "Timed batches per model (the median is kept); 1 is a quick check of one run each",
            DefaultValueFactory = _ => 7,
        };
        var only = new Option<string?>("--only") { Description = "Measure only the models whose kind or name contains this text" };
        var wall = new Option<bool>("--wall-clock") { Description = "Time with the Stopwatch (wall clock) instead of the thread's CPU time" };
        var path = new Option<string?>("--gemm-path") { Description = "GEMM instruction path: scalar, sse2, avx2 or avxvnni (default: the fastest this CPU has)" };
        var command = new Command("gas", "Nanoseconds per gas of every gas kind (GasSchedule) on this machine, and their spread")
        {
            json, repeat, only, wall, path,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var n = result.GetValue(repeat);
            if (n is < 1 or > 1000) throw new CliException("--repeat must be 1..1000");
            IDisposable? scope = null;
            if (result.GetValue(path) is { } p)
            {
                if (!Enum.TryParse<GemmPath>(p, ignoreCase: true, out var gemm) || !Enum.IsDefined(gemm))
                    throw new CliException($"--gemm-path must be scalar, sse2, avx2 or avxvnni, not '{p}'");
                if (!KernelOptions.IsSupported(gemm)) throw new CliException($"this CPU does not support the {gemm} path");
                scope = KernelOptions.Use(gemm);
            }
            GasBenchReport report;
            using (scope)
            {
                report = GasBenchmark.Run(n, result.GetValue(only), result.GetValue(wall));
            }
            Print(report, output);
            if (result.GetValue(json) is { } file)
                OutputFiles.WriteText(file, JsonSerializer.Serialize(report,
                    new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return 0;
        }));
        return command;
    }

    private static void Print(GasBenchReport report, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        var width = Math.Max(5, report.Figures.Max(f => f.Model.Length));
        output.WriteLine($"gemm path {report.GemmPath.ToLowerInvariant()}, {report.Clock} clock, {report.Repeat} batch(es) per model (median); " +
                         $"ns/gas = ns per run ÷ (Σ Work of the measured nodes ÷ {GasSchedule.WorkPerGas:N0})");
        output.WriteLine();
        output.WriteLine($"{"kind",-21}  {"model".PadRight(width)}  {"ns/run",12}  {"wall ns/run",12}  {"op gas",11}  {"model gas",10}  {"ns/gas",8}");
        foreach (var f in report.Figures)
            output.WriteLine(string.Format(c, "{0,-21}  {1}  {2,12:N0}  {3,12:N0}  {4,11:N1}  {5,10:N0}  {6,8:F1}",
                f.Kind, f.Model.PadRight(width), f.NsPerRun, f.WallNsPerRun, f.OpGas, f.ModelGas, f.NsPerGas));
        output.WriteLine();
        output.WriteLine($"{"kind",-21}  {"weight",7}  {"models",6}  {"median ns/gas",13}  {"min",8}  {"max",8}");
        foreach (var k in report.Kinds)
            output.WriteLine(string.Format(c, "{0,-21}  {1,7:N0}  {2,6}  {3,13:F1}  {4,8:F1}  {5,8:F1}",
                k.Kind, k.Weight, k.Models, k.MedianNsPerGas, k.MinNsPerGas, k.MaxNsPerGas));
        output.WriteLine();
        output.WriteLine(string.Format(c, "spread: {0:F2}× ({1} {2:F1} ns/gas ÷ {3} {4:F1} ns/gas); across single models {5:F2}×",
            report.Spread, report.DearestKind, report.Kinds.Single(k => k.Kind == report.DearestKind).MedianNsPerGas,
            report.CheapestKind, report.Kinds.Single(k => k.Kind == report.CheapestKind).MedianNsPerGas, report.ModelSpread));
        output.WriteLine(string.Format(c, "block gas limit {0:N0} gas ≈ {1:F2} s of canonical re-execution at the slowest kind ({2}); {3:F2} s at the slowest model",
            report.BlockGasLimit, report.BlockSecondsAtDearestKind, report.DearestKind, report.BlockSecondsAtDearestModel));
    }
}
