using System.CommandLine;
using System.Text.Json;
using Chain.Execution;
using Chain.Inference.Runtime;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>`chain bench execution`: block execution throughput against its irreducible parts, measured in one run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Throughput measurements with their baselines measured side by side");
        bench.Add(CreateExecution());
        bench.Add(BenchNetworkCommand.Create());
        bench.Add(BenchFaultsCommand.Create());
        bench.Add(BenchGasCommand.Create());
        bench.Add(BenchModelsCommand.Create());
        bench.Add(BenchWanCommand.Create());
        return bench;
    }

    private static Command CreateExecution()
    {
        var transfers = new Option<int>("--transfers") { Description = "Transfers in the transfer block", DefaultValueFactory = _ => 2000 };
        var infers = new Option<int>("--infers") { Description = "Infer transactions in the inference block", DefaultValueFactory = _ => 200 };
        var model = new Option<string>("--model") { Description = "mlp or cnn (a genesis model), or an ONNX file", DefaultValueFactory = _ => "mlp" };
        var json = new Option<string?>("--json") { Description = "Write the figures as JSON to this file" };
        var command = new Command("execution", "Transfers vs the Ed25519 verify limit; Infer txs vs the raw inference loop, with and without pre-execution")
        {
            transfers, infers, model, json,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            int t = result.GetValue(transfers), n = result.GetValue(infers);
            if (t is < 1 or > 9_000 || n is < 1 or > 9_000) throw new CliException("--transfers and --infers must be between 1 and 9000 (one block holds them)");
            var name = result.GetValue(model)!;
            byte[] bytes;
            if (name is "mlp" or "cnn")
            {
                var dir = GenesisModels.Locate(Directory.GetCurrentDirectory())
                    ?? throw new CliException("genesis/models not found in this folder or above it; run from the repository or give --model FILE");
                bytes = InferCommand.ReadFile(Path.Combine(dir, name + ".onnx"), "model");
            }
            else bytes = InferCommand.ReadFile(name, "model");
            var report = ExecutionBenchmark.Run(bytes, Path.GetFileNameWithoutExtension(name), t, n, line => output.WriteLine(line));
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            var table = new Table().AddColumns("path", "items", "per second", "baseline", "baseline per second", "ratio", "goal");
            foreach (var f in report.Figures)
                table.AddRow(Markup.Escape(f.Name), f.Items.ToString(), f.PerSecond.ToString("N0"), Markup.Escape(f.Baseline),
                    f.BaselinePerSecond.ToString("N0"), $"[{(f.MeetsGoal ? "green" : "yellow")}]{f.Ratio:F2}×[/]", $"≥ {f.Goal:F1}×");
            console.Write(table);
            if (result.GetValue(json) is { } file)
            {
                OutputFiles.WriteText(file, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            }
            return 0;
        }));
        return command;
    }
}
