using System.Text.Json.Nodes;
using Chain.Core.Crypto;

namespace Chain.Core.Tests.Crypto;

public sealed class KeyFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-keyfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Written_key_reads_back_with_mode_0600()
    {
        var path = Path.Combine(_dir, "k", "validator.json");
        using var key = PrivateKey.Generate();
        KeyFile.Write(path, key);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using var loaded = KeyFile.Read(path);
        Assert.Equal(key.PublicKey, loaded.PublicKey);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(KeyFile.TypeName, (string?)json["type"]);
        Assert.Equal(key.Address.ToString(), (string?)json["address"]);
    }

    [Fact]
    public void Existing_file_is_never_overwritten()
    {
        var path = Path.Combine(_dir, "a.json");
        using var key = PrivateKey.Generate();
        KeyFile.Write(path, key);
        using var other = PrivateKey.Generate();
        var e = Assert.Throws<KeyFileException>(() => KeyFile.Write(path, other));
        Assert.Contains("already exists", e.Message);
        using var loaded = KeyFile.Read(path);
        Assert.Equal(key.PublicKey, loaded.PublicKey);
    }

    [Fact]
    public void World_readable_file_is_refused()
    {
        var path = Path.Combine(_dir, "a.json");
        using var key = PrivateKey.Generate();
        KeyFile.Write(path, key);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var e = Assert.Throws<KeyFileException>(() => KeyFile.Read(path));
        Assert.Contains("chmod 600", e.Message);
    }

    [Theory]
    [InlineData("type", "something-else", "has type")]
    [InlineData("version", "2", "version 2")]
    [InlineData("seed", "zz", "not hex")]
    [InlineData("seed", "00", "seed is 1 bytes")]
    [InlineData("public_key", "00", "does not match")]
    public void Damaged_files_are_refused_with_the_reason(string field, string value, string expected)
    {
        var path = Path.Combine(_dir, "a.json");
        using var key = PrivateKey.Generate();
        KeyFile.Write(path, key);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json[field] = field == "version" ? JsonValue.Create(int.Parse(value)) : JsonValue.Create(value);
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<KeyFileException>(() => KeyFile.Read(path));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Garbage_and_missing_files_are_refused()
    {
        var path = Path.Combine(_dir, "g.json");
        File.WriteAllBytes(path, [0xff, 0x00, 0x13]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Contains("not valid JSON", Assert.Throws<KeyFileException>(() => KeyFile.Read(path)).Message);
        Assert.Contains("does not exist", Assert.Throws<KeyFileException>(() => KeyFile.Read(path + ".none")).Message);
    }
}
