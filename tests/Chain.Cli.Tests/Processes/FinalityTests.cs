using Chain.Core;
using Chain.Core.Crypto;
using Xunit.Abstractions;
using Chain.Core.State;

namespace Chain.Cli.Tests.Processes;

/// <summary>Four `chain start` processes on loopback finalize inference and transfers identically.</summary>
[Collection(ProcessCollection.Name)]
public sealed class FinalityTests(ITestOutputHelper output)
{
    [Fact]
    public Task Four_validators_finalize_infer_txs_and_a_transfer_with_identical_blocks_and_receipts() =>
        ProcessTestNetwork.RunAsync(output, "finality", async net =>
        {
            // One signer per node so each node's mempool sees a signer's nonces in order.
            var signers = new[] { "account-0", "account-1", "account-2", "validator-3" }.Select(k => new ProcessTestNetwork.Signer(net, k)).ToArray();
            var hashes = new List<Hash32>();
            for (int round = 0; round < 2; round++)
            {
                for (int node = 0; node < net.Count; node++)
                {
                    var tx = signers[node].Infer(round * net.Count + node);
                    hashes.Add(await net.SubmitAsync(node, tx));
                    signers[node].Accepted();
                }
            }
            await net.AssertCommittedEverywhereAsync(hashes);

            // A transfer through another node than its signer's: account-0's nonce is settled now (all committed).
            var recipient = PrivateKey.Generate();
            var before = (await net.Net.Clients[2].AccountAsync(signers[0].Key.Address)).Account;
            Assert.Equal(signers[0].Nonce, before.Nonce);
            var transfer = signers[0].Transfer(recipient.Address, 4321);
            await net.SubmitAsync(3, transfer);
            signers[0].Accepted();
            await net.AssertCommittedEverywhereAsync([transfer.Hash]);
            for (int i = 0; i < net.Count; i++)
            {
                await net.WaitForAsync($"node {i} to serve the recipient's balance", async () =>
                    (await net.Net.Clients[i].AccountAsync(recipient.Address)).Account.Balance == 4321);
                var sender = (await net.Net.Clients[i].AccountAsync(signers[0].Key.Address)).Account;
                Assert.Equal(before.Nonce + 1, sender.Nonce);
                Assert.Equal(before.Balance - 4321 - 10_000, sender.Balance);
            }

            // Every height so far: the same block (so the same receipts root) and, per transaction, the same receipt hash.
            ulong upTo = await net.MinHeightAsync();
            var blocks = await net.AssertIdenticalChainsAsync(upTo);
            int receipts = 0;
            foreach (var block in blocks)
            {
                foreach (var tx in block.Transactions)
                {
                    var found = await Task.WhenAll(Enumerable.Range(0, net.Count).Select(i => net.Net.Clients[i].TransactionAsync(tx.Hash)));
                    Assert.Single(found.Select(f => f.Receipt.Hash).Distinct());
                    net.AssertKnownAnswer(found[0].Transaction, found[0].Receipt);
                    receipts++;
                }
            }
            Assert.Equal(hashes.Count + 1, receipts);
            net.Log($"{upTo} heights identical on all {net.Count} nodes, {receipts} receipts identical");
        });
}
