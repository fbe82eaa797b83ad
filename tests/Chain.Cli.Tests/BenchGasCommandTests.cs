using System.Text.Json;
using Chain.Inference.Admission;

namespace Chain.Cli.Tests;

/// <summary>`chain bench gas` in its quick mode: every gas kind measured, a spread printed. No timing is asserted.</summary>
public sealed class BenchGasCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-bench-gas-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Quick_run_lists_every_gas_kind_and_the_spread_and_writes_json()
    {
        var json = Path.Combine(_dir, "gas.json");
        var run = CliHarness.Run("bench", "gas", "--repeat", "1", "--json", json);
        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        var lines = run.Output.Split('\n');
        foreach (var kind in Enum.GetNames<GasKind>())
        {
            // A model row and a summary row per kind: each starts with the kind's name as its own column.
            Assert.True(lines.Count(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() == kind) >= 2,
                $"{kind} missing from:\n{run.Output}");
        }
        Assert.Contains(lines, l => l.StartsWith("spread: ", StringComparison.Ordinal) && l.Contains('×'));
        Assert.Contains(lines, l => l.StartsWith("block gas limit 100,000,000 gas ≈ ", StringComparison.Ordinal));

        var doc = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        var kinds = doc.GetProperty("kinds").EnumerateArray().Select(k => k.GetProperty("kind").GetString()!).ToHashSet();
        Assert.Equal(Enum.GetNames<GasKind>().ToHashSet(), kinds);
        Assert.True(doc.GetProperty("spread").GetDouble() >= 1);
        foreach (var figure in doc.GetProperty("figures").EnumerateArray())
            Assert.True(figure.GetProperty("op_gas").GetDouble() > 0, figure.ToString());
    }

    [Fact]
    public void Bad_repeat_and_unknown_filter_are_refused()
    {
        var zero = CliHarness.Run("bench", "gas", "--repeat", "0");
        Assert.Equal(1, zero.ExitCode);
        Assert.Contains("--repeat", zero.Error);

        var none = CliHarness.Run("bench", "gas", "--repeat", "1", "--only", "no-such-model");
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("no benchmark model matches", none.Error);
    }
}
