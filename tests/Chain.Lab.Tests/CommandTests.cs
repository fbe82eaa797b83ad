using System.CommandLine;
using Chain.Cli;

namespace Chain.Lab.Tests;

/// <summary>The `chain determinism` command run in-process, as the CLI tests run commands.</summary>
public class CommandTests
{
    private static (int Code, string Output, string Error) Chain(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CliApp.Build().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Determinism_on_a_model_file_writes_the_report_and_exits_0()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-cli").FullName;
        try
        {
            var modelFile = Path.Combine(dir, "ties.onnx");
            File.WriteAllBytes(modelFile, LabModels.GemmTies().Bytes);
            var json = Path.Combine(dir, "out.json");
            var report = Path.Combine(dir, "report");
            // --no-child: in a test host the current process is not `chain`; the child path is tested in WorkerTests.
            var (code, output, error) = Chain("determinism", "--model", modelFile, "--inputs", "1", "--no-child", "--warmup-ms", "0",
                "--json", json, "--report", report);
            Assert.True(code == 0, output + error);
            Assert.Contains("every consensus configuration reproduced the canonical reference bit for bit", output);
            Assert.Contains("int8 peak", output);
            var parsed = LabReportWriter.FromJson(File.ReadAllText(json));
            Assert.Equal(["ties", "float-mlp"], parsed.Models.Select(m => m.Name));
            Assert.True(File.Exists(Path.Combine(report, LabReportWriter.ChartFile)));
            Assert.True(File.Exists(Path.Combine(report, LabReportWriter.MarkdownFile)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Determinism_refuses_a_model_admission_refuses()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-cli").FullName;
        try
        {
            var modelFile = Path.Combine(dir, "float.onnx");
            File.WriteAllBytes(modelFile, LabModels.FloatMlp().Bytes);
            var (code, _, error) = Chain("determinism", "--model", modelFile, "--inputs", "1", "--no-child");
            Assert.Equal(1, code);
            Assert.Contains("not admitted", error);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Worker_command_is_hidden_but_runs()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-cli").FullName;
        try
        {
            var modelFile = Path.Combine(dir, "conv.onnx");
            File.WriteAllBytes(modelFile, LabModels.ConvOdd().Bytes);
            var (code, output, error) = Chain(LabWorker.Command, "--model", modelFile, "--inputs", "1", "--seed", "2");
            Assert.True(code == 0, error);
            Assert.Equal(6, LabWorker.Parse(output).Results.Count);
            Assert.DoesNotContain(LabWorker.Command, Chain("--help").Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
