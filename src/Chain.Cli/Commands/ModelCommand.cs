using System.CommandLine;
using System.Text.Json;
using System.Globalization;
using Chain.Inference.Admission;
using Chain.Quantization;
using Chain.Quantization.Calibration;
using Chain.Quantization.Quantizer;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain model check FILE`: runs consensus admission on an ONNX file and explains the verdict.
/// `chain model quantize FLOAT.onnx --out INT8.onnx`: post-training int8 quantization into an admitted model (docs/quantization.md).
/// </summary>
internal static class ModelCommand
{
    public static Command Create()
    {
        var model = new Command("model", "Inspect ONNX models");
        model.Add(CreateCheck());
        model.Add(CreateQuantize());
        return model;
    }

    private static Command CreateCheck()
    {
        var file = new Argument<string>("FILE") { Description = "The .onnx file to check" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var command = new Command("check", "Check whether a model would be admitted for consensus inference (exit 0 admitted, 1 refused)") { file, json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var path = result.GetValue(file)!;
            byte[] bytes;
            try
            {
                var info = new FileInfo(path);
                if (!info.Exists) throw new CliException($"no such file: {path}");
                // Do not read arbitrarily large files: anything over the limit is refused on size alone.
                if (info.Length > AdmissionLimits.MaxModelBytes)
                    throw new CliException($"{path} is {info.Length} bytes, more than the model limit of {AdmissionLimits.MaxModelBytes}");
                bytes = File.ReadAllBytes(path);
            }
            catch (IOException e)
            {
                throw new CliException($"cannot read {path}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                throw new CliException($"cannot read {path}: {e.Message}");
            }
            var report = ModelAdmission.Check(bytes);
            if (result.GetValue(json)) PrintJson(output, path, report);
            else PrintText(output, path, report);
            if (report.Admitted) return 0;
            // The report above is the answer; stderr gets the one-line verdict every failing command gives.
            var more = report.Reasons.Count > 1 ? $" (+{report.Reasons.Count - 1} more)" : "";
            result.InvocationConfiguration.Error.WriteLine($"error: {path}: model refused: {CliApp.OneLine(report.Reasons.FirstOrDefault()?.ToString() ?? "no reason given")}{more}");
            return 1;
        }));
        return command;
    }

    /// <summary>Largest float model read (the int8 result must still fit admission's 4 MiB).</summary>
    private const long MaxFloatModelBytes = 1L << 30;

    private static Command CreateQuantize()
    {
        var file = new Argument<string>("FLOAT.onnx") { Description = "The float32 ONNX model to quantize" };
        var outFile = new Option<string>("--out") { Description = "Where to write the int8 model", Required = true };
        var calibration = new Option<string?>("--calibration") { Description = "DIR of .npy/.pb/.json input tensors (the last fifth is held out for evaluation), or random:N (default random:64)" };
        var method = new Option<string>("--method") { Description = "Calibration: minmax (default), percentile or entropy", DefaultValueFactory = _ => "minmax" };
        var percentile = new Option<double>("--percentile") { Description = "Percentile of --method percentile (default 99.99)", DefaultValueFactory = _ => 99.99 };
        var perChannel = new Option<bool>("--per-channel") { Description = "One weight scale per output channel (the default)" };
        var perTensor = new Option<bool>("--per-tensor") { Description = "One weight scale per weight tensor instead of per channel" };
        var inputRange = new Option<string>("--input-range") { Description = "LO:HI range of random calibration inputs (default 0:1)", DefaultValueFactory = _ => "0:1" };
        var shapes = new Option<string[]>("--shape") { Description = "Static input shape, name=d1,d2,... (repeatable; a dynamic batch defaults to 1)", AllowMultipleArgumentsPerToken = false };
        var reportFile = new Option<string?>("--report") { Description = "Write the Markdown report to FILE" };
        var biasCorrection = new Option<string>("--bias-correction") { Description = "on (default): each convolution's int32 bias absorbs its mean output error on the calibration inputs, layer by layer; off", DefaultValueFactory = _ => "on" };
        var evalCount = new Option<int>("--eval") { Description = "Held-out random inputs for evaluation when the calibration folder gives none (default 64)", DefaultValueFactory = _ => 64 };
        var command = new Command("quantize", "Quantize a float ONNX model into an admitted int8 model, verify it and report its accuracy")
        {
            file, outFile, calibration, method, percentile, perChannel, perTensor, inputRange, shapes, reportFile, evalCount, biasCorrection,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var path = result.GetValue(file)!;
            if (result.GetValue(perChannel) && result.GetValue(perTensor)) throw new CliException("--per-channel and --per-tensor contradict each other");
            var m = result.GetValue(method) switch
            {
                "minmax" => CalibrationMethod.MinMax,
                "percentile" => CalibrationMethod.Percentile,
                "entropy" => CalibrationMethod.Entropy,
                var other => throw new CliException($"--method {other}: expected minmax, percentile or entropy"),
            };
            var bc = result.GetValue(biasCorrection) switch
            {
                "on" => true,
                "off" => false,
                var other => throw new CliException($"--bias-correction {other}: expected on or off"),
            };
            var pct = result.GetValue(percentile);
            if (!(pct > 50 && pct <= 100)) throw new CliException($"--percentile {pct}: expected a value in (50, 100]");
            var (lo, hi) = ParseRange(result.GetValue(inputRange)!);
            var eval = result.GetValue(evalCount);
            if (eval < 1 || eval > 100_000) throw new CliException($"--eval {eval}: expected 1 to 100000");
            CalibrationSource source;
            try { source = CalibrationSource.Parse(result.GetValue(calibration), lo, hi); }
            catch (FormatException e) { throw new CliException(e.Message); }
            var request = new QuantizeRequest
            {
                Source = Path.GetFileName(path),
                Preparation = new PreparationOptions { InputShapes = ParseShapes(result.GetValue(shapes) ?? []) },
                Quantizer = new QuantizerOptions { Method = m, Percentile = pct, PerChannel = !result.GetValue(perTensor), BiasCorrection = bc },
                Calibration = source,
                EvaluationCount = eval,
            };
            var info = new FileInfo(path);
            if (!info.Exists) throw new CliException($"no such file: {path}");
            if (info.Length > MaxFloatModelBytes) throw new CliException($"{path} is {info.Length} bytes, more than the {MaxFloatModelBytes >> 20} MiB a float model may be");
            var bytes = File.ReadAllBytes(path);
            QuantizationResult q;
            try
            {
                q = WithProgress(output, progress => QuantizationPipeline.Run(bytes, request, progress));
            }
            catch (QuantizationException e) { throw new CliException($"{path}: cannot quantize: {e.Message}"); }
            catch (FormatException e) { throw new CliException(e.Message); }
            File.WriteAllBytes(result.GetValue(outFile)!, q.Model);
            if (result.GetValue(reportFile) is { } rf) File.WriteAllText(rf, q.Report.ToMarkdown());
            output.Write(q.Report.Summary());
            output.WriteLine($"wrote:       {result.GetValue(outFile)}{(result.GetValue(reportFile) is { } r ? $" and {r}" : "")}");
            return 0;
        }));
        return command;
    }

    /// <summary>Runs <paramref name="body"/> under a Spectre.Console progress bar when stdout is a terminal; silently otherwise.</summary>
    private static T WithProgress<T>(TextWriter output, Func<IProgress<QuantizationProgress>?, T> body)
    {
        if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected) return body(null);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        T value = default!;
        console.Progress().Start(ctx =>
        {
            var tasks = new Dictionary<string, ProgressTask>();
            value = body(new SyncProgress(p =>
            {
                if (!tasks.TryGetValue(p.Stage, out var task)) tasks[p.Stage] = task = ctx.AddTask(p.Stage, maxValue: p.Total);
                task.Value = p.Done;
            }));
        });
        return value;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<QuantizationProgress> report) : IProgress<QuantizationProgress>
    {
        public void Report(QuantizationProgress value) => report(value);
    }

    internal static (float Lo, float Hi) ParseRange(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2
            && float.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var lo)
            && float.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var hi)
            && float.IsFinite(lo) && float.IsFinite(hi) && lo < hi)
            return (lo, hi);
        throw new CliException($"--input-range {text}: expected LO:HI with LO < HI, e.g. 0:1 or -1:1");
    }

    internal static Dictionary<string, long[]> ParseShapes(IEnumerable<string> specs)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            var eq = spec.LastIndexOf('=');
            var dims = eq > 0 ? spec[(eq + 1)..].Split(',') : [];
            var values = dims.Select(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 1 && v <= 1 << 22 ? v : -1).ToArray();
            if (eq <= 0 || values.Length == 0 || values.Any(v => v < 0))
                throw new CliException($"--shape {spec}: expected name=d1,d2,... with dimensions from 1 to {1 << 22}");
            shapes[spec[..eq]] = values;
        }
        return shapes;
    }

    private static void PrintText(TextWriter output, string path, AdmissionReport report)
    {
        output.WriteLine($"file:      {path}");
        output.WriteLine($"model id:  {report.ModelId}");
        output.WriteLine($"size:      {report.ModelBytes} bytes");
        if (report.Model is { } m)
            output.WriteLine($"opset:     {m.DefaultOpset?.ToString() ?? "none"} ({m.Graph.Nodes.Count} nodes, {m.Graph.Initializers.Count} initializers)");
        if (report.Admitted)
        {
            output.WriteLine("verdict:   admitted");
            output.WriteLine($"MACs:      {report.TotalMacs}");
            output.WriteLine($"gas:       {report.Gas} (work {report.TotalWork} milli-units, arena {report.PeakMemoryBytes} bytes)");
            output.WriteLine($"memory:    {report.PeakMemoryBytes} bytes proven peak (planned arena of {report.MemoryPlan.Buffers.Count} buffers; " +
                             $"{report.MemoryPlan.LiveBytesPeak} live at once at most; limit {AdmissionLimits.MaxArenaBytes})");
            foreach (var v in report.Model!.Graph.Inputs) output.WriteLine($"input:     {v.Name} {report.Values[v.Name]}");
            foreach (var v in report.Model.Graph.Outputs) output.WriteLine($"output:    {v.Name} {report.Values[v.Name]}");
            foreach (var n in report.Nodes)
                output.WriteLine($"  {n.OpType,-16} {(n.Name.Length > 0 ? n.Name : "-")} -> {string.Join(", ", n.Outputs.Select(o => o?.ToString() ?? "-"))}" +
                                 $"{(n.Macs > 0 ? $"  ({n.Macs} MACs)" : "")}{(n.ScratchBytes > 0 ? $"  scratch {n.ScratchBytes} B" : "")}");
        }
        else
        {
            output.WriteLine($"verdict:   refused ({report.Reasons.Count} reason{(report.Reasons.Count == 1 ? "" : "s")})");
            foreach (var r in report.Reasons) output.WriteLine($"  {r}");
        }
    }

    private static void PrintJson(TextWriter output, string path, AdmissionReport report)
    {
        output.WriteLine(JsonSerializer.Serialize(new
        {
            file = path,
            model_id = report.ModelId.ToString(),
            bytes = report.ModelBytes,
            admitted = report.Admitted,
            reasons = report.Reasons.Select(r => new { code = r.Code, message = r.Message, node = r.Node }),
            macs = report.TotalMacs,
            gas = report.Admitted ? report.Gas : (long?)null,
            work = report.TotalWork,
            memory = report.Admitted
                ? new
                {
                    peak_bytes = report.PeakMemoryBytes,
                    live_peak_bytes = report.MemoryPlan.LiveBytesPeak,
                    limit_bytes = AdmissionLimits.MaxArenaBytes,
                    buffers = report.MemoryPlan.Buffers.Select(b => new { value = b.Value, node = b.Node, bytes = b.Bytes, first = b.First, last = b.Last, offset = b.Offset }),
                }
                : null,
            nodes = report.Nodes.Select(n => new
            {
                index = n.Index,
                name = n.Name,
                op = n.OpType,
                macs = n.Macs,
                work = n.Work,
                scratch_bytes = n.ScratchBytes,
                outputs = n.Outputs.Select(o => o?.ToString()),
            }),
        }));
    }
}
