using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Light;
using Chain.Light.Sync;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain light init|sync|receipt`: a light client with a trusted store under <c>{home}/light</c> (docs/light-client.md).
/// init trusts a genesis or a (height, hash) the user vouches for; sync verifies up to a height by bisection and
/// cross-checks witnesses; receipt proves a transaction and its receipt against a header reached the same way. Every
/// refusal exits non-zero; a light-client attack prints the evidence submitted and exits with 2.
/// </summary>
internal static class LightCommand
{
    public const int AttackExitCode = 2;

    /// <summary>Where the CLI gets an HttpClient for a node URL; tests route it to an in-process server.</summary>
    internal static Func<Uri, HttpClient> HttpFactory { get; set; } =
        uri => new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = LightClient.MaxResponseBytes };

    /// <summary>The clock trusting periods are measured against (tests pin it).</summary>
    internal static TimeProvider Clock { get; set; } = TimeProvider.System;

    public static Command Create()
    {
        var command = new Command("light", "Light client: verify headers and receipts across validator-set changes with a trusted store");
        command.Add(Init());
        command.Add(SyncCommand());
        command.Add(Receipt());
        return command;
    }

    private static Command Init()
    {
        var node = NodeOptions.Node();
        var genesis = new Option<string?>("--genesis") { Description = "Trust height 1 as this genesis file's validators sign it" };
        var trustHeight = new Option<ulong?>("--trust-height") { Description = "Trust the header at this height ..." };
        var trustHash = new Option<string?>("--trust-hash") { Description = "... whose hash is this (64 hex)" };
        var period = new Option<string>("--trusting-period") { Description = "How long a verified header stays trusted (e.g. 336h, 14d)", DefaultValueFactory = _ => "336h" };
        var level = new Option<string>("--trust-level") { Description = "Fraction of a trusted set that must sign to skip ahead, n/d in [1/3, 1]", DefaultValueFactory = _ => "1/3" };
        var witnesses = Witnesses();
        var command = new Command("init", "Create the light client's trusted store from a genesis or a trusted height and hash")
            { node, genesis, trustHeight, trustHash, period, level, witnesses };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var home = LightHome(result);
            if (File.Exists(ConfigPath(home))) throw new CliException($"'{ConfigPath(home)}' exists: this light home is initialised already");
            var (numerator, denominator) = ParseFraction(result.GetValue(level)!);
            var config = new LightConfig(NodeUri(result.GetValue(node)!).ToString(), (long)ParseDuration(result.GetValue(period)!, "--trusting-period").TotalSeconds,
                (long)TrustOptions.DefaultMaxClockDrift.TotalSeconds, numerator, denominator);
            var (file, height, hashText) = (result.GetValue(genesis), result.GetValue(trustHeight), result.GetValue(trustHash));
            if ((file is null) == (height is null || hashText is null) || (height is null) != (hashText is null))
                throw new CliException("give either --genesis FILE or both --trust-height H and --trust-hash X");
            Hash32 hash = default;
            if (hashText is not null && !Hash32.TryParse(hashText, out hash)) throw new CliException($"--trust-hash must be 64 hex characters, got '{hashText}'");
            var (light, sources) = Open(home, config, result.GetValue(witnesses) ?? []);
            using (sources)
            {
                var trusted = Call(() => file is not null ? light.InitFromGenesisAsync(GenesisTrust.Load(file)) : light.InitFromHashAsync(height!.Value, hash));
                Directory.CreateDirectory(Path.Combine(home, "light"));
                File.WriteAllText(ConfigPath(home), JsonSerializer.Serialize(config, ConfigJson));
                output.WriteLine($"trusted header {trusted.Height} {trusted.Header.Hash} of {trusted.Header.ChainId}, {trusted.Validators.Count} validators " +
                    $"(power {trusted.Validators.TotalPower}); trusting period {config.TrustingPeriodSeconds / 3600} h; fetched {light.Primary.Fetched}");
            }
            return 0;
        }));
        return command;
    }

    private static Command SyncCommand()
    {
        var height = new Option<ulong?>("--height") { Description = "Verify up to this height (default: the primary's latest)" };
        var witnesses = Witnesses();
        var sequential = new Option<bool>("--sequential") { Description = "Verify every height instead of skipping" };
        var command = new Command("sync", "Verify headers up to a height from the latest trusted one, cross-checking witnesses") { height, witnesses, sequential };
        command.SetAction(result => CliApp.Run(result, output => Attacked(result, () =>
        {
            var home = LightHome(result);
            var (light, sources) = Open(home, LoadConfig(home), result.GetValue(witnesses) ?? [],
                result.GetValue(sequential) ? VerificationMode.Sequential : VerificationMode.Skipping);
            using (sources)
            {
                var synced = Call(() => light.SyncAsync(result.GetValue(height)));
                output.WriteLine(synced.AlreadyTrusted
                    ? $"header {synced.Target.Height} {synced.Target.Header.Hash} was already trusted"
                    : $"verified header {synced.Target.Height} {synced.Target.Header.Hash} from trusted {synced.Trace[0]} via {string.Join(" -> ", synced.Trace)}; " +
                      $"{synced.ValidatorSetsCrossed} validator set change(s) crossed; fetched {light.Primary.Fetched} from {light.Primary.Name}");
                PrintWitnesses(output, synced.Witnesses);
            }
            return 0;
        })));
        return command;
    }

    private static Command Receipt()
    {
        var witnesses = Witnesses();
        var rerun = new Option<bool>("--rerun") { Description = "Re-run the inference locally (canonical executor) and compare the output hash" };
        var txHash = new Argument<string>("TXHASH");
        var command = new Command("receipt", "A transaction's receipt, proven against a header verified from the trusted store") { witnesses, rerun, txHash };
        command.SetAction(result => CliApp.Run(result, output => Attacked(result, () =>
        {
            var arg = result.GetValue(txHash)!;
            if (!Hash32.TryParse(arg, out var hash)) throw new CliException($"TXHASH must be 64 hex characters, got '{arg}'");
            var home = LightHome(result);
            var (light, sources) = Open(home, LoadConfig(home), result.GetValue(witnesses) ?? []);
            using (sources)
            {
                var v = Call(() => light.ReceiptAsync(hash, result.GetValue(rerun) ? new CanonicalRerunner() : null));
                var r = v.Transaction.Receipt;
                string how = v.Proof.Sync is { AlreadyTrusted: false } s
                    ? $"header verified from trusted {s.Trace[0]} via {string.Join(" -> ", s.Trace)} ({s.ValidatorSetsCrossed} set change(s))"
                    : v.Proof.BackwardSteps > 0 ? $"header verified backwards by {v.Proof.BackwardSteps} hash link(s)" : "header already trusted";
                output.WriteLine($"tx {hash} in block {v.Transaction.Header.Height} index {v.Transaction.Served.Index}: {r.Status}, gas used {r.GasUsed}" +
                    (r.Inference is { } i ? $", output {i.OutputHash}" : "") + $"; proofs verified, {how}; fetched {light.Primary.Fetched}");
                if (v.Proof.Sync is { } sync) PrintWitnesses(output, sync.Witnesses);
                if (v.RerunMatches is { } matches)
                    output.WriteLine(matches ? $"re-executed here: output hash {v.RerunOutputHash} matches"
                        : $"re-executed here: output hash {v.RerunOutputHash} DIFFERS from the receipt's {r.Inference!.OutputHash}");
                return v.RerunMatches == false ? 3 : 0;
            }
        })));
        return command;
    }

    private sealed record LightConfig(string Node, long TrustingPeriodSeconds, long MaxClockDriftSeconds, ulong TrustNumerator = 1, ulong TrustDenominator = 3);

    private static readonly JsonSerializerOptions ConfigJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Owns the HTTP sources of one command.</summary>
    private sealed class Sources(IReadOnlyList<HttpLightSource> all) : IDisposable
    {
        public void Dispose()
        {
            foreach (var s in all) s.Dispose();
        }
    }

    private static (LightSync Light, Sources Sources) Open(string home, LightConfig config, IReadOnlyList<string> witnessUrls, VerificationMode mode = VerificationMode.Skipping)
    {
        var primary = new HttpLightSource(HttpFactory(NodeUri(config.Node)), ownsHttp: true);
        var witnesses = witnessUrls.Select(w => new HttpLightSource(HttpFactory(NodeUri(w)), ownsHttp: true)).ToArray();
        var options = new TrustOptions(TimeSpan.FromSeconds(config.TrustingPeriodSeconds), TimeSpan.FromSeconds(config.MaxClockDriftSeconds),
            config.TrustNumerator, config.TrustDenominator);
        if (options.Problem() is { } problem) throw new CliException($"{ConfigPath(home)}: {problem}");
        return (new LightSync(primary, witnesses, new LightStore(Path.Combine(home, "light", "store")), options, Clock, mode), new Sources([primary, .. witnesses]));
    }

    private static Option<string[]> Witnesses() => new("--witness") { Description = "A witness node URL to cross-check against (repeatable)", AllowMultipleArgumentsPerToken = false };

    private static void PrintWitnesses(TextWriter output, IReadOnlyList<WitnessReport> reports)
    {
        foreach (var w in reports) output.WriteLine($"  witness {w.Witness}: {w.Outcome.ToString().ToLowerInvariant()} ({w.Detail})");
    }

    /// <summary>Runs <paramref name="body"/>; a light-client attack prints the evidence sent and exits with <see cref="AttackExitCode"/>.</summary>
    private static int Attacked(ParseResult result, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (LightAttackException e)
        {
            var error = result.InvocationConfiguration.Error;
            error.WriteLine($"error: {e.Message}");
            foreach (var s in e.Submissions)
                error.WriteLine($"  evidence: conflicting header {s.Evidence.Header.Hash} at {s.Evidence.Height} sent to {s.SentTo}: {s.Answer}");
            return AttackExitCode;
        }
    }

    private static T Call<T>(Func<Task<T>> call)
    {
        try
        {
            return call().GetAwaiter().GetResult();
        }
        catch (LightAttackException)
        {
            throw;
        }
        catch (Exception e) when (e is LightClientException or LightStoreException)
        {
            throw new CliException(e.Message);
        }
    }

    private static string LightHome(ParseResult result) => result.GetValue(CliApp.Home)!;

    private static string ConfigPath(string home) => Path.Combine(home, "light", "config.json");

    private static LightConfig LoadConfig(string home)
    {
        var path = ConfigPath(home);
        if (!File.Exists(path)) throw new CliException($"no light client at '{home}': run `chain light init` first");
        try
        {
            return JsonSerializer.Deserialize<LightConfig>(File.ReadAllText(path), ConfigJson) ?? throw new CliException($"'{path}' is empty");
        }
        catch (JsonException e)
        {
            throw new CliException($"'{path}' is not a light client config: {e.Message}");
        }
    }

    private static Uri NodeUri(string node) =>
        Uri.TryCreate(node.EndsWith('/') ? node : node + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri : throw new CliException($"node must be an http(s) URL, got '{node}'");

    private static (ulong Numerator, ulong Denominator) ParseFraction(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var d)
            && new TrustOptions(TrustOptions.DefaultTrustingPeriod, TrustOptions.DefaultMaxClockDrift, n, d).Problem() is null)
            return (n, d);
        throw new CliException($"--trust-level must be a fraction n/d in [1/3, 1], got '{text}'");
    }

    /// <summary>A duration as a number with a unit: s, m, h or d (e.g. 336h).</summary>
    internal static TimeSpan ParseDuration(string text, string option)
    {
        if (text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (text[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }
        throw new CliException($"{option} must be a positive number with a unit s, m, h or d (e.g. 336h), got '{text}'");
    }
}
