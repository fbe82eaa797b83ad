using System.CommandLine;
using System.Text.Json;
using Chain.Core.Crypto;

namespace Chain.Cli.Commands;

/// <summary>`chain keys new|show|list`: Ed25519 key files under &lt;home&gt;/keys.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var keys = new Command("keys", "Create and inspect Ed25519 key files");
        keys.Add(CreateNew());
        keys.Add(CreateShow());
        keys.Add(CreateList());
        return keys;
    }

    private static Option<string> NameOption() => new("--name")
    {
        Description = "Key name: the file is <home>/keys/<name>.json",
        DefaultValueFactory = _ => "default",
    };

    private static readonly Option<bool> Json = new("--json") { Description = "Print as JSON" };

    private static Command CreateNew()
    {
        var name = NameOption();
        var file = new Option<string?>("--file") { Description = "Write the key to this path instead of <home>/keys/<name>.json" };
        var command = new Command("new", "Generate a new key and write it to a key file (mode 0600)") { name, file, Json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var path = ResolvePath(result, result.GetValue(name)!, result.GetValue(file));
            using var key = PrivateKey.Generate();
            KeyFile.Write(path, key);
            Print(output, result.GetValue(Json), result.GetValue(name)!, path, key);
            return 0;
        }));
        return command;
    }

    private static Command CreateShow()
    {
        var name = NameOption();
        var file = new Option<string?>("--file") { Description = "Read this key file instead of <home>/keys/<name>.json" };
        var command = new Command("show", "Print a key's address and public key (never the secret)") { name, file, Json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var path = ResolvePath(result, result.GetValue(name)!, result.GetValue(file));
            using var key = KeyFile.Read(path);
            Print(output, result.GetValue(Json), result.GetValue(name)!, path, key);
            return 0;
        }));
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List the keys in <home>/keys") { Json };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var dir = Path.Combine(result.GetValue(CliApp.Home)!, "keys");
            var entries = new List<object>();
            if (Directory.Exists(dir))
            {
                foreach (var path in Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal))
                {
                    var keyName = Path.GetFileNameWithoutExtension(path);
                    try
                    {
                        using var key = KeyFile.Read(path);
                        entries.Add(new { name = keyName, address = key.Address.ToString(), public_key = key.PublicKey.ToString(), file = path });
                    }
                    catch (KeyFileException e)
                    {
                        entries.Add(new { name = keyName, error = e.Message, file = path });
                    }
                }
            }
            if (result.GetValue(Json))
            {
                output.WriteLine(JsonSerializer.Serialize(entries));
            }
            else
            {
                if (entries.Count == 0) output.WriteLine($"no keys in {dir}");
                foreach (var e in entries) output.WriteLine(JsonSerializer.Serialize(e));
            }
            return 0;
        }));
        return command;
    }

    private static string ResolvePath(System.CommandLine.ParseResult result, string name, string? file)
    {
        if (file is { Length: > 0 }) return file;
        if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new CliException($"invalid key name '{name}': use 1-64 characters of a-z, A-Z, 0-9, '-', '_'");
        return Path.Combine(result.GetValue(CliApp.Home)!, "keys", name + ".json");
    }

    private static void Print(TextWriter output, bool json, string name, string path, PrivateKey key)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                name,
                address = key.Address.ToString(),
                public_key = key.PublicKey.ToString(),
                file = Path.GetFullPath(path),
            }));
            return;
        }
        output.WriteLine($"name:       {name}");
        output.WriteLine($"address:    {key.Address}");
        output.WriteLine($"public key: {key.PublicKey}");
        output.WriteLine($"file:       {Path.GetFullPath(path)}");
    }
}
