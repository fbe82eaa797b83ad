using Chain.Cli.Commands;
using Chain.Testing.LightChain;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Chain.Cli.Tests;

/// <summary>`chain light init|sync|receipt` against real signed chains served in-process (LightChainServer).</summary>
public sealed class LightCommandTests : IDisposable
{
    private const int Seed = 7;
    private readonly string _home = Path.Combine(Path.GetTempPath(), $"light-cli-{Guid.NewGuid():N}");
    private readonly LightChain _chain = new(new LightChainSpec("light-cli", 3_000, 5, 200, Seed, [2_900]));
    private readonly Dictionary<string, LightChainServer> _nodes = [];

    private readonly ITestOutputHelper _log;
    private readonly Func<Uri, HttpClient> _realFactory = LightCommand.HttpFactory;

    public LightCommandTests(ITestOutputHelper log)
    {
        _log = log;
        Directory.CreateDirectory(_home);
        _nodes["primary.test"] = new LightChainServer(_chain);
        _nodes["witness.test"] = new LightChainServer(_chain);
        _nodes["fork.test"] = new LightChainServer(_chain.Fork(2_000, "attack"));
        _nodes["down.test"] = new LightChainServer(_chain) { Unresponsive = true };
        LightCommand.HttpFactory = uri => _nodes[uri.Host].Client(uri.Host.Split('.')[0]);
        LightCommand.Clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds((long)_chain.TimeMs(_chain.Heights) + 1_000));
    }

    public void Dispose()
    {
        LightCommand.HttpFactory = _realFactory;
        LightCommand.Clock = TimeProvider.System;
        Directory.Delete(_home, recursive: true);
    }

    private CliHarness.Outcome Light(params string[] args)
    {
        var outcome = CliHarness.Run(["light", .. args, "--home", _home]);
        _log.WriteLine($"$ chain light {string.Join(' ', args)}  -> exit {outcome.ExitCode}\n{outcome.Output}{outcome.Error}");
        return outcome;
    }

    private string Genesis()
    {
        var path = Path.Combine(_home, "genesis.json");
        File.WriteAllText(path, _chain.GenesisJson());
        return path;
    }

    [Fact]
    public void Init_sync_and_receipt_verify_and_print_what_they_checked()
    {
        var init = Light("init", "--node", "http://primary.test", "--genesis", Genesis(), "--witness", "http://witness.test", "--trust-level", "1/2");
        Assert.True(init.ExitCode == 0, init.Error);
        Assert.Contains("trusted header 1 ", init.Output);

        var sync = Light("sync", "--height", "1500", "--witness", "http://witness.test", "--witness", "http://down.test");
        Assert.True(sync.ExitCode == 0, sync.Error);
        Assert.Contains("verified header 1500", sync.Output);
        Assert.Contains("witness http://witness.test/: agreed", sync.Output);
        Assert.Contains("witness http://down.test/: unresponsive", sync.Output);

        var (tx, _) = _chain.TransferAt(2_900)!.Value;
        var receipt = Light("receipt", tx.Hash.ToString());
        Assert.True(receipt.ExitCode == 0, receipt.Error);
        Assert.Contains("in block 2900 index 0: Success", receipt.Output);
        Assert.Contains("header verified from trusted 1500", receipt.Output);

        var again = Light("init", "--node", "http://primary.test", "--genesis", Genesis());
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("initialised already", again.Error);
    }

    [Fact]
    public void A_conflicting_witness_stops_sync_with_evidence_and_exit_code_2()
    {
        Assert.Equal(0, Light("init", "--node", "http://primary.test", "--trust-height", "10", "--trust-hash", _chain.Header(10).Hash.ToString()).ExitCode);
        var sync = Light("sync", "--witness", "http://fork.test");
        Assert.Equal(LightCommand.AttackExitCode, sync.ExitCode);
        Assert.Contains("light-client attack", sync.Error);
        Assert.Contains("evidence: conflicting header", sync.Error);
        Assert.Single(_nodes["fork.test"].EvidenceReceived);
        Assert.Single(_nodes["primary.test"].EvidenceReceived);
    }

    [Fact]
    public void Bad_input_and_a_lying_primary_exit_non_zero_with_one_line()
    {
        var forkRoot = Light("init", "--node", "http://primary.test", "--trust-height", "2000", "--trust-hash", _chain.Header(2_000).Hash.ToString(), "--witness", "http://fork.test");
        Assert.Equal(1, forkRoot.ExitCode);
        Assert.Contains("refusing to trust either", forkRoot.Error);
        var neither = Light("init", "--node", "http://primary.test");
        Assert.Equal(1, neither.ExitCode);
        Assert.Contains("either --genesis", neither.Error);
        var wrongHash = Light("init", "--node", "http://primary.test", "--trust-height", "10", "--trust-hash", _chain.Header(11).Hash.ToString());
        Assert.Equal(1, wrongHash.ExitCode);
        Assert.Contains("not the trusted", wrongHash.Error);
        Assert.Equal(1, Light("sync").ExitCode); // not initialised
        var badPeriod = Light("init", "--node", "http://primary.test", "--genesis", Genesis(), "--trusting-period", "soon");
        Assert.Equal(1, badPeriod.ExitCode);
        Assert.Contains("--trusting-period must be", badPeriod.Error);
        var badLevel = Light("init", "--node", "http://primary.test", "--genesis", Genesis(), "--trust-level", "1/4");
        Assert.Equal(1, badLevel.ExitCode);
        Assert.Contains("--trust-level must be", badLevel.Error);

        Assert.Equal(0, Light("init", "--node", "http://primary.test", "--genesis", Genesis()).ExitCode);
        _nodes["primary.test"].WithheldCommits.Add(2_500);
        var withheld = Light("sync", "--height", "2500");
        Assert.Equal(1, withheld.ExitCode);
        Assert.Single(withheld.Error.TrimEnd().Split('\n'));
    }
}
