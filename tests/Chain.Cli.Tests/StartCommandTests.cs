using Chain.Node;
using Chain.Storage;

namespace Chain.Cli.Tests;

/// <summary>`chain start` refusing to start: one "error: cannot start: ..." line and exit 1, never a stack trace.</summary>
public sealed class StartCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-start-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string NewHome(string name)
    {
        var home = Path.Combine(_dir, name);
        var made = CliHarness.Run("init", "--home", home, "--chain-id", "chain-start");
        Assert.Equal(0, made.ExitCode);
        // Ephemeral ports, so a start that got past the refusals could not collide with other tests.
        File.WriteAllText(Path.Combine(home, "config.toml"), File.ReadAllText(Path.Combine(home, "config.toml"))
            .Replace("127.0.0.1:26656", "127.0.0.1:0").Replace("127.0.0.1:26657", "127.0.0.1:0"));
        return home;
    }

    private static void AssertOneLineRefusal(CliHarness.Outcome outcome, string expected)
    {
        Assert.Equal(1, outcome.ExitCode);
        var lines = outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{outcome.Error}");
        Assert.StartsWith("error: cannot start: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", outcome.Error);
    }

    [Fact]
    public void A_locked_store_is_one_line()
    {
        var home = NewHome("locked");
        using (RocksDbStore.Open(new NodeHome(home).DataDirectory + "/db"))
            AssertOneLineRefusal(CliHarness.Run("start", "--home", home), "is in use");
    }

    [Fact]
    public void A_corrupt_genesis_a_damaged_key_and_a_damaged_signer_state_are_one_line_each()
    {
        var genesis = NewHome("genesis");
        File.WriteAllText(Path.Combine(genesis, "genesis.json"), "{ not json");
        var outcome = CliHarness.Run("start", "--home", genesis);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Single(outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", outcome.Error);

        var key = NewHome("key");
        File.WriteAllText(Path.Combine(key, "keys", "validator.json"), "{}");
        outcome = CliHarness.Run("start", "--home", key);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Single(outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", outcome.Error);

        var guard = NewHome("guard");
        var consensus = Path.Combine(new NodeHome(guard).DataDirectory, "consensus");
        Directory.CreateDirectory(consensus);
        File.WriteAllText(Path.Combine(consensus, "signer.state"), "garbage that is not a signer state");
        AssertOneLineRefusal(CliHarness.Run("start", "--home", guard), "signer state");
    }
}
