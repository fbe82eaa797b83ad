using Xunit.Abstractions;

namespace Chain.Lab.Tests;

/// <summary>
/// The lab across ISAs (`chain determinism --isa x64,arm64`). The parsing, launcher and report plumbing run
/// everywhere; the run against the real arm64 build needs `make chain-arm64` first and says so when it is absent
/// (`make determinism-arm64` runs the full lab).
/// </summary>
public sealed class CrossIsaTests(ITestOutputHelper output)
{
    private static readonly PeakResult Peak = new("fixed for tests", 100);

    [Fact]
    public void Isa_lists_must_name_known_isas_once_and_include_this_machine()
    {
        Assert.Equal([LabIsa.Host], CrossIsa.ParseIsas(LabIsa.Host));
        Assert.Contains("unknown ISA 'riscv64'", Assert.Throws<ArgumentException>(() => CrossIsa.ParseIsas($"{LabIsa.Host},riscv64")).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => CrossIsa.ParseIsas($"{LabIsa.Host},{LabIsa.Host}")).Message);
        if (LabIsa.Host == LabIsa.X64)
        {
            Assert.Equal([LabIsa.X64, LabIsa.Arm64], CrossIsa.ParseIsas("x64, arm64"));
            Assert.Contains("must include this machine's (x64)", Assert.Throws<ArgumentException>(() => CrossIsa.ParseIsas("arm64")).Message);
        }
    }

    [Fact]
    public void A_missing_arm64_build_is_reported_with_how_to_make_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"chain-no-arm64-{Guid.NewGuid():N}", "chain");
        var e = Assert.Throws<FileNotFoundException>(() => CrossIsa.Arm64Launcher(missing));
        Assert.Contains("make chain-arm64", e.Message);
    }

    [Fact]
    public void Arm64_configurations_are_named_by_isa_and_environment()
    {
        var launcher = new ProcessWorkerLauncher("unused", []);
        Assert.Equal(["arm64 default", "arm64 Arm64Dp=0", "arm64 CHAIN_KERNELS=scalar"], ChildProcessConfiguration.Arm64(launcher).Select(c => c.Name));
        Assert.All(ChildProcessConfiguration.Arm64(launcher), c => Assert.Equal(LabIsa.Arm64, c.Isa));
        // The host's own child configurations keep their names and ISA.
        var child = new ChildProcessConfiguration(["DOTNET_EnableAVX2"], launcher);
        Assert.Equal("child AVX2=0", child.Name);
        Assert.Equal(LabIsa.Host, child.Isa);
        Assert.Equal(["DOTNET_EnableAVX2"], child.Disabled);
    }

    [Fact]
    public void A_header_from_an_older_worker_still_parses_and_an_arm64_one_describes_its_flags()
    {
        var (old, _) = LabWorker.Parse("{\"path\":\"avx2\",\"avx512f\":false,\"avx2\":true,\"hw_intrinsics\":true}\n");
        Assert.Null(old.Isa);
        Assert.Equal("child path avx2 (avx512f=False, avx2=True, hw=True)", old.Describe());
        var arm = new WorkerHeader("advsimddp", false, false, true, LabIsa.Arm64, true, true);
        Assert.Equal("child path advsimddp on arm64 (advsimd=True, dp=True, hw=True)", arm.Describe());
    }

    [Fact]
    public void Report_puts_the_isas_side_by_side_and_names_the_first_divergent_node()
    {
        LabRow Row(string isa, string config, int matches, string? node = null) =>
            new("gemm-ties", config, ConfigKind.ChildProcess, true, 6, matches, matches / 6.0, node is null ? null : "random#0", node,
                node is null ? null : "QLinearMatMul", 1.5, 0.1, 0.001, null, null, isa);
        var report = new LabReport("test", "avx2", Peak, 1, 3, 6,
            [new LabModelInfo("gemm-ties", new string('a', 64), false, 100, "canonical avx2", 1)],
            [Row("x64", "canonical scalar", 6), Row("x64", "canonical avx2", 6), Row("arm64", "arm64 default", 6), Row("arm64", "arm64 CHAIN_KERNELS=scalar", 5, "mm")]);
        var md = LabReportWriter.ToMarkdown(report);
        output.WriteLine(md);
        Assert.Contains("## Across ISAs (x64 vs arm64)", md);
        Assert.Contains("| gemm-ties | canonical scalar ✓ (1.50 ms); canonical avx2 ✓ (1.50 ms) | arm64 default ✓ (1.50 ms); arm64 CHAIN_KERNELS=scalar ✗ mm at random#0 (1.50 ms) |", md);
        Assert.Contains("DIVERGENCE", md);
        Assert.False(report.ConsensusAllMatch);
        var back = LabReportWriter.FromJson(LabReportWriter.ToJson(report));
        Assert.Equal(report.Rows.Select(r => r.Isa), back.Rows.Select(r => r.Isa));
        // A single-ISA report has no such section.
        Assert.DoesNotContain("Across ISAs", LabReportWriter.ToMarkdown(report with { Rows = report.Rows.Where(r => r.Isa == "x64").ToArray() }));
    }

    [Fact]
    public void A_worker_of_another_isa_than_the_configuration_says_is_refused()
    {
        // This machine's real worker behind an "arm64" configuration: its header names the host ISA, so the row is an error.
        if (LabIsa.Host == LabIsa.Arm64) return; // there the host build is the arm64 one
        var dll = Path.Combine(AppContext.BaseDirectory, "chain.dll");
        var config = new ChildProcessConfiguration(LabIsa.Arm64, new Dictionary<string, string>(), new ProcessWorkerLauncher("dotnet", [dll]));
        using var prepared = PreparedModel.Load(LabModels.ConvOdd());
        var e = Assert.Throws<InvalidOperationException>(() => config.Run(prepared, LabInputs.Create(prepared.Inputs, 1, 1), new LabInputSpec(1, 1)));
        Assert.Equal($"the worker ran on {LabIsa.Host}, not arm64", e.Message);
    }

    [Fact]
    public void The_arm64_build_reproduces_this_machines_canonical_bytes_on_every_path()
    {
        var chain = Path.Combine(RepositoryRoot(), CrossIsa.DefaultArm64Chain);
        ProcessWorkerLauncher launcher;
        try
        {
            launcher = CrossIsa.Arm64Launcher(chain);
        }
        catch (FileNotFoundException e)
        {
            output.WriteLine($"SKIPPED (no arm64 build or emulator): {e.Message}");
            return;
        }
        // One small model (GEMM, requantization ties) on each arm64 path: under qemu every worker start costs seconds.
        var report = DeterminismLab.Run([LabModels.GemmTies()], ChildProcessConfiguration.Arm64(launcher),
            new LabOptions { InputsPerPattern = 1, Seed = 4, WarmupMs = 0, Peak = Peak });
        output.WriteLine(LabReportWriter.ToMarkdown(report));
        Assert.Equal(3, report.Rows.Count);
        Assert.All(report.Rows, r => Assert.True(r.FullMatch, $"{r.Model}/{r.Configuration}: {r.Matches}/{r.Runs} {r.DivergentNode} {r.Error}"));
        Assert.All(report.Rows, r => Assert.Equal(LabIsa.Arm64, r.Isa));
        Assert.All(report.Rows, r => Assert.Contains("on arm64", r.Detail));
        Assert.Contains(report.Rows, r => r.Detail!.StartsWith("child path scalar", StringComparison.Ordinal) && r.Configuration.Contains("scalar"));
        // Tracing crosses the ISA too: the same node hashes as in this process.
        using var conv = PreparedModel.Load(LabModels.ConvOdd());
        var inputs = LabInputs.Create(conv.Inputs, 1, 4);
        Assert.Equal(conv.Canonical!.RunTraced(inputs[1].Tensors).Trace,
            ChildProcessConfiguration.Arm64(launcher)[0].Trace(conv, inputs, new LabInputSpec(1, 4), 1));
    }

    [Fact]
    public void Ort_arm64_either_matches_the_x64_reference_or_its_rows_say_why_not()
    {
        var root = RepositoryRoot();
        var chain = Path.Combine(root, CrossIsa.DefaultArm64Chain);
        var cpuinfo = Path.Combine(root, ".data", "arm64-cpuinfo");
        ProcessWorkerLauncher plain;
        try
        {
            plain = CrossIsa.Arm64Launcher(chain);
        }
        catch (FileNotFoundException e)
        {
            output.WriteLine($"SKIPPED (no arm64 build or emulator): {e.Message}");
            return;
        }
        // One setting, one small integer model: each worker start under qemu costs seconds.
        LabReport Run(IWorkerLauncher launcher) => DeterminismLab.Run([LabModels.GemmTies()],
            [new OrtWorkerConfiguration(LabIsa.Arm64, Chain.Inference.Runtime.OrtSettings.Pinned, launcher)], new LabOptions { InputsPerPattern = 1, Seed = 4, WarmupMs = 0, Peak = Peak });
        var row = Assert.Single(Run(plain).Rows);
        output.WriteLine($"without an arm64 cpuinfo: {row.Matches}/{row.Runs} {row.Error}");
        // Natively ORT runs; under qemu it may crash, and then the row must say why and how to get past it.
        Assert.True(row.FullMatch || row.Error!.Contains("--arm64-cpuinfo", StringComparison.Ordinal), row.Error);
        if (LabIsa.Host == LabIsa.Arm64 || !File.Exists(cpuinfo) || Environment.UserName != "root") return;
        var bound = Assert.Single(Run(CrossIsa.Arm64Launcher(chain, cpuinfo: cpuinfo)).Rows);
        output.WriteLine($"with {cpuinfo}: {bound.Matches}/{bound.Runs} {bound.Error} {bound.Detail}");
        Assert.True(bound.FullMatch, $"{bound.Matches}/{bound.Runs} {bound.Error}");
        Assert.StartsWith("child ort basic t1 on arm64", bound.Detail);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Chain.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>The chart: latency bars beside one match-rate heatmap per ISA.</summary>
public sealed class ChartTests
{
    [Fact]
    public void The_chart_has_the_latency_bars_and_a_heatmap_per_isa_with_its_colours()
    {
        LabRow Row(string isa, string model, string config, int matches, string? error = null) =>
            new(model, config, ConfigKind.Ort, false, 6, matches, matches / 6.0, null, null, null, 1.5, 0.1, 0.001, null, error, isa);
        var report = new LabReport("test", "avx2", new PeakResult("fixed", 1), 1, 3, 6,
            [new LabModelInfo("float-a", new string('a', 64), true, 100, "ort disabled t1", 1), new LabModelInfo("float-b", new string('b', 64), true, 100, "ort disabled t1", 1)],
            [
                Row("x64", "float-a", "ort disabled t1", 6), Row("x64", "float-a", "ort all t4", 1), Row("x64", "float-b", "ort disabled t1", 6),
                Row("arm64", "float-a", "arm64 ort disabled t1", 6), Row("arm64", "float-b", "arm64 ort disabled t1", 0, "crashed"),
            ]);
        var file = Path.Combine(Path.GetTempPath(), $"chain-lab-chart-{Guid.NewGuid():N}.png");
        try
        {
            LabReportWriter.WriteChart(report, file);
            using var bitmap = SkiaSharp.SKBitmap.Decode(file);
            Assert.NotNull(bitmap);
            Assert.True(bitmap.Width > 900 + 400, $"width {bitmap.Width}: the heatmaps sit beside the 900-pixel latency plot");
            var colours = new HashSet<SkiaSharp.SKColor>();
            for (var y = 0; y < bitmap.Height; y += 2)
                for (var x = 0; x < bitmap.Width; x += 2)
                    colours.Add(bitmap.GetPixel(x, y));
            Assert.True(colours.Count > 50, $"{colours.Count} colours: text and shapes were drawn");
            // Full match (sea green), a 1/6 match (crimson mixed towards gold), and the latency plot's bars are all there.
            static SkiaSharp.SKColor Sk(ScottPlot.Color c) => new(c.Red, c.Green, c.Blue, c.Alpha);
            Assert.Contains(Sk(ScottPlot.Colors.SeaGreen), colours);
            Assert.Contains(Sk(LabReportWriter.MatchColour(1 / 6.0)), colours);
            Assert.Contains(Sk(ScottPlot.Colors.SteelBlue), colours); // a fully matching float row's latency bar
        }
        finally
        {
            File.Delete(file);
        }
    }
}
