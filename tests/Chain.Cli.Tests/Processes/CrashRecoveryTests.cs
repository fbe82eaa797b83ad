using Chain.Consensus;
using Chain.Core;
using Chain.Rpc;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>SIGKILL a validator under load, restart it on the same home: it catches up by block sync, and nothing forks or is lost.</summary>
[Collection(ProcessCollection.Name)]
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int Victim = 3;

    [Fact]
    public Task A_validator_killed_under_load_catches_up_after_restart_without_fork_double_sign_or_lost_txs() =>
        ProcessTestNetwork.RunAsync(output, "crash", async net =>
        {
            // Load through the three nodes that stay up; each signer sticks to one node so its nonces arrive in order.
            var signers = new[] { "account-0", "account-1", "account-2" }.Select(k => new ProcessTestNetwork.Signer(net, k)).ToArray();
            var accepted = new List<Hash32>();
            using var stopLoad = new CancellationTokenSource();
            var load = Task.Run(async () =>
            {
                var recipient = DevnetAddress("validator-0");
                for (int n = 0; !stopLoad.IsCancellationRequested; n++)
                {
                    for (int node = 0; node < signers.Length; node++)
                    {
                        var signer = signers[node];
                        var tx = n % 3 == 2 ? signer.Transfer(recipient, 1 + (ulong)n) : signer.Infer();
                        try
                        {
                            await net.SubmitAsync(node, tx);
                            signer.Accepted();
                            lock (accepted) accepted.Add(tx.Hash);
                        }
                        catch (RpcClientException e) when (e.Status == 422 && e.Code == "MempoolFull")
                        {
                            // back-pressure: the nonce was not used; the same transaction is rebuilt next time
                        }
                    }
                    // Pacing of the client, not a wait for a condition: about 15 tx/s.
                    await Task.Delay(200, CancellationToken.None);
                }
            });
            int Accepted()
            {
                // A failed load task fails the test with its own exception, not with a timeout.
                // (wrapped: WaitUntilAsync would take an RpcClientException for "not yet")
                if (load.IsFaulted) throw new Xunit.Sdk.XunitException($"the load failed: {load.Exception!.InnerException}");
                lock (accepted) return accepted.Count;
            }

            await net.WaitForAsync("10 transactions accepted before the kill", () => Task.FromResult(Accepted() >= 10));
            ulong atKill = await net.MaxHeightAsync(Enumerable.Range(0, net.Count));
            net.Net.Kill(Victim);
            net.Log($"SIGKILLed node {Victim} at about height {atKill}; {Accepted()} transactions accepted");
            Assert.False(net.Net.IsRunning(Victim));

            var survivors = new[] { 0, 1, 2 };
            await net.WaitForAsync("the 3 others to commit 4 more heights with node 3 dead", async () =>
                await net.MinHeightAsync(survivors) >= atKill + 4);
            int acceptedWhileDown = Accepted();

            net.Net.Start(Victim);
            net.Log($"restarted node {Victim} on its home");
            await net.WaitForAsync("10 more transactions accepted after the restart", () => Task.FromResult(Accepted() >= acceptedWhileDown + 10));
            ulong target = await net.MaxHeightAsync(survivors);
            await net.WaitForAsync($"node {Victim} to catch up to height {target}", async () => await net.Net.HeightAsync(Victim) >= target);
            await stopLoad.CancelAsync();
            await load;

            Hash32[] all;
            lock (accepted) all = [.. accepted];
            net.Log($"{all.Length} transactions accepted in all");
            await net.AssertCommittedEverywhereAsync(all);

            ulong upTo = await net.MinHeightAsync();
            var blocks = await net.AssertIdenticalChainsAsync(upTo);
            Assert.DoesNotContain(blocks.SelectMany(ProcessTestNetwork.EvidenceOf), e => e is DuplicateVoteEvidence);
            Assert.Contains("(block sync)", net.ReadLog(Victim));
            for (int i = 0; i < net.Count; i++)
                Assert.False(net.ReadLog(i).Contains("evidence recorded", StringComparison.Ordinal), $"node {i} recorded evidence: a double sign after the restart?");
        });

    private static Address DevnetAddress(string name) => Chain.Node.DevnetKeys.For(name).Address;
}
