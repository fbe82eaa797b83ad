using System.CommandLine;
using Chain.Inference.Admission;
using Chain.Inference.Runtime;
using Chain.Lab;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain determinism --model FILE|genesis|adversarial --inputs N|DIR [--shape name=d1,...] [--isa x64,arm64] [--json FILE] [--report DIR]`:
/// the determinism lab (src/Chain.Lab), and the hidden `chain determinism-worker` it starts as a child process. A model
/// FILE that admission refuses (float, ops outside the subset) is measured under ONNX Runtime only, and said so.
/// </summary>
internal static class DeterminismCommand
{
    /// <param name="launcher">How child configurations start the worker; null means this very executable.</param>
    public static Command Create(IWorkerLauncher? launcher = null)
    {
        var model = new Option<string>("--model")
        {
            Description = "ONNX model file (any: one admission refuses runs the ONNX Runtime configurations only), 'genesis' (genesis/models/mlp.onnx and cnn.onnx plus the adversarial set) or 'adversarial' (built-in stress models)",
            Required = true,
        };
        var inputs = new Option<string>("--inputs")
        {
            Description = "Inputs per pattern family (random, all-max, all-min, alternating, random-extremes, zeros), or a folder of tensor files (.npy/.pb/.json; one per input, or one subfolder per input set)",
            DefaultValueFactory = _ => "20",
        };
        var shapes = new Option<string[]>("--shape") { Description = "Input shape for symbolic dimensions, name=d1,d2,... (repeatable; otherwise symbolic dimensions are 1)", AllowMultipleArgumentsPerToken = false };
        var seed = new Option<int>("--seed") { Description = "Seed for the random inputs", DefaultValueFactory = _ => 1 };
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file" };
        var report = new Option<string?>("--report") { Description = "Write report.json, report.md and chart.png into this folder" };
        var noChild = new Option<bool>("--no-child") { Description = "Skip the child-process configurations (DOTNET_Enable*=0)" };
        var warmup = new Option<int>("--warmup-ms") { Description = "Untimed warm-up per configuration before latencies are taken", DefaultValueFactory = _ => 200 };
        var isa = new Option<string>("--isa")
        {
            Description = "ISAs to run the canonical executor on, e.g. x64,arm64: a foreign one runs its build (--arm64-chain) as child processes, under qemu",
            DefaultValueFactory = _ => LabIsa.Host,
        };
        var arm64Chain = new Option<string>("--arm64-chain")
        {
            Description = "The linux-arm64 chain executable (`make chain-arm64`)",
            DefaultValueFactory = _ => CrossIsa.DefaultArm64Chain,
        };
        var emulator = new Option<string>("--emulator") { Description = "User-mode emulator for arm64 on another ISA", DefaultValueFactory = _ => CrossIsa.DefaultEmulator };
        var quantize = new Option<bool>("--quantize")
        {
            Description = "Also quantize each float model with `chain model quantize`'s pipeline (calibrated on the lab's random-family inputs, or on --inputs DIR) and run the int8 version beside it: float divergence vs int8 bit-exactness, and the accuracy cost",
        };
        var cpuinfo = new Option<string?>("--arm64-cpuinfo")
        {
            Description = "Under emulation: an arm64 /proc/cpuinfo (`make chain-arm64` writes .data/arm64-cpuinfo) bound over the host's for each arm64 worker (root), so ONNX Runtime arm64 can run under qemu",
        };
        var command = new Command("determinism",
            "Measure bit-exactness of the canonical executor across GEMM paths and CPU feature sets, and of ONNX Runtime across optimisation levels and threads")
        {
            model, inputs, seed, json, report, noChild, warmup, isa, arm64Chain, emulator, shapes, cpuinfo, quantize,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var (perPattern, inputDirectory) = ParseInputs(result.GetValue(inputs)!);
            var modelName = result.GetValue(model)!;
            if (inputDirectory is not null && modelName is "genesis" or "adversarial")
                throw new CliException("--inputs DIR: the inputs fit one model, so give --model FILE");
            // Folder inputs fit the researcher's model only, so the float contrast model is left out then.
            IReadOnlyList<LabModel> models;
            try
            {
                models = ResolveModels(modelName, ModelCommand.ParseShapes(result.GetValue(shapes) ?? []), contrast: inputDirectory is null);
            }
            catch (FormatException e)
            {
                throw new CliException(e.Message);
            }
            var arm64 = Arm64Launcher(result.GetValue(isa)!, result.GetValue(arm64Chain)!, result.GetValue(emulator)!, result.GetValue(cpuinfo));
            var configurations = DeterminismLab.DefaultConfigurations(
                result.GetValue(noChild) ? null : launcher ?? ProcessWorkerLauncher.ForCurrentProcess(), arm64);
            LabReport lab;
            try
            {
                lab = LabConsole.RunWithProgress(output, progress =>
                    DeterminismLab.Run(models, configurations, new LabOptions
                    {
                        InputsPerPattern = perPattern, Seed = result.GetValue(seed), WarmupMs = Math.Max(0, result.GetValue(warmup)),
                        InputDirectory = inputDirectory, Quantize = result.GetValue(quantize),
                    }, progress));
            }
            catch (ModelRefusedException e)
            {
                throw new CliException($"{e.Message} (a built-in consensus model must be admitted)");
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                throw new CliException(e.Message);
            }
            Print(output, lab);
            if (result.GetValue(json) is { } jsonFile)
            {
                OutputFiles.WriteText(jsonFile, LabReportWriter.ToJson(lab));
            }
            if (result.GetValue(report) is { } dir)
            {
                LabReportWriter.WriteAll(lab, dir);
                output.WriteLine($"report written to {Path.GetFullPath(dir)} ({LabReportWriter.MarkdownFile}, {LabReportWriter.JsonFile}, {LabReportWriter.ChartFile})");
            }
            return lab.ConsensusAllMatch ? 0 : 1;
        }));
        return command;
    }

    /// <summary>`chain determinism-worker`: hidden; prints per-input output hashes as JSON lines for the parent lab.</summary>
    public static Command CreateWorker()
    {
        var model = new Option<string>("--model") { Required = true };
        var inputs = new Option<int>("--inputs") { Required = true };
        var seed = new Option<int>("--seed") { Required = true };
        var trace = new Option<bool>("--trace");
        var only = new Option<int?>("--only");
        var warmup = new Option<int>("--warmup-ms");
        var inputDir = new Option<string?>("--input-dir");
        var ort = new Option<string?>("--ort") { Description = "Run ONNX Runtime at LEVEL:THREADS[,LEVEL:THREADS...] (e.g. basic:2) on --input-dir instead of the canonical executor" };
        var values = new Option<bool>("--values") { Description = "Print the outputs themselves too (float models)" };
        var command = new Command(LabWorker.Command, "Internal: the child process of `chain determinism`") { model, inputs, seed, trace, only, warmup, inputDir, ort, values };
        command.Hidden = true;
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var bytes = InferCommand.ReadFile(result.GetValue(model)!, "model");
            try
            {
                if (result.GetValue(ort) is { } settings)
                    LabWorker.RunOrt(bytes, settings.Split(',').Select(ParseOrt).ToArray(), result.GetValue(inputDir) ?? throw new CliException("--ort needs --input-dir"),
                        result.GetValue(trace), result.GetValue(only), result.GetValue(warmup), result.GetValue(values), output);
                else
                    LabWorker.Run(bytes, result.GetValue(inputs), result.GetValue(seed), result.GetValue(trace), result.GetValue(only), result.GetValue(warmup), output,
                        result.GetValue(inputDir));
            }
            catch (ModelRefusedException e)
            {
                throw new CliException(e.Message);
            }
            catch (FormatException e)
            {
                throw new CliException(e.Message);
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The arm64 worker launcher when <paramref name="isas"/> asks for arm64 on another machine ISA, else null.</summary>
    private static IWorkerLauncher? Arm64Launcher(string isas, string chain, string emulator, string? cpuinfo)
    {
        try
        {
            return CrossIsa.ParseIsas(isas).Contains(LabIsa.Arm64) && LabIsa.Host != LabIsa.Arm64
                ? CrossIsa.Arm64Launcher(chain, emulator, cpuinfo)
                : null;
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException)
        {
            throw new CliException($"--isa: {e.Message}");
        }
    }

    /// <summary>The worker's `--ort LEVEL:THREADS`.</summary>
    internal static OrtSettings ParseOrt(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2 && Enum.TryParse<OrtOptimization>(parts[0], ignoreCase: true, out var level) && Enum.IsDefined(level)
            && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var threads) && threads >= 1)
            return new OrtSettings(level, threads);
        throw new CliException($"--ort {text}: expected LEVEL:THREADS, LEVEL one of disabled, basic, extended, all");
    }

    /// <summary>`--inputs`: a count per pattern family, or a folder to read the inputs from.</summary>
    internal static (int PerPattern, string? Directory) ParseInputs(string text)
    {
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            return n >= 1 ? (n, null) : throw new CliException("--inputs must be at least 1");
        if (!Directory.Exists(text)) throw new CliException($"--inputs {text}: neither a count nor a folder");
        return (1, text);
    }

    internal static IReadOnlyList<LabModel> ResolveModels(string model, IReadOnlyDictionary<string, long[]>? shapes = null, bool contrast = true)
    {
        var list = new List<LabModel>();
        switch (model)
        {
            case "genesis":
                try
                {
                    list.AddRange(LabModels.Genesis(Directory.GetCurrentDirectory()));
                }
                catch (FileNotFoundException e)
                {
                    throw new CliException($"{e.Message} (produce the genesis models first, or use --model adversarial / --model FILE)");
                }
                list.AddRange(LabModels.Adversarial());
                break;
            case "adversarial":
                list.AddRange(LabModels.Adversarial());
                break;
            default:
                list.Add(LabModel.FromFile(Path.GetFileNameWithoutExtension(model), InferCommand.ReadFile(model, "model"), shapes));
                break;
        }
        // The float model is there for contrast: it shows what the same runtime does without integer arithmetic.
        if (contrast) list.Add(LabModels.FloatMlp());
        return list;
    }

    private static void Print(TextWriter output, LabReport lab)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        // Redirected output reports 80 columns; the table is unreadable that narrow.
        console.Profile.Width = Math.Max(console.Profile.Width, 180);
        output.WriteLine($"int8 peak (single thread, {lab.Peak.Instruction}): {lab.Peak.Gops:F1} GOPS; {lab.InputsPerModel} inputs per model"
            + (lab.InputDirectory is { } dir ? $", read from {dir}" : lab.Models.Any(m => m.IsFloat) ? $"; {LabReportWriter.FloatInputs}" : ""));
        foreach (var m in lab.Models.Where(m => m.Caveat is not null)) output.WriteLine($"{m.Name}: {m.Caveat}");
        var table = new Table().AddColumns("model", "configuration", "bit-match", "max |Δ|", "ULP", "top-1 flips", "first divergent node", "ms", "GOPS", "% peak");
        foreach (var r in lab.Rows)
        {
            var colour = r.FullMatch ? "green" : r.Consensus ? "red" : "yellow";
            var node = r.Error is not null ? "error: " + r.Error : r.DivergentNode is null ? "" : LabReportWriter.NodeCell(r);
            var f = r.Float;
            table.AddRow(Markup.Escape(r.Model + (r.Consensus ? "" : lab.Models.Any(m => m.Name == r.Model && m.NotAdmitted is not null) ? " (not admitted)" : " (float)")), Markup.Escape(r.Configuration),
                $"[{colour}]{r.Matches}/{r.Runs} ({r.MatchRate * 100:F1}%)[/]",
                f is null ? "" : f.MaxAbsDiff.ToString("G3"), f is null ? "" : Markup.Escape(FloatUlp.Describe(f.MaxUlp)),
                f?.Top1Flips is { } flips ? $"{flips}/{f.Top1Rows}" : f is null ? "" : "n/a", Markup.Escape(node),
                r.MeanLatencyMs.ToString("F3"), r.Gops.ToString("F2"), (r.PeakFraction * 100).ToString("F1"));
        }
        console.Write(table);
        foreach (var line in LabReportWriter.TradeLines(lab)) output.WriteLine(line);
        output.WriteLine(lab.ConsensusAllMatch
            ? "every consensus configuration reproduced the canonical reference bit for bit"
            : "DIVERGENCE: at least one consensus configuration did not reproduce the canonical reference");
    }
}
