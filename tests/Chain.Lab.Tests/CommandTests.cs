using System.CommandLine;
using Chain.Cli;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Testing.FloatModels;

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
    public void Quantize_runs_each_float_models_int8_twin_and_prints_the_trade()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-cli-q").FullName;
        try
        {
            var modelFile = Path.Combine(dir, "mlp.onnx");
            File.WriteAllBytes(modelFile, LabModels.FloatMlp().Bytes);
            var json = Path.Combine(dir, "out.json");
            var (code, output, error) = Chain("determinism", "--model", modelFile, "--inputs", "1", "--no-child", "--warmup-ms", "0", "--quantize", "--json", json);
            Assert.True(code == 0, output + error);
            Assert.Equal(["mlp", "mlp-int8", "float-mlp", "float-mlp-int8"], LabReportWriter.FromJson(File.ReadAllText(json)).Models.Select(m => m.Name));
            Assert.Contains("mlp-int8 (int8): ", output);
            Assert.Contains("configurations bit-exact; accuracy cost (minmax calibration on 1, evaluated on 1 of the lab's float inputs): top-1 agreement", output);
            Assert.Contains("max |Δ|", output); // the console table's float columns
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_worker_given_bad_ort_settings_refuses_them_in_one_line()
    {
        var file = Path.Combine(Path.GetTempPath(), $"chain-lab-ort-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(file, LabModels.GemmTies().Bytes);
        try
        {
            foreach (var bad in new[] { "fast:2", "basic:0", "basic", "basic:1,all:x" })
            {
                var (code, output, error) = Chain("determinism-worker", "--model", file, "--inputs", "1", "--seed", "1", "--ort", bad, "--input-dir", ".");
                Assert.NotEqual(0, code);
                Assert.Contains($"--ort {bad.Split(',')[^1]}: expected LEVEL:THREADS", error + output);
            }
        }
        finally
        {
            File.Delete(file);
        }
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
    public void Determinism_measures_a_model_admission_refuses_under_ort_only_and_says_so()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-cli").FullName;
        try
        {
            var modelFile = Path.Combine(dir, "kws.onnx");
            File.WriteAllBytes(modelFile, FloatModelZoo.KeywordSpottingMlp().Bytes);
            var json = Path.Combine(dir, "out.json");
            var report = Path.Combine(dir, "report");
            var (code, output, error) = Chain("determinism", "--model", modelFile, "--inputs", "1", "--no-child", "--warmup-ms", "0",
                "--json", json, "--report", report);
            Assert.True(code == 0, output + error);
            Assert.Contains("kws: not admitted: [float]", output);
            Assert.Contains("measured under ONNX Runtime only", output);
            var parsed = LabReportWriter.FromJson(File.ReadAllText(json));
            var kws = parsed.Models.Single(m => m.Name == "kws");
            Assert.True(kws.IsFloat);
            Assert.Equal("ort disabled t1", kws.Reference);
            Assert.All(parsed.Rows.Where(r => r.Model == "kws"), r => Assert.Equal(ConfigKind.Ort, r.Kind));
            Assert.Equal(12, parsed.Rows.Count(r => r.Model == "kws"));
            Assert.Contains("canonical semantics do not apply", File.ReadAllText(Path.Combine(report, LabReportWriter.MarkdownFile)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Determinism_reads_inputs_from_a_folder_and_takes_shapes_for_symbolic_dimensions()
    {
        var dir = Directory.CreateTempSubdirectory("chain-lab-cli").FullName;
        try
        {
            var zoo = FloatModelZoo.KeywordSpottingMlpDynamicBatch();
            var modelFile = Path.Combine(dir, "kws-dyn.onnx");
            File.WriteAllBytes(modelFile, zoo.Bytes);
            var inputs = Directory.CreateDirectory(Path.Combine(dir, "inputs")).FullName;
            var random = new Random(16);
            Console.WriteLine("seed 16");
            for (int i = 0; i < 3; i++)
            {
                var values = Enumerable.Range(0, 2 * zoo.InputElements).Select(_ => (float)random.NextDouble()).ToArray();
                File.WriteAllBytes(Path.Combine(inputs, $"sample{i}.npy"),
                    TensorFiles.ToNpy(Tensor.Create(TensorElementType.Float, [2, zoo.InputShape[1]], values)));
            }
            var json = Path.Combine(dir, "out.json");
            var (code, output, error) = Chain("determinism", "--model", modelFile, "--inputs", inputs, "--shape", $"{zoo.InputName}=2,{zoo.InputShape[1]}",
                "--no-child", "--warmup-ms", "0", "--json", json);
            Assert.True(code == 0, output + error);
            var parsed = LabReportWriter.FromJson(File.ReadAllText(json));
            Assert.Equal(inputs, parsed.InputDirectory);
            var row = parsed.Rows.First(r => r.Model == "kws-dyn");
            Assert.Equal(3, row.Runs);

            var (badCode, _, badError) = Chain("determinism", "--model", modelFile, "--shape", "nosuch=1,2", "--no-child", "--warmup-ms", "0");
            Assert.Equal(1, badCode);
            Assert.Contains("--shape nosuch: the model has no input of that name", badError);
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
