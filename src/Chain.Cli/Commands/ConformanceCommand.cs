using System.CommandLine;
using System.Text.Json;
using Chain.Inference.Conformance;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>`chain conformance [--dir DIR] [--json]`: the official ONNX node cases against admission and both executors.</summary>
internal static class ConformanceCommand
{
    public static Command Create()
    {
        var dir = new Option<string?>("--dir")
        {
            Description = $"Folder of ONNX node cases (default: ${ConformanceRunner.EnvironmentVariable}, else ../shared/onnx-conformance beside the repository)",
        };
        var json = new Option<bool>("--json") { Description = "Print results as JSON" };
        var command = new Command("conformance", "Run the ONNX node conformance cases under admission, the canonical executor and ONNX Runtime") { dir, json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var folder = ConformanceRunner.Locate(result.GetValue(dir))
                ?? throw new CliException($"no conformance cases found (give --dir, or set ${ConformanceRunner.EnvironmentVariable})");
            var results = ConformanceRunner.RunAll(folder);
            if (results.Count == 0) throw new CliException($"{folder} holds no cases (folders with model.onnx)");
            if (result.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(results.Select(r => new
                {
                    @case = r.Case,
                    verdict = r.Verdict.ToString(),
                    float_case = r.FloatCase,
                    admitted = r.Admitted,
                    refusal = r.Refusal,
                    canonical = r.Canonical,
                    ort = r.Ort,
                    detail = r.Detail,
                }), new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
                var table = new Table().AddColumns("case", "verdict", "canonical", "ort", "admission");
                foreach (var r in results)
                {
                    var colour = r.Ok ? "green" : "red";
                    table.AddRow(Markup.Escape(r.Case), $"[{colour}]{r.Verdict}[/]", Markup.Escape(Short(r.Canonical)), Markup.Escape(Short(r.Ort)),
                        Markup.Escape(r.Admitted ? "admitted" : Short(r.Refusal ?? "")));
                }
                console.Write(table);
                var failed = results.Count(r => !r.Ok);
                output.WriteLine($"{results.Count} cases: {results.Count(r => r.Verdict == ConformanceVerdict.Passed)} passed bit-exact, " +
                    $"{results.Count(r => r.Verdict == ConformanceVerdict.RefusedAsExpected)} refused as float, " +
                    $"{results.Count(r => r.Verdict == ConformanceVerdict.DocumentedDeviation)} documented deviations, {failed} failed");
            }
            return results.All(r => r.Ok) ? 0 : 1;
        }));
        return command;
    }

    private static string Short(string text) => text.Length <= 70 ? text : text[..67] + "...";
}
