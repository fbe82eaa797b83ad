using System.Text.Json;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// Reads genesis JSON (docs/protocol.md, "Genesis file"). Strict: unknown or duplicate fields, missing
/// fields, bad hex, wrong types, duplicate validators or accounts, zero power, a model file that is
/// missing or whose hash differs, a model admission refuses, and overflowing balances are all refused
/// with a message naming the field.
/// </summary>
public static class GenesisFile
{
    private static readonly JsonDocumentOptions Options = new() { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 };

    /// <summary>Loads a genesis file; model files are resolved relative to the file's directory.</summary>
    public static Genesis Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GenesisException($"cannot read genesis file '{path}': {e.Message}", e);
        }
        return Parse(text, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    /// <summary>
    /// Writes <paramref name="genesis"/> as a genesis file at <paramref name="path"/>, with each model's bytes in
    /// models/&lt;name&gt;.onnx beside it, so that <see cref="Load"/> gives back a genesis with the same hash.
    /// </summary>
    public static void Save(Genesis genesis, string path, IReadOnlyList<string>? validatorNames = null)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        Directory.CreateDirectory(Path.Combine(directory, "models"));
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("chain_id", genesis.ChainId.Value);
            w.WriteNumber("genesis_time_ms", genesis.GenesisTimeMs);
            w.WriteStartArray("validators");
            for (int i = 0; i < genesis.Validators.Count; i++)
            {
                var v = genesis.Validators.Validators[i];
                w.WriteStartObject();
                if (validatorNames is not null && i < validatorNames.Count) w.WriteString("name", validatorNames[i]);
                w.WriteString("public_key", v.PublicKey.ToString());
                w.WriteNumber("power", v.Power);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("accounts");
            foreach (var a in genesis.Accounts)
            {
                w.WriteStartObject();
                w.WriteString("address", a.Address.ToString());
                w.WriteNumber("balance", a.Balance);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("models");
            foreach (var m in genesis.Models)
            {
                var file = $"models/{m.Name}.onnx";
                File.WriteAllBytes(Path.Combine(directory, file), m.Bytes);
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteString("file", file);
                w.WriteString("hash", m.ModelId.ToString());
                w.WriteString("owner", m.Owner.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            var p = genesis.Parameters;
            w.WriteStartObject("params");
            w.WriteNumber("block_gas_limit", p.BlockGasLimit);
            w.WriteNumber("max_tx_bytes", p.MaxTxBytes);
            w.WriteNumber("gas_price", p.GasPrice);
            w.WriteNumber("transfer_gas", p.TransferGas);
            w.WriteNumber("register_model_gas", p.RegisterModelGas);
            w.WriteNumber("model_byte_gas", p.ModelByteGas);
            w.WriteNumber("infer_gas", p.InferGas);
            w.WriteNumber("input_byte_gas", p.InputByteGas);
            w.WriteEndObject();
            WriteStaking(w, p.Staking);
            w.WriteEndObject();
        }
        File.WriteAllBytes(path, [.. stream.ToArray(), (byte)'\n']);
    }

    /// <summary>Parses genesis JSON; <paramref name="baseDirectory"/> anchors relative model paths.</summary>
    public static Genesis Parse(string json, string baseDirectory)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, Options); }
        catch (JsonException e) { throw new GenesisException($"genesis is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = Object(doc.RootElement, "genesis", "chain_id", "genesis_time_ms", "validators", "accounts", "models", "params", "staking");
            var chainText = String(root, "chain_id", "chain_id");
            if (!ChainId.IsValid(chainText, out var why)) throw new GenesisException($"chain_id '{chainText}': {why}");
            var chainId = new ChainId(chainText);
            ulong time = UInt(root, "genesis_time_ms", "genesis_time_ms");

            var validators = new List<Validator>();
            var validatorAddresses = new HashSet<Address>();
            int i = 0;
            foreach (var v in Array(root, "validators", "validators"))
            {
                string at = $"validators[{i++}]";
                var o = Object(v, at, "name", "public_key", "power");
                var key = Hex(o, "public_key", at, PublicKey.Size, s => PublicKey.Parse(s));
                ulong power = UInt(o, "power", at);
                if (power == 0) throw new GenesisException($"{at}.power: a validator needs power of at least 1");
                if (!validatorAddresses.Add(key.Address)) throw new GenesisException($"{at}: validator {key.Address} appears twice");
                if (o.TryGetProperty("name", out _)) String(o, "name", at);
                validators.Add(new Validator(key, power));
            }
            ValidatorSet set;
            try { set = new ValidatorSet(validators); }
            catch (ArgumentException e) { throw new GenesisException($"validators: {e.Message}", e); }

            var accounts = new List<GenesisAccount>();
            i = 0;
            foreach (var a in Array(root, "accounts", "accounts"))
            {
                string at = $"accounts[{i++}]";
                var o = Object(a, at, "address", "balance");
                accounts.Add(new GenesisAccount(Hex(o, "address", at, Address.Size, Address.Parse), UInt(o, "balance", at)));
            }

            var models = new List<GenesisModel>();
            i = 0;
            foreach (var m in Array(root, "models", "models"))
            {
                string at = $"models[{i++}]";
                var o = Object(m, at, "name", "file", "hash", "owner");
                var name = String(o, "name", at);
                if (System.Text.Encoding.UTF8.GetByteCount(name) is 0 or > ProtocolLimits.MaxModelNameBytes)
                    throw new GenesisException($"{at}.name: 1 to {ProtocolLimits.MaxModelNameBytes} bytes");
                var file = String(o, "file", at);
                var hash = Hex(o, "hash", at, Hash32.Size, Hash32.Parse);
                var owner = Hex(o, "owner", at, Address.Size, Address.Parse);
                var full = Path.IsPathRooted(file) ? file : Path.Combine(baseDirectory, file);
                if (!File.Exists(full)) throw new GenesisException($"{at}: model file '{file}' not found (looked at '{full}')");
                var bytes = File.ReadAllBytes(full);
                if (bytes.Length > ProtocolLimits.MaxRegisterModelBytes)
                    throw new GenesisException($"{at}: model file '{file}' is {bytes.Length} bytes, over the {ProtocolLimits.MaxRegisterModelBytes}-byte limit");
                var model = new GenesisModel(name, owner, bytes);
                if (model.ModelId != hash)
                    throw new GenesisException($"{at}: hash mismatch for '{file}': genesis says {hash}, the file's model id is {model.ModelId}");
                models.Add(model);
            }

            var p = Object(Property(root, "params", "genesis"), "params",
                "block_gas_limit", "max_tx_bytes", "gas_price", "transfer_gas", "register_model_gas", "model_byte_gas", "infer_gas", "input_byte_gas");
            ulong maxTx = UInt(p, "max_tx_bytes", "params");
            if (maxTx > int.MaxValue) throw new GenesisException("params.max_tx_bytes is too large");
            var parameters = new ExecutionParameters
            {
                BlockGasLimit = UInt(p, "block_gas_limit", "params"),
                MaxTxBytes = (int)maxTx,
                GasPrice = UInt(p, "gas_price", "params"),
                TransferGas = UInt(p, "transfer_gas", "params"),
                RegisterModelGas = UInt(p, "register_model_gas", "params"),
                ModelByteGas = UInt(p, "model_byte_gas", "params"),
                InferGas = UInt(p, "infer_gas", "params"),
                InputByteGas = UInt(p, "input_byte_gas", "params"),
                Staking = root.TryGetProperty("staking", out var staking) ? ReadStaking(staking) : StakingParameters.Default,
            };
            return new Genesis(chainId, time, set, accounts, models, parameters);
        }
    }

    // The "staking" object: every field required when the object is present (docs/staking.md, "Parameters").
    private static StakingParameters ReadStaking(JsonElement e)
    {
        var o = Object(e, "staking", StakingFields);
        ulong maxValidators = UInt(o, "max_validators", "staking");
        if (maxValidators > int.MaxValue) throw new GenesisException("staking.max_validators is too large");
        return new StakingParameters
        {
            PowerReduction = UInt(o, "power_reduction", "staking"),
            MaxValidators = (int)maxValidators,
            UnbondingPeriod = UInt(o, "unbonding_period", "staking"),
            SlashDuplicateVotePpm = UInt(o, "slash_duplicate_vote_ppm", "staking"),
            SlashInvalidProposalPpm = UInt(o, "slash_invalid_proposal_ppm", "staking"),
            SlashLightClientAttackPpm = UInt(o, "slash_light_client_attack_ppm", "staking"),
            DowntimeWindow = UInt(o, "downtime_window", "staking"),
            MaxMissed = UInt(o, "max_missed", "staking"),
            DowntimeJailHeights = UInt(o, "downtime_jail_heights", "staking"),
            EvidenceJailHeights = UInt(o, "evidence_jail_heights", "staking"),
            EvidenceMaxAge = UInt(o, "evidence_max_age", "staking"),
        };
    }

    private static readonly string[] StakingFields =
    [
        "power_reduction", "max_validators", "unbonding_period", "slash_duplicate_vote_ppm", "slash_invalid_proposal_ppm",
        "slash_light_client_attack_ppm", "downtime_window", "max_missed", "downtime_jail_heights", "evidence_jail_heights", "evidence_max_age",
    ];

    private static void WriteStaking(Utf8JsonWriter w, StakingParameters s)
    {
        w.WriteStartObject("staking");
        ulong[] values = [s.PowerReduction, (ulong)s.MaxValidators, s.UnbondingPeriod, s.SlashDuplicateVotePpm, s.SlashInvalidProposalPpm,
            s.SlashLightClientAttackPpm, s.DowntimeWindow, s.MaxMissed, s.DowntimeJailHeights, s.EvidenceJailHeights, s.EvidenceMaxAge];
        for (int i = 0; i < values.Length; i++) w.WriteNumber(StakingFields[i], values[i]);
        w.WriteEndObject();
    }

    // An object with only the allowed keys, each at most once; all required except a validator's "name" and the genesis "staking".
    private static JsonElement Object(JsonElement e, string at, params string[] allowed)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new GenesisException($"{at}: expected an object, found {e.ValueKind}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            if (System.Array.IndexOf(allowed, p.Name) < 0) throw new GenesisException($"{at}: unknown field '{p.Name}'");
            if (!seen.Add(p.Name)) throw new GenesisException($"{at}: field '{p.Name}' appears twice");
        }
        foreach (var name in allowed)
        {
            bool optional = (name == "name" && at.StartsWith("validators", StringComparison.Ordinal)) || (name == "staking" && at == "genesis");
            if (!optional && !seen.Contains(name)) throw new GenesisException($"{at}: missing field '{name}'");
        }
        return e;
    }

    private static JsonElement Property(JsonElement o, string name, string at) =>
        o.TryGetProperty(name, out var v) ? v : throw new GenesisException($"{at}: missing field '{name}'");

    private static JsonElement.ArrayEnumerator Array(JsonElement o, string name, string at)
    {
        var v = Property(o, name, at);
        return v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : throw new GenesisException($"{at}: expected an array");
    }

    private static string String(JsonElement o, string name, string at)
    {
        var v = Property(o, name, at);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new GenesisException($"{at}.{name}: expected a string");
    }

    private static ulong UInt(JsonElement o, string name, string at)
    {
        var v = Property(o, name, at);
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetUInt64(out var value))
            throw new GenesisException($"{at}.{name}: expected an unsigned 64-bit integer, found {v.GetRawText()}");
        return value;
    }

    private static T Hex<T>(JsonElement o, string name, string at, int bytes, Func<string, T> parse)
    {
        var s = String(o, name, at);
        if (s.Length != bytes * 2 || !s.All(char.IsAsciiHexDigitLower))
            throw new GenesisException($"{at}.{name}: expected {bytes * 2} lower-case hex characters, found '{s}'");
        try { return parse(s); }
        catch (FormatException e) { throw new GenesisException($"{at}.{name}: {e.Message}", e); }
    }
}
