using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// Validators join and leave by staking on the real multi-process network: four funded full nodes stake in, the four
/// genesis validators unbond everything, and the chain carries on under a set with no member in common with genesis.
/// A light client started from the genesis file then verifies a receipt committed after the turnover, across the change.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class StakingTurnoverTests(ITestOutputHelper output)
{
    private static readonly ulong PowerReduction = new StakingParameters().PowerReduction;

    [Fact]
    public Task The_whole_genesis_set_is_replaced_by_staking_and_the_light_client_follows_from_genesis() =>
        ProcessTestNetwork.RunAsync(output, "turnover", async net =>
        {
            var client = net.Net.Clients[0];
            var genesis = net.Net.Genesis.Validators.Validators.Select(v => v.Address).ToHashSet();
            var joiners = Enumerable.Range(4, 4).Select(i => new ProcessTestNetwork.Signer(net, $"validator-{i}")).ToList();

            // Four full nodes stake in with twice a genesis validator's power.
            foreach (var joiner in joiners)
            {
                await net.SubmitAsync(0, joiner.Sign(new CreateValidatorBody(joiner.Key.PublicKey, 20 * PowerReduction), 10_000));
                joiner.Accepted();
            }
            await net.WaitForAsync("the four joiners in the set", async () => (await NextSetAsync(client)).Count == 8);

            // The genesis validators unbond all they have.
            for (int i = 0; i < 4; i++)
            {
                var leaver = new ProcessTestNetwork.Signer(net, $"validator-{i}");
                await net.SubmitAsync(0, leaver.Sign(new UnbondBody(leaver.Key.Address, 10 * PowerReduction), 10_000));
            }
            await net.WaitForAsync("a set with no genesis validator", async () =>
            {
                var set = await NextSetAsync(client);
                return set.Count == 4 && !set.Overlaps(genesis);
            });
            ulong turnover = (await client.StatusAsync()).Height + 1;
            net.Log($"complete turnover: the set of height {turnover} has no genesis validator");

            // The new set finalizes blocks: a transfer committed after the turnover.
            var payer = new ProcessTestNetwork.Signer(net, "account-0");
            var tx = payer.Transfer(joiners[0].Key.Address, 1);
            await net.SubmitAsync(0, tx);
            await net.AssertCommittedEverywhereAsync([tx.Hash]);
            var committed = await client.TransactionAsync(tx.Hash); // RpcClient follows the sets from genesis by bisection
            Assert.True(committed.Header.Height.Value >= turnover, $"committed at {committed.Header.Height}, before the turnover at {turnover}");
            var signers = (await client.CommitAsync(committed.Header.Height.Value)).Commit.Signatures.Select(s => s.Validator).ToHashSet();
            Assert.False(signers.Overlaps(genesis), "a genesis validator signed a commit after leaving");
            await net.AssertIdenticalChainsAsync(await net.MinHeightAsync());

            // A light client from the genesis file verifies that receipt across the complete turnover.
            var home = Path.Combine(net.Directory, "light");
            var url = $"http://127.0.0.1:{net.Net.Nodes[1].RpcPort}/";
            var init = CliHarness.Run(["light", "init", "--home", home, "--node", url, "--genesis", net.Net.Nodes[0].Home.GenesisPath]);
            net.Log($"$ chain light init\n{init.Output}{init.Error}");
            Assert.True(init.ExitCode == 0, init.Error);
            var receipt = CliHarness.Run(["light", "receipt", tx.Hash.ToString(), "--home", home,
                "--witness", $"http://127.0.0.1:{net.Net.Nodes[2].RpcPort}/"]);
            net.Log($"$ chain light receipt\n{receipt.Output}{receipt.Error}");
            Assert.True(receipt.ExitCode == 0, receipt.Error);
            Assert.Contains(tx.Hash.ToString(), receipt.Output);
            Assert.Contains("Success", receipt.Output);
        }, validators: 8, genesisValidators: 4);

    private static async Task<HashSet<Address>> NextSetAsync(Chain.Rpc.RpcClient client)
    {
        ulong next = (await client.StatusAsync()).Height + 1;
        var set = await client.ValidatorsAsync(next);
        return set.Validators.Select(v => Address.Parse(v.Address)).ToHashSet();
    }
}
