using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Light.Sync;
using Chain.Testing.LightChain;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Chain.Light.Tests;

/// <summary>The light client against real signed chains (LightChain) served over its HTTP code (LightChainServer).</summary>
public sealed class LightSyncTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 20261207;
    private static readonly ulong[] TransferHeights = [9_990, 4_321];

    // One 10,000-height chain for the suite: 7 validators, one replaced every 500 heights (20 rotations: the set turns over ~3 times).
    private static readonly Lazy<LightChain> Long = new(() => new LightChain(new LightChainSpec("light-test", 10_000, 7, 500, Seed, TransferHeights)));

    private readonly string _home = Path.Combine(Path.GetTempPath(), $"light-{Guid.NewGuid():N}");
    private readonly List<HttpLightSource> _sources = [];

    public void Dispose()
    {
        foreach (var s in _sources) s.Dispose();
        if (Directory.Exists(_home)) Directory.Delete(_home, recursive: true);
    }

    private HttpLightSource Source(LightChainServer server, string name)
    {
        var source = new HttpLightSource(server.Client(name), ownsHttp: true);
        _sources.Add(source);
        return source;
    }

    private static FakeTimeProvider ClockAfter(LightChain chain) =>
        new(DateTimeOffset.FromUnixTimeMilliseconds((long)chain.TimeMs(chain.Heights) + 5_000));

    private LightSync Client(LightChainServer primary, FakeTimeProvider clock, VerificationMode mode = VerificationMode.Skipping, int maxBlocks = LightStore.DefaultMaxBlocks,
        params LightChainServer[] witnesses) =>
        new(Source(primary, "primary"), witnesses.Select((w, i) => (ILightSource)Source(w, $"witness{i}")).ToArray(), new LightStore(_home, maxBlocks),
            TrustOptions.Default, clock, mode);

    private static GenesisTrust Genesis(LightChain chain) => GenesisTrust.Parse(chain.GenesisJson());

    [Fact]
    public async Task A_receipt_10000_heights_ahead_across_a_complete_turnover_verifies_in_at_most_20_header_fetches()
    {
        output.WriteLine($"seed {Seed}");
        var chain = Long.Value;
        var server = new LightChainServer(chain);
        var light = Client(server, ClockAfter(chain));
        await light.InitFromGenesisAsync(Genesis(chain));
        int initHeaders = light.Primary.Fetched.Headers;

        var (tx, receipt) = chain.TransferAt(9_990)!.Value;
        var verified = await light.ReceiptAsync(tx.Hash);

        Assert.Equal(tx.Hash, verified.Transaction.Transaction.Hash);
        Assert.Equal(receipt.Hash, verified.Transaction.Receipt.Hash);
        Assert.Equal(chain.Header(9_990).Hash, verified.Proof.Header.Hash);
        var first = chain.Validators(1).Validators.Select(v => v.Address).ToHashSet();
        Assert.DoesNotContain(chain.Validators(9_990).Validators, v => first.Contains(v.Address)); // a complete turnover
        int headers = light.Primary.Fetched.Headers - initHeaders;
        output.WriteLine($"1 -> 9990: {headers} header fetches ({light.Primary.Fetched}), trace {string.Join(",", verified.Proof.Sync!.Trace)}, " +
            $"{verified.Proof.Sync.ValidatorSetsCrossed} validator sets crossed, {chain.CommitsSigned} commits signed");
        Assert.InRange(headers, 1, 20);
        Assert.True(verified.Proof.Sync.ValidatorSetsCrossed >= 2);
        Assert.Equal(9_990ul, light.Store.Latest()!.Height);
    }

    /// <summary>A rerunner that must not be reached: re-running is refused before it for a transaction that is no inference.</summary>
    private sealed class UnreachableRerunner : IInferenceRerunner
    {
        public Hash32 OutputHash(ReadOnlyMemory<byte> modelCode, InferBody inference) => throw new InvalidOperationException("not an inference: never re-run");
    }

    [Fact]
    public async Task Re_running_a_transfer_is_refused_and_a_receipt_below_the_root_verifies_backwards()
    {
        var chain = Long.Value;
        var light = Client(new LightChainServer(chain), ClockAfter(chain));
        await light.InitFromHashAsync(5_000, chain.Header(5_000).Hash);
        var (tx, _) = chain.TransferAt(4_321)!.Value;
        var refused = await Assert.ThrowsAsync<LightClientException>(() => light.ReceiptAsync(tx.Hash, new UnreachableRerunner()));
        Assert.Contains("not an inference", refused.Message);
        var verified = await light.ReceiptAsync(tx.Hash);
        Assert.Equal((chain.Header(4_321).Hash, 679), (verified.Proof.Header.Hash, verified.Proof.BackwardSteps));
    }

    [Fact]
    public async Task Sequential_mode_verifies_every_height_across_each_set_change()
    {
        var chain = new LightChain(new LightChainSpec("light-seq", 40, 4, 3, Seed));
        var server = new LightChainServer(chain);
        var light = Client(server, ClockAfter(chain), VerificationMode.Sequential);
        await light.InitFromGenesisAsync(Genesis(chain));
        var result = await light.SyncAsync();
        Assert.Equal(Enumerable.Range(1, 40).Select(h => (ulong)h), result.Trace);
        Assert.Equal(13, result.ValidatorSetsCrossed); // a new set at 4, 7, ..., 40
        Assert.Equal(40, light.Primary.Fetched.Headers);
    }

    [Fact]
    public async Task A_primary_serving_a_forged_header_is_refused_and_nothing_is_stored()
    {
        var chain = Long.Value;
        var server = new LightChainServer(chain);
        var real = chain.Header(7_000);
        server.ForgedHeaders[7_000] = new BlockHeader(real.ChainId, real.Height, real.TimeMs, real.LastBlockHash, real.LastCommitHash, real.TransactionsRoot,
            real.ReceiptsRoot, Hash32.Zero, real.ValidatorsHash, real.NextValidatorsHash, real.EvidenceRoot, real.Proposer);
        var light = Client(server, ClockAfter(chain));
        await light.InitFromGenesisAsync(Genesis(chain));
        var refused = await Assert.ThrowsAsync<LightClientException>(() => light.SyncAsync(7_000));
        Assert.Equal(("blockHash", VerifyFailureKind.BadCommit), (refused.Failure!.Field, refused.Failure.Kind));
        Assert.Equal(1ul, light.Store.Latest()!.Height);
    }

    [Fact]
    public async Task A_withheld_commit_or_a_stale_validator_set_is_refused()
    {
        var chain = Long.Value;
        var server = new LightChainServer(chain);
        server.WithheldCommits.Add(3_000);
        var light = Client(server, ClockAfter(chain));
        await light.InitFromGenesisAsync(Genesis(chain));
        var withheld = await Assert.ThrowsAsync<LightClientException>(() => light.SyncAsync(3_000));
        Assert.Equal(404, withheld.Status);

        server.StaleSets[2_000] = 1_000; // serves an older set than header 2,000 names
        var stale = await Assert.ThrowsAsync<LightClientException>(() => light.SyncAsync(2_000));
        Assert.Equal(("validators", VerifyFailureKind.WrongValidators), (stale.Failure!.Field, stale.Failure.Kind));
        Assert.Equal(1ul, light.Store.Latest()!.Height);
    }

    [Fact]
    public async Task Another_chain_is_refused_at_init_and_by_the_pure_check()
    {
        var chain = new LightChain(new LightChainSpec("light-a", 10, 4, 100, Seed));
        var other = new LightChain(new LightChainSpec("light-b", 10, 4, 100, Seed)); // same keys, another chain id
        var light = Client(new LightChainServer(other), ClockAfter(chain));
        var refused = await Assert.ThrowsAsync<LightClientException>(() => light.InitFromGenesisAsync(Genesis(chain)));
        Assert.Equal("chainId", refused.Failure!.Field);
        Assert.Empty(light.Store.Heights());
        var failure = LightVerifier.Verify(chain.LightBlock(1), other.LightBlock(5), TrustOptions.Default, chain.TimeMs(10));
        Assert.Equal("chainId", failure!.Field);
    }

    [Fact]
    public async Task An_expired_trusted_header_and_a_header_from_the_future_are_refused()
    {
        var chain = new LightChain(new LightChainSpec("light-time", 100, 4, 10, Seed));
        var clock = ClockAfter(chain);
        var light = Client(new LightChainServer(chain), clock);
        await light.InitFromGenesisAsync(Genesis(chain));
        clock.Advance(TrustOptions.DefaultTrustingPeriod);
        var expired = await Assert.ThrowsAsync<LightClientException>(() => light.SyncAsync(50));
        Assert.Equal(("trusted.timeMs", VerifyFailureKind.BadTime), (expired.Failure!.Field, expired.Failure.Kind));

        // A clock that lags header 50 by more than the allowed drift.
        ulong lagging = chain.TimeMs(50) - (ulong)TrustOptions.DefaultMaxClockDrift.TotalMilliseconds;
        var future = LightVerifier.Verify(chain.LightBlock(1), chain.LightBlock(50), TrustOptions.Default, lagging);
        Assert.Equal(("timeMs", VerifyFailureKind.BadTime), (future!.Field, future.Kind));
        Assert.Null(LightVerifier.Verify(chain.LightBlock(1), chain.LightBlock(2), TrustOptions.Default, lagging + 1));
    }

    [Fact]
    public async Task A_conflicting_witness_yields_evidence_posted_to_both_sides_and_a_stop()
    {
        var chain = Long.Value;
        var fork = chain.Fork(6_000, "attack"); // the same validators sign another history from 6,000
        var primary = new LightChainServer(chain);
        var witness = new LightChainServer(fork);
        var light = Client(primary, ClockAfter(chain), witnesses: witness);
        await light.InitFromGenesisAsync(Genesis(chain));

        var attack = await Assert.ThrowsAsync<LightAttackException>(() => light.SyncAsync(10_000));
        output.WriteLine(attack.Message);
        Assert.Equal(2, attack.Submissions.Count);
        var againstPrimary = Assert.Single(witness.EvidenceReceived);
        var againstWitness = Assert.Single(primary.EvidenceReceived);
        Assert.Equal(againstPrimary.Height, againstWitness.Height);
        Assert.True(againstPrimary.Height.Value >= 6_000);
        Assert.Equal(chain.Header(againstPrimary.Height.Value).Hash, againstPrimary.Header.Hash);
        Assert.Equal(fork.Header(againstWitness.Height.Value).Hash, againstWitness.Header.Hash);
        foreach (var s in attack.Submissions) // the bytes posted are Core's evidence item, round-tripping
            Assert.Equal(s.Evidence.Encoded.ToArray(), Canonical.Decode<ConflictingHeader>(s.Evidence.Encoded).Encoded.ToArray());
        Assert.Equal(1ul, light.Store.Latest()!.Height); // nothing past the trusted root was stored
    }

    [Fact]
    public async Task An_unresponsive_witness_is_reported_and_skipped_and_a_faulty_one_is_not_an_attack()
    {
        var chain = Long.Value;
        var silent = new LightChainServer(chain) { Unresponsive = true };
        var liar = new LightChainServer(chain);
        var real = chain.Header(8_000);
        liar.ForgedHeaders[8_000] = new BlockHeader(real.ChainId, real.Height, real.TimeMs, real.LastBlockHash, real.LastCommitHash, real.TransactionsRoot,
            real.ReceiptsRoot, Hash32.Zero, real.ValidatorsHash, real.NextValidatorsHash, real.EvidenceRoot, real.Proposer);
        var agreeing = new LightChainServer(chain);
        var light = Client(new LightChainServer(chain), ClockAfter(chain), witnesses: [silent, liar, agreeing]);
        await light.InitFromGenesisAsync(Genesis(chain));
        var result = await light.SyncAsync(8_000);
        Assert.Equal([WitnessOutcome.Unresponsive, WitnessOutcome.Faulty, WitnessOutcome.Agreed], result.Witnesses.Select(w => w.Outcome));
        Assert.Empty(liar.EvidenceReceived);
        Assert.Equal(8_000ul, light.Store.Latest()!.Height);
    }

    [Fact]
    public async Task The_store_survives_a_restart_prunes_old_blocks_and_names_a_corrupt_file()
    {
        var chain = Long.Value;
        var server = new LightChainServer(chain);
        var clock = ClockAfter(chain);
        var first = Client(server, clock, maxBlocks: 4);
        await first.InitFromGenesisAsync(Genesis(chain));
        var toMiddle = await first.SyncAsync(5_000);
        Assert.Equal(5_000ul, toMiddle.Target.Height);

        var restarted = Client(server, clock, maxBlocks: 4); // a new process over the same directory
        Assert.Equal(chain.Header(5_000).Hash, restarted.Store.Latest()!.Header.Hash);
        var rest = await restarted.SyncAsync();
        Assert.Equal(5_000ul, rest.Trace[0]);
        Assert.Equal(10_000ul, rest.Target.Height);
        Assert.InRange(restarted.Store.Heights().Count, 1, 4);
        Assert.Equal(10_000ul, restarted.Store.Heights()[^1]);

        var newest = Path.Combine(_home, $"{10_000:D20}{LightStore.Extension}");
        File.WriteAllBytes(newest, [0x93, 0x01]);
        var corrupt = Assert.Throws<LightStoreException>(() => new LightStore(_home).Latest());
        Assert.Contains(newest, corrupt.Message);
    }

    [Fact]
    public async Task Headers_below_the_trusted_root_verify_backwards_by_hash_links()
    {
        var chain = new LightChain(new LightChainSpec("light-back", 120, 4, 10, Seed));
        var light = Client(new LightChainServer(chain), ClockAfter(chain));
        await light.InitFromHashAsync(100, chain.Header(100).Hash);
        var verified = await light.VerifyHeightAsync(95);
        Assert.Equal((chain.Header(95).Hash, 5), (verified.Header.Hash, verified.BackwardSteps));
        await Assert.ThrowsAsync<LightClientException>(() => new LightSync(light.Primary, [], new LightStore(Path.Combine(_home, "other")), TrustOptions.Default,
            ClockAfter(chain)).InitFromHashAsync(100, chain.Header(99).Hash));
    }

    [Fact]
    public void The_trust_level_needs_strictly_more_than_a_third_of_the_trusted_power_in_integers()
    {
        var chain = new ChainId("light-trust");
        var keys = Enumerable.Range(0, 3).Select(i => PrivateKey.FromSeed(System.Security.Cryptography.SHA256.HashData([(byte)i]))).ToArray();
        var trusted = new ValidatorSet(keys.Select(k => new Validator(k.PublicKey, 10)));
        var block = Hash32.Zero;
        Commit SignedBy(int count) => new(new Height(9), new Round(0), block, keys.Take(count).Select(k =>
            new CommitSignature(k.Address, 1, k.Sign(new Vote(VoteType.Precommit, new Height(9), new Round(0), block, 1, k.Address).SignBytes(chain)))));
        Assert.Equal(Commit.NotEnoughTrustedPowerField, SignedBy(1).VerifyTrusting(chain, trusted, 1, 3)!.Field); // 10·3 = 30, not > 30
        Assert.Null(SignedBy(2).VerifyTrusting(chain, trusted, 1, 3));
        Assert.NotNull(SignedBy(2).VerifyTrusting(chain, trusted, 2, 3)); // 20·3 = 60, not > 60
        Assert.NotNull(SignedBy(3).VerifyTrusting(new ChainId("other"), trusted, 1, 3)); // signatures for another chain
    }

    [Fact]
    public void Light_blocks_round_trip_and_refuse_parts_that_do_not_belong_together()
    {
        var chain = new LightChain(new LightChainSpec("light-codec", 10, 4, 3, Seed));
        var block = chain.LightBlock(5);
        Assert.Equal(block.Encoded.ToArray(), Canonical.Decode<LightBlock>(block.Encoded).Encoded.ToArray());
        var mixed = new LightBlock(chain.Header(5), chain.Commit(5), chain.Validators(1));
        Assert.False(Canonical.TryDecode<LightBlock>(mixed.Encoded, out _, out var error));
        Assert.Contains("validator set", error!.Message);
    }
}
