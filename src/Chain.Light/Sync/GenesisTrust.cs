using System.Globalization;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Light.Sync;

/// <summary>
/// What a light client takes from a genesis file (docs/protocol.md, "Genesis file"): the chain id, the genesis time and
/// the validators of height 1. Read here with System.Text.Json (Chain.Light depends on Core only); the other fields are
/// the full node's, checked by its own loader, and ignored here.
/// </summary>
public sealed record GenesisTrust(ChainId ChainId, ulong GenesisTimeMs, ValidatorSet Validators)
{
    public static GenesisTrust Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LightClientException($"genesis file '{path}': {e.Message}", inner: e);
        }
        return Parse(text, path);
    }

    public static GenesisTrust Parse(string json, string source = "genesis")
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "the genesis is not a JSON object");
            var chainText = Property(root, "chain_id", source).GetString() ?? throw Bad(source, "chain_id is not a string");
            if (!ChainId.IsValid(chainText, out var why)) throw Bad(source, $"chain_id: {why}");
            var chainId = new ChainId(chainText);
            ulong time = Property(root, "genesis_time_ms", source).GetUInt64();
            var list = Property(root, "validators", source);
            if (list.ValueKind != JsonValueKind.Array) throw Bad(source, "validators is not an array");
            var validators = new List<Validator>();
            int i = 0;
            foreach (var v in list.EnumerateArray())
            {
                string at = $"validators[{i++}]";
                var keyText = Property(v, "public_key", source, at).GetString() ?? throw Bad(source, $"{at}.public_key is not a string");
                PublicKey key;
                try { key = PublicKey.Parse(keyText); }
                catch (FormatException e) { throw Bad(source, $"{at}.public_key: {e.Message}"); }
                validators.Add(new Validator(key, Property(v, "power", source, at).GetUInt64()));
            }
            try { return new GenesisTrust(chainId, time, new ValidatorSet(validators)); }
            catch (ArgumentException e) { throw Bad(source, $"validators: {e.Message}"); }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw Bad(source, e.Message);
        }
    }

    private static JsonElement Property(JsonElement obj, string name, string source, string? at = null) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) ? value
            : throw Bad(source, $"{(at is null ? "" : at + ".")}{name} is missing");

    private static LightClientException Bad(string source, string why) =>
        new(string.Create(CultureInfo.InvariantCulture, $"genesis file '{source}': {why}"));
}
