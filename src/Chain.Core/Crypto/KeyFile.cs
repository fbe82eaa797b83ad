using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chain.Core.Crypto;

/// <summary>
/// A private key on disk. Format (docs/protocol.md, "Key files"): UTF-8 JSON
/// <c>{"type":"chain-ed25519-private-key","version":1,"address":hex40,"public_key":hex64,"seed":hex64}</c>,
/// file mode 0600. Loading refuses files readable by group or others, unknown types or versions,
/// and files whose public key or address do not match the seed.
/// </summary>
public static class KeyFile
{
    public const string TypeName = "chain-ed25519-private-key";
    public const int CurrentVersion = 1;
    private const int MaxFileBytes = 4096;

    private sealed class Document
    {
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("version")] public int Version { get; set; }
        [JsonPropertyName("address")] public string? Address { get; set; }
        [JsonPropertyName("public_key")] public string? PublicKey { get; set; }
        [JsonPropertyName("seed")] public string? Seed { get; set; }
    }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    /// <summary>Writes <paramref name="key"/> to a new file with mode 0600. Refuses to overwrite an existing file.</summary>
    public static void Write(string path, PrivateKey key)
    {
        var seed = key.ExportSeed();
        try
        {
            var doc = new Document
            {
                Type = TypeName,
                Version = CurrentVersion,
                Address = key.Address.ToString(),
                PublicKey = key.PublicKey.ToString(),
                Seed = Convert.ToHexStringLower(seed),
            };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(doc, Options);
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            try
            {
                using var stream = new FileStream(path, options);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(path))
            {
                throw new KeyFileException($"key file {path} already exists; refusing to overwrite it");
            }
            Array.Clear(bytes);
        }
        finally
        {
            Array.Clear(seed);
        }
    }

    /// <summary>Loads and checks a key file.</summary>
    public static PrivateKey Read(string path)
    {
        if (!File.Exists(path)) throw new KeyFileException($"key file {path} does not exist");
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode groupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & groupOrOther) != 0)
                throw new KeyFileException($"key file {path} is accessible by group or others (mode {Convert.ToString((int)mode, 8)}); run: chmod 600 {path}");
        }
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes) throw new KeyFileException($"key file {path} is {info.Length} bytes; not a key file");
        var bytes = File.ReadAllBytes(path);
        Document? doc;
        try
        {
            doc = JsonSerializer.Deserialize<Document>(bytes);
        }
        catch (JsonException e)
        {
            throw new KeyFileException($"key file {path} is not valid JSON: {e.Message}");
        }
        finally
        {
            Array.Clear(bytes);
        }
        if (doc is null || doc.Type != TypeName)
            throw new KeyFileException($"key file {path} has type '{doc?.Type}', expected '{TypeName}'");
        if (doc.Version != CurrentVersion)
            throw new KeyFileException($"key file {path} has version {doc.Version}; this build reads version {CurrentVersion}");
        byte[] seed;
        try
        {
            seed = Convert.FromHexString(doc.Seed ?? "");
        }
        catch (FormatException)
        {
            throw new KeyFileException($"key file {path}: seed is not hex");
        }
        if (seed.Length != PrivateKey.SeedSize)
            throw new KeyFileException($"key file {path}: seed is {seed.Length} bytes, expected {PrivateKey.SeedSize}");
        var key = PrivateKey.FromSeed(seed);
        Array.Clear(seed);
        if (!string.Equals(doc.PublicKey, key.PublicKey.ToString(), StringComparison.Ordinal) ||
            !string.Equals(doc.Address, key.Address.ToString(), StringComparison.Ordinal))
        {
            key.Dispose();
            throw new KeyFileException($"key file {path}: public key or address does not match the seed (file damaged or edited)");
        }
        return key;
    }
}

public sealed class KeyFileException(string message) : Exception(message);
