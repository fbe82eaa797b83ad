using System.Text.Json;

namespace Chain.Cli.Tests;

public sealed class KeysCommandTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("chain-cli-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    [Fact]
    public void New_then_show_report_the_same_key()
    {
        var created = CliHarness.Run("keys", "new", "--name", "validator", "--json", "--home", _home);
        Assert.True(created.ExitCode == 0, created.Error);
        var made = JsonDocument.Parse(created.Output).RootElement;
        var path = Path.Combine(_home, "keys", "validator.json");
        Assert.Equal(path, made.GetProperty("file").GetString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        var shown = CliHarness.Run("keys", "show", "--name", "validator", "--json", "--home", _home);
        Assert.Equal(0, shown.ExitCode);
        var seen = JsonDocument.Parse(shown.Output).RootElement;
        Assert.Equal(made.GetProperty("address").GetString(), seen.GetProperty("address").GetString());
        Assert.Equal(made.GetProperty("public_key").GetString(), seen.GetProperty("public_key").GetString());
        Assert.DoesNotContain("seed", shown.Output);
    }

    [Fact]
    public void New_refuses_to_overwrite_and_changes_nothing()
    {
        Assert.Equal(0, CliHarness.Run("keys", "new", "--home", _home).ExitCode);
        var before = File.ReadAllBytes(Path.Combine(_home, "keys", "default.json"));
        var again = CliHarness.Run("keys", "new", "--home", _home);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Error);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(_home, "keys", "default.json")));
    }

    [Fact]
    public void Show_of_a_missing_or_unsafe_key_fails_clearly()
    {
        var missing = CliHarness.Run("keys", "show", "--name", "nobody", "--home", _home);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.Error);

        Assert.Equal(0, CliHarness.Run("keys", "new", "--name", "open", "--home", _home).ExitCode);
        var path = Path.Combine(_home, "keys", "open.json");
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.OtherRead);
        var unsafeKey = CliHarness.Run("keys", "show", "--name", "open", "--home", _home);
        Assert.Equal(1, unsafeKey.ExitCode);
        Assert.Contains("chmod 600", unsafeKey.Error);
    }

    [Fact]
    public void Invalid_names_are_refused()
    {
        var bad = CliHarness.Run("keys", "new", "--name", "../escape", "--home", _home);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("invalid key name", bad.Error);
        Assert.False(Directory.Exists(Path.Combine(_home, "keys")));
    }

    [Fact]
    public void List_shows_every_key()
    {
        CliHarness.Run("keys", "new", "--name", "a", "--home", _home);
        CliHarness.Run("keys", "new", "--name", "b", "--home", _home);
        var listed = CliHarness.Run("keys", "list", "--json", "--home", _home);
        Assert.Equal(0, listed.ExitCode);
        var names = JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(new[] { "a", "b" }, names);
    }

    [Fact]
    public void Version_prints_the_block_format()
    {
        var version = CliHarness.Run("version", "--json");
        Assert.Equal(0, version.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(version.Output).RootElement.GetProperty("block_version").GetInt32());
    }

    [Fact]
    public void Unknown_commands_fail()
    {
        Assert.NotEqual(0, CliHarness.Run("frobnicate").ExitCode);
    }
}
