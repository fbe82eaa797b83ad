using System.CommandLine;
using Chain.Inference.Admission;
using Chain.Inference.Runtime;
using Chain.Lab;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain determinism --model FILE|genesis|adversarial --inputs N [--isa x64,arm64] [--json FILE] [--report DIR]`: the determinism
/// lab (src/Chain.Lab), and the hidden `chain determinism-worker` it starts as a child process.
/// </summary>
internal static class DeterminismCommand
{
    /// <param name="launcher">How child configurations start the worker; null means this very executable.</param>
    public static Command Create(IWorkerLauncher? launcher = null)
    {
        var model = new Option<string>("--model")
        {
            Description = "ONNX model file, 'genesis' (genesis/models/mlp.onnx and cnn.onnx plus the adversarial set) or 'adversarial' (built-in stress models)",
            Required = true,
        };
        var inputs = new Option<int>("--inputs") { Description = "Inputs per pattern family (random, all-max, all-min, alternating, random-extremes, zeros)", DefaultValueFactory = _ => 20 };
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
        var command = new Command("determinism",
            "Measure bit-exactness of the canonical executor across GEMM paths and CPU feature sets, and of ONNX Runtime across optimisation levels and threads")
        {
            model, inputs, seed, json, report, noChild, warmup, isa, arm64Chain, emulator,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var perPattern = result.GetValue(inputs);
            if (perPattern < 1) throw new CliException("--inputs must be at least 1");
            var models = ResolveModels(result.GetValue(model)!);
            var arm64 = Arm64Launcher(result.GetValue(isa)!, result.GetValue(arm64Chain)!, result.GetValue(emulator)!);
            var configurations = DeterminismLab.DefaultConfigurations(
                result.GetValue(noChild) ? null : launcher ?? ProcessWorkerLauncher.ForCurrentProcess(), arm64);
            LabReport lab;
            try
            {
                lab = LabConsole.RunWithProgress(output, progress =>
                    DeterminismLab.Run(models, configurations, new LabOptions { InputsPerPattern = perPattern, Seed = result.GetValue(seed), WarmupMs = Math.Max(0, result.GetValue(warmup)) }, progress));
            }
            catch (ModelRefusedException e)
            {
                throw new CliException($"{e.Message} (the lab measures consensus models, which must be admitted)");
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
        var command = new Command(LabWorker.Command, "Internal: the child process of `chain determinism`") { model, inputs, seed, trace, only, warmup };
        command.Hidden = true;
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var bytes = InferCommand.ReadFile(result.GetValue(model)!, "model");
            try
            {
                LabWorker.Run(bytes, result.GetValue(inputs), result.GetValue(seed), result.GetValue(trace), result.GetValue(only), result.GetValue(warmup), output);
            }
            catch (ModelRefusedException e)
            {
                throw new CliException(e.Message);
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The arm64 worker launcher when <paramref name="isas"/> asks for arm64 on another machine ISA, else null.</summary>
    private static IWorkerLauncher? Arm64Launcher(string isas, string chain, string emulator)
    {
        try
        {
            return CrossIsa.ParseIsas(isas).Contains(LabIsa.Arm64) && LabIsa.Host != LabIsa.Arm64
                ? CrossIsa.Arm64Launcher(chain, emulator)
                : null;
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException)
        {
            throw new CliException($"--isa: {e.Message}");
        }
    }

    internal static IReadOnlyList<LabModel> ResolveModels(string model)
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
                var bytes = InferCommand.ReadFile(model, "model");
                var admission = ModelAdmission.Check(bytes);
                if (!admission.Admitted)
                    throw new CliException($"{model} is not admitted: {string.Join("; ", admission.Reasons.Take(3))}");
                list.Add(new LabModel(Path.GetFileNameWithoutExtension(model), bytes));
                break;
        }
        // The float model is there for contrast: it shows what the same runtime does without integer arithmetic.
        list.Add(LabModels.FloatMlp());
        return list;
    }

    private static void Print(TextWriter output, LabReport lab)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        // Redirected output reports 80 columns; the table is unreadable that narrow.
        console.Profile.Width = Math.Max(console.Profile.Width, 180);
        output.WriteLine($"int8 peak (single thread, {lab.Peak.Instruction}): {lab.Peak.Gops:F1} GOPS; {lab.InputsPerModel} inputs per model");
        var table = new Table().AddColumns("model", "configuration", "bit-match", "first divergent node", "ms", "GOPS", "% peak");
        foreach (var r in lab.Rows)
        {
            var colour = r.FullMatch ? "green" : r.Consensus ? "red" : "yellow";
            var node = r.Error is not null ? "error: " + r.Error
                : r.DivergentNode is null ? ""
                : $"{r.DivergentNode}{(r.DivergentOp is null ? "" : $" ({r.DivergentOp})")} at {r.FirstDivergentInput}";
            table.AddRow(Markup.Escape(r.Model + (r.Consensus ? "" : " (float)")), Markup.Escape(r.Configuration),
                $"[{colour}]{r.Matches}/{r.Runs} ({r.MatchRate * 100:F1}%)[/]", Markup.Escape(node),
                r.MeanLatencyMs.ToString("F3"), r.Gops.ToString("F2"), (r.PeakFraction * 100).ToString("F1"));
        }
        console.Write(table);
        output.WriteLine(lab.ConsensusAllMatch
            ? "every consensus configuration reproduced the canonical reference bit for bit"
            : "DIVERGENCE: at least one consensus configuration did not reproduce the canonical reference");
    }
}
