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
        var command = new Command("conformance",
            "Run the ONNX node conformance cases under admission, the canonical executor and ONNX Runtime (exit 1 if any case Failed or could not be evaluated)")
        {
            dir, json,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var folder = ConformanceRunner.Locate(result.GetValue(dir))
                ?? throw new CliException($"no conformance cases found (give --dir, or set ${ConformanceRunner.EnvironmentVariable})");
            var results = ConformanceRunner.RunAll(folder);
            if (results.Count == 0) throw new CliException($"{folder} holds no cases (folders with model.onnx)");
            // Every verdict, zeros included, so a reader (or a script) sees what could have happened.
            var counts = Enum.GetValues<ConformanceVerdict>().ToDictionary(v => v.ToString(), v => results.Count(r => r.Verdict == v));
            if (result.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    directory = Path.GetFullPath(folder),
                    total = results.Count,
                    counts,
                    cases = results.Select(r => new
                    {
                        @case = r.Case,
                        verdict = r.Verdict.ToString(),
                        reason = r.Reason,
                        float_case = r.FloatCase,
                        admitted = r.Admitted,
                        refusal = r.Refusal,
                        canonical = r.Canonical,
                        ort = r.Ort,
                    }),
                }, new JsonSerializerOptions
                {
                    WriteIndented = true,
                    // Reasons quote names ('x') and arrows (->): keep them readable; this is not HTML.
                    Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                }));
            }
            else
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
                // Redirected output reports 80 columns; the reasons need more.
                console.Profile.Width = Math.Max(console.Profile.Width, 180);
                var table = new Table().AddColumns("case", "verdict", "canonical", "ort", "reason");
                foreach (var r in results)
                {
                    var colour = r.Verdict switch
                    {
                        ConformanceVerdict.Failed or ConformanceVerdict.Error => "red",
                        ConformanceVerdict.Passed or ConformanceVerdict.RefusedAsExpected => "green",
                        _ => "yellow",
                    };
                    table.AddRow(Markup.Escape(r.Case), $"[{colour}]{r.Verdict}[/]", Markup.Escape(Short(r.Canonical, 40)), Markup.Escape(Short(r.Ort, 40)),
                        Markup.Escape(Short(r.Reason, 100)));
                }
                console.Write(table);
                output.WriteLine($"{results.Count} cases: " + string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}")));
            }
            var bad = results.Where(r => !r.Ok).ToArray();
            if (bad.Length == 0) return 0;
            result.InvocationConfiguration.Error.WriteLine(
                $"error: {bad.Length} of {results.Count} cases failed or could not be evaluated: {string.Join(", ", bad.Select(r => $"{r.Case} ({r.Verdict})"))}");
            return 1;
        }));
        return command;
    }

    private static string Short(string text, int max) => text.Length <= max ? text : text[..(max - 3)] + "...";
}
