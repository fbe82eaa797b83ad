using System.Net;
using System.Text;
using System.Text.Json;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Rpc.Tests;

/// <summary>GET /validators/{height} and POST /evidence (what the light client calls).</summary>
public sealed class ValidatorsAndEvidenceTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Validators_by_height_for_committed_heights_and_the_next_two()
    {
        await using var host = await RpcTestHost.StartAsync(); // three committed blocks
        var set = RpcTestHost.Genesis.Validators;
        for (ulong h = 1; h <= 5; h++)
        {
            var served = await host.Client.ValidatorsAsync(h);
            Assert.Equal((h, set.Hash.ToString()), (served.Height, served.Hash));
            Assert.Equal(set.Encoded.ToArray(), Convert.FromBase64String(served.Raw));
        }
        Assert.Equal(4UL, (await host.Client.ValidatorsAsync()).Height); // the set deciding now
        Assert.Equal(3UL, JsonSerializer.Deserialize<ValidatorsResponse>((await host.GetAsync("validators/latest")).Body, RpcJson.Options)!.Height);
        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync("validators/6")).Status);
        foreach (var bad in new[] { "0", "-1", "01", "abc", "1.0", "99999999999999999999999" })
            Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync($"validators/{bad}")).Status);
    }

    private static Commit SignedBy(BlockHeader header, IEnumerable<int> validators) =>
        new(header.Height, new Round(0), header.Hash, validators.Select(i =>
        {
            var key = RpcTestHost.ValidatorKeys[i];
            var vote = new Vote(VoteType.Precommit, header.Height, new Round(0), header.Hash, header.TimeMs + 1, key.Address);
            return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(header.ChainId)));
        }));

    [Fact]
    public async Task Evidence_of_a_light_client_attack_is_verified_pooled_and_included()
    {
        await using var host = await RpcTestHost.StartAsync(evidence: new EvidenceVerifier(RpcTestHost.Genesis.ChainId));
        var real = host.Node.Blocks.LoadHeader(new Height(2))!;
        // A lunatic header: validators no honest validator would name, signed by half the power.
        var forged = new BlockHeader(real.ChainId, real.Height, real.TimeMs, real.LastBlockHash, real.LastCommitHash, real.TransactionsRoot,
            real.ReceiptsRoot, real.StateRoot, Hash32.Zero, real.NextValidatorsHash, real.EvidenceRoot, real.Proposer);
        var attack = new ConflictingHeader(forged, SignedBy(forged, [0, 1]));

        var answer = await host.Client.SubmitEvidenceAsync(attack.Encoded);
        Assert.Equal((Evidence.HashOf(attack.Encoded.Span).ToString(), "pending"), (answer.Hash, answer.Status));
        var block = host.Produce();
        Assert.Equal(attack.Encoded.ToArray(), Assert.Single(block.Evidence).ToArray());
        Assert.Equal("light-client-attack", host.Node.Executor.GetEvidence(Evidence.HashOf(attack.Encoded.Span))?.Kind);
        Assert.Equal("known", (await host.Client.SubmitEvidenceAsync(attack.Encoded)).Status);
    }

    [Fact]
    public async Task Evidence_that_proves_nothing_or_is_malformed_is_refused_and_changes_nothing()
    {
        await using var host = await RpcTestHost.StartAsync(evidence: new EvidenceVerifier(RpcTestHost.Genesis.ChainId));
        var before = host.Snapshot();
        var real = host.Node.Blocks.LoadHeader(new Height(2))!;
        var honest = new ConflictingHeader(real, SignedBy(real, [0, 1, 2]));
        var (status, body) = await host.PostAsync("evidence", Json($"{{\"evidence\":\"{Convert.ToBase64String(honest.Encoded.Span)}\"}}"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("no attack", body);
        Assert.Contains("evidence_rejected", body);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await host.PostAsync("evidence", Json("{\"evidence\":\"AAEC\"}"))).Status); // not evidence
        Assert.Equal(HttpStatusCode.BadRequest, (await host.PostAsync("evidence", Json("{\"evidence\":\"not base64!\"}"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.PostAsync("evidence", Json("{}"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.PostAsync("evidence", Json("{\"evidence\":"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.PostAsync("evidence", new StringContent("{\"evidence\":\"AAEC\"}"))).Status); // text/plain
        var huge = Convert.ToBase64String(new byte[new RpcOptions().MaxEvidenceBytes + 1]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await host.PostAsync("evidence", Json($"{{\"evidence\":\"{huge}\"}}"))).Status);
        Assert.Equal(before, host.Snapshot());
        Assert.Empty(host.Produce().Evidence);
    }
}
