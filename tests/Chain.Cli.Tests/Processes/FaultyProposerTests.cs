using System.Net.Http.Json;
using Chain.Execution;
using Chain.Rpc;
using Chain.Consensus;
using Chain.Core;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>A validator that proposes wrong inference outputs is caught by re-execution; the chain goes on with the right answers.</summary>
[Collection(ProcessCollection.Name)]
public sealed class FaultyProposerTests(ITestOutputHelper output)
{
    private const int Faulty = 3;

    [Fact]
    public Task Proposals_with_tampered_inference_are_rejected_recorded_as_evidence_and_every_receipt_is_the_known_answer() =>
        ProcessTestNetwork.RunAsync(output, "tamper", async net =>
        {
            var signers = new[] { "account-0", "account-1", "account-2" }.Select(k => new ProcessTestNetwork.Signer(net, k)).ToArray();
            var submitted = new List<Hash32>();
            var honest = new[] { 0, 1, 2 };
            bool EvidenceLogged() => honest.Any(i => net.ReadLog(i).Contains("evidence recorded: invalid-proposal", StringComparison.Ordinal));

            // Keep Infer txs pending so that the faulty node has inference to tamper with whenever it proposes.
            await net.WaitForAsync("an honest node to record InvalidProposalEvidence", async () =>
            {
                for (int node = 0; node < signers.Length; node++)
                {
                    submitted.Add(await net.SubmitAsync(node, signers[node].Infer()));
                    signers[node].Accepted();
                }
                return EvidenceLogged();
            });
            net.Log($"evidence logged after {submitted.Count} Infer txs");

            // The evidence is committed in a block: wait for it (later proposers include pending evidence).
            IReadOnlyList<Evidence> included = [];
            await net.WaitForAsync("a block carrying the InvalidProposalEvidence", async () =>
            {
                ulong head = await net.MinHeightAsync(honest);
                for (ulong h = 1; h <= head; h++)
                {
                    var (_, block) = await net.Net.Clients[0].BlockAsync(h);
                    included = [.. included, .. ProcessTestNetwork.EvidenceOf(block)];
                }
                return included.OfType<InvalidProposalEvidence>().Any(e => e.Offender == net.Net.Nodes[Faulty].ValidatorKey.Address);
            });

            await net.AssertCommittedEverywhereAsync(submitted);
            ulong upTo = await net.MinHeightAsync();
            var blocks = await net.AssertIdenticalChainsAsync(upTo);
            int receipts = 0, laterRounds = 0;
            for (ulong h = 1; h <= upTo; h++)
            {
                var (commit, _) = await net.Net.Clients[0].CommitAsync(h);
                if (commit.Round > 0) laterRounds++;
                foreach (var tx in blocks[(int)h - 1].Transactions)
                {
                    var found = await net.Net.Clients[1].TransactionAsync(tx.Hash);
                    net.AssertKnownAnswer(found.Transaction, found.Receipt);
                    receipts++;
                }
            }
            net.Log($"{upTo} heights, {laterRounds} decided in a round > 0, {receipts} receipts all known answers");
            Assert.True(laterRounds > 0, "every height was decided in round 0: the tampered proposals were never rejected");
            Assert.Equal(submitted.Count, receipts);
            Assert.Contains("fault injection", net.ReadLog(Faulty));

            // The live byzantine validator is slashed (invalid-proposal fraction of its tokens, burned), jailed, and out of
            // the set two heights after the evidence's block; the other three finalize blocks without it.
            var offender = net.Net.Nodes[Faulty].ValidatorKey.Address;
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{net.Net.Nodes[0].RpcPort}/") };
            var record = (await http.GetFromJsonAsync<StakingValidatorsResponse>("staking/validators", RpcJson.Options))!
                .Validators.Single(v => v.ConsensusAddress == offender.ToString());
            var parameters = new StakingParameters();
            ulong genesisTokens = 10 * parameters.PowerReduction;
            net.Log($"offender after slashing: {record}");
            Assert.True(record.Jailed, $"the offender is not jailed: {record}");
            // At least one slash (a second offence can land before the jail takes the validator out of the set).
            Assert.True(record.Tokens <= genesisTokens - genesisTokens * parameters.SlashInvalidProposalPpm / 1_000_000, $"not slashed: {record}");
            ulong next = (await net.Net.Clients[0].StatusAsync()).Height + 1;
            var set = await net.Net.Clients[0].ValidatorsAsync(next);
            Assert.DoesNotContain(set.Validators, v => v.Address == offender.ToString());
            Assert.Equal(3, set.Validators.Count);
            ulong before = await net.MinHeightAsync(honest);
            await net.WaitForAsync("three more heights without the jailed validator", async () => await net.MinHeightAsync(honest) >= before + 3);
        }, extraArguments: i => i == Faulty ? ["--fault-tamper-inference"] : []);
}
