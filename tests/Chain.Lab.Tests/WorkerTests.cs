using Chain.Inference.Runtime;

namespace Chain.Lab.Tests;

public class WorkerTests
{
    private static string[] CanonicalHashes(LabModel model, int perPattern, int seed)
    {
        using var canonical = CanonicalExecutor.Load(model.Bytes);
        return LabInputs.Create(canonical.Inputs, perPattern, seed).Select(i => LabInputs.OutputHash(canonical.Run(i.Tensors))).ToArray();
    }

    [Fact]
    public void Worker_prints_a_header_and_one_line_per_input_with_the_canonical_hashes()
    {
        var model = LabModels.ConvOdd();
        var output = new StringWriter();
        LabWorker.Run(model.Bytes, perPattern: 2, seed: 5, trace: true, only: null, warmupMs: 0, output);
        var (header, results) = LabWorker.Parse(output.ToString());
        Assert.False(string.IsNullOrEmpty(header.Path));
        Assert.Equal(CanonicalHashes(model, 2, 5), results.Select(r => r.Hash));
        Assert.All(results, r => Assert.Equal(["conv1", "conv2"], r.Trace!.Select(t => t.Node)));
    }

    [Fact]
    public void Worker_only_runs_the_requested_input()
    {
        var output = new StringWriter();
        LabWorker.Run(LabModels.GemmTies().Bytes, perPattern: 1, seed: 5, trace: false, only: 3, warmupMs: 0, output);
        var result = Assert.Single(LabWorker.Parse(output.ToString()).Results);
        Assert.Equal(3, result.Index);
        Assert.Null(result.Trace);
    }

    /// <summary>The built chain.dll, copied beside the tests by the project reference to Chain.Cli.</summary>
    private static ProcessWorkerLauncher ChainDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "chain.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project must reference Chain.Cli");
        return new ProcessWorkerLauncher("dotnet", [dll]);
    }

    [Fact]
    public void Child_process_with_hardware_intrinsics_off_uses_the_scalar_path_and_matches()
    {
        var model = LabModels.GemmTies();
        var config = new ChildProcessConfiguration(["DOTNET_EnableHWIntrinsic"], ChainDll());
        using var prepared = PreparedModel.Load(model);
        var inputs = LabInputs.Create(prepared.Inputs, 1, 8);
        var run = config.Run(prepared, inputs, new LabInputSpec(1, 8));
        Assert.Equal(CanonicalHashes(model, 1, 8), run.OutputHashes);
        Assert.Contains("child path scalar", run.Detail);
        Assert.Equal("child HWIntrinsic=0", config.Name);
        Assert.Contains("hw=False", run.Detail);
        // Tracing goes through the child too: both nodes of a two-node model, same hashes as in-process.
        using var conv = PreparedModel.Load(LabModels.ConvOdd());
        var convInputs = LabInputs.Create(conv.Inputs, 1, 8);
        var childTrace = config.Trace(conv, convInputs, new LabInputSpec(1, 8), 2);
        Assert.Equal(conv.Canonical!.RunTraced(convInputs[2].Tensors).Trace, childTrace);
    }

    [Fact]
    public void Child_process_with_avx2_off_reports_it_and_matches()
    {
        var model = LabModels.ConvOdd();
        var config = new ChildProcessConfiguration(["DOTNET_EnableAVX2"], ChainDll());
        using var prepared = PreparedModel.Load(model);
        var run = config.Run(prepared, LabInputs.Create(prepared.Inputs, 1, 6), new LabInputSpec(1, 6));
        Assert.Equal(CanonicalHashes(model, 1, 6), run.OutputHashes);
        Assert.Contains("avx2=False", run.Detail);
        Assert.DoesNotContain("child path avx", run.Detail);
    }

    [Fact]
    public void A_failing_worker_surfaces_its_error()
    {
        using var prepared = PreparedModel.Load(LabModels.ConvOdd());
        var config = new ChildProcessConfiguration(["DOTNET_EnableAVX2"], new ProcessWorkerLauncher("dotnet", [Path.Combine(AppContext.BaseDirectory, "chain.dll"), "no-such-command"]));
        var error = Assert.Throws<WorkerFailedException>(() => config.Run(prepared, LabInputs.Create(prepared.Inputs, 1, 1), new LabInputSpec(1, 1)));
        Assert.Contains("worker exited with 1: ", error.Message);
        Assert.Equal(1, error.ExitCode);
        Assert.False(error.Crashed);
    }
}
