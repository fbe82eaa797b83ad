using System.Diagnostics;
using System.Text.RegularExpressions;
using Chain.Lab;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// `chain devnet --arm64 1` end to end: three validators of this machine's build and one of the linux-arm64 build
/// (under qemu on x86), finalizing a few heights with identical blocks and receipts everywhere, the arm64 node
/// proposing too. Needs `make chain-arm64` (and qemu on x86); CI has neither, so there it is skipped.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed partial class MixedArchitectureTests(ITestOutputHelper output)
{
    [Fact]
    public void Bad_arm64_arguments_are_refused_with_a_message_before_anything_starts()
    {
        var data = Path.Combine(Path.GetTempPath(), $"chain-mixed-{Guid.NewGuid():N}"[..32]);
        var all = CliHarness.Run(["devnet", "--data", data, "--validators", "4", "--arm64", "4"]);
        Assert.Equal(1, all.ExitCode);
        Assert.Contains("--arm64 must be 0..3", all.Error);
        var missing = CliHarness.Run(["devnet", "--data", data, "--arm64", "1", "--arm64-chain", Path.Combine(data, "no-such-chain")]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("--arm64: no arm64 build of chain", missing.Error);
        Assert.False(Directory.Exists(data), "nothing may be created for a refused devnet");
    }

    [Arm64DevnetFact]
    public async Task A_devnet_with_one_arm64_validator_finalizes_with_identical_receipts_and_the_arm64_node_proposes()
    {
        var data = Path.Combine(Path.GetTempPath(), $"chain-mixed-{Guid.NewGuid():N}"[..32]);
        var launcher = ProcessTestNetwork.Launcher();
        var start = new ProcessStartInfo(launcher.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Arm64DevnetFactAttribute.RepositoryRoot()!, // the genesis models and the arm64 build live there
        };
        foreach (var a in launcher.LeadingArguments.Concat(["devnet", "--data", data, "--blocks", "5", "--infers-per-block", "2", "--arm64", "1",
                     "--arm64-chain", Arm64DevnetFactAttribute.Arm64Chain()!]))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start chain");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(8));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new Xunit.Sdk.XunitException($"chain devnet --arm64 1 ran over 8 minutes:\n{await stdout}\n{await stderr}");
            }
            var text = await stdout;
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F0} s in all\n{text}");
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}\n{text}");
            Assert.Contains("(arm64 build, fast path off)", text);
            Assert.Contains("every node returned identical blocks and receipts (proofs verified) at every height", text);
            var agree = AgreeLine().Match(text);
            Assert.True(agree.Success && int.Parse(agree.Groups[1].Value) > 0, "the receipts' outputs were not all this client's canonical ones");
            var proposals = ProposedLine().Match(text);
            Assert.True(proposals.Success, "no arm64 proposal count in the output");
            Assert.True(int.Parse(proposals.Groups[1].Value) > 0, "the arm64 node proposed none of the blocks");
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }

    [GeneratedRegex(@"(\d+)/\1 outputs equal this client's own canonical run")]
    private static partial Regex AgreeLine();

    [GeneratedRegex(@"\(arm64\): proposed (\d+) of the")]
    private static partial Regex ProposedLine();
}

/// <summary>Runs only where the arm64 build (`make chain-arm64`, .data/arm64/chain) and, on x86, qemu-aarch64-static are present.</summary>
public sealed class Arm64DevnetFactAttribute : FactAttribute
{
    public Arm64DevnetFactAttribute()
    {
        if (Arm64Chain() is null)
            Skip = $"no arm64 build at {CrossIsa.DefaultArm64Chain} in the repository: run `make chain-arm64` (CI has none)";
        else if (LabIsa.Host != LabIsa.Arm64 && !OnPath(CrossIsa.DefaultEmulator))
            Skip = $"{CrossIsa.DefaultEmulator} is not installed: `make chain-arm64` installs it (CI has none)";
    }

    /// <summary>The folder that holds Chain.sln above the test binaries.</summary>
    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) return dir.FullName;
        return null;
    }

    public static string? Arm64Chain() =>
        RepositoryRoot() is { } root && Path.Combine(root, CrossIsa.DefaultArm64Chain) is var chain && File.Exists(chain) ? chain : null;

    private static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, name)));
}
