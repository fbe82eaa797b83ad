namespace Chain.Cli.Tests;

public sealed class HomeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-home-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "genesis", "devnet.json"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public void Init_creates_a_home_with_a_single_validator_genesis_and_refuses_to_run_twice()
    {
        var home = Path.Combine(_dir, "node");
        var made = CliHarness.Run("init", "--home", home, "--moniker", "alice", "--chain-id", "chain-alice");
        Assert.True(made.ExitCode == 0, made.Error);
        Assert.Contains("chain-alice", made.Output);
        foreach (var file in new[] { "config.toml", "genesis.json", "keys/validator.json", "keys/node.json" })
            Assert.True(File.Exists(Path.Combine(home, file)), file);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(home, "keys", "validator.json")));
        Assert.Contains("moniker = \"alice\"", File.ReadAllText(Path.Combine(home, "config.toml")));

        var key = File.ReadAllBytes(Path.Combine(home, "keys", "validator.json"));
        var again = CliHarness.Run("init", "--home", home);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already", again.Error);
        Assert.Equal(key, File.ReadAllBytes(Path.Combine(home, "keys", "validator.json")));

        var badChain = CliHarness.Run("init", "--home", Path.Combine(_dir, "other"), "--chain-id", "Not Valid!");
        Assert.Equal(1, badChain.ExitCode);
        Assert.Contains("--chain-id", badChain.Error);
    }

    [Fact]
    public void Init_with_a_genesis_joins_that_chain()
    {
        var home = Path.Combine(_dir, "joiner");
        var joined = CliHarness.Run("init", "--home", home, "--genesis", Path.Combine(RepositoryRoot(), "genesis", "devnet.json"));
        Assert.True(joined.ExitCode == 0, joined.Error);
        Assert.Contains("chain-devnet", joined.Output);
        Assert.Contains("without voting", joined.Output);
        var missing = CliHarness.Run("init", "--home", Path.Combine(_dir, "x"), "--genesis", Path.Combine(_dir, "nope.json"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nope.json", missing.Error);
    }

    [Fact]
    public void Testnet_writes_one_home_per_validator_and_refuses_a_non_empty_directory()
    {
        var outDir = Path.Combine(_dir, "net");
        var made = CliHarness.Run("testnet", "--validators", "4", "--out", outDir, "--base-port", "31000");
        Assert.True(made.ExitCode == 0, made.Error);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(File.Exists(Path.Combine(outDir, $"node-{i}", "config.toml")));
            Assert.Contains($"127.0.0.1:{31000 + 2 * i}", made.Output);
        }
        var genesis0 = File.ReadAllText(Path.Combine(outDir, "node-0", "genesis.json"));
        Assert.Equal(genesis0, File.ReadAllText(Path.Combine(outDir, "node-3", "genesis.json")));

        var again = CliHarness.Run("testnet", "--out", outDir);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("not empty", again.Error);
        Assert.Equal(1, CliHarness.Run("testnet", "--validators", "0", "--out", Path.Combine(_dir, "n2")).ExitCode);
    }
}
