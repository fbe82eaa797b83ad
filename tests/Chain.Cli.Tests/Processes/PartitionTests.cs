using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// Partitions emulated by freezing processes (SIGSTOP): a frozen validator is, to its peers, one cut off by the
/// network. With 1 of 4 cut off the rest go on; with 2 of 4 no quorum exists and nothing may commit; once
/// thawed (SIGCONT) everyone converges on one chain.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class PartitionTests(ITestOutputHelper output)
{
    [Fact]
    public Task One_frozen_validator_does_not_stop_the_chain_two_do_and_all_converge_after_thawing() =>
        ProcessTestNetwork.RunAsync(output, "partition", async net =>
        {
            var frozen = new List<int>();
            try
            {
                ulong before = await net.MinHeightAsync();
                net.Signal(3, "STOP");
                frozen.Add(3);
                var live = new[] { 0, 1, 2 };
                await net.WaitForAsync("3 of 4 to commit 4 heights with node 3 cut off", async () => await net.MinHeightAsync(live) >= before + 4);

                net.Signal(2, "STOP");
                frozen.Add(2);
                var minority = new[] { 0, 1 };
                // A height being decided at the moment of the freeze may still complete; after that, no quorum.
                await net.WaitForAsync("nodes 0 and 1 to agree on their height", async () =>
                    await net.MinHeightAsync(minority) == await net.MaxHeightAsync(minority));
                ulong stuck = await net.MaxHeightAsync(minority);
                // Safety, not timing: over a window of several round timeouts not one new height may appear with 2 of 4.
                var window = System.Diagnostics.Stopwatch.StartNew();
                while (window.Elapsed < TimeSpan.FromSeconds(8))
                {
                    ulong now = await net.MaxHeightAsync(minority);
                    Assert.True(now <= stuck + 1, $"nodes 0,1 went from {stuck} to {now} with only half the voting power");
                    await Task.Delay(250);
                }
                ulong after = await net.MaxHeightAsync(minority);
                net.Log($"with 2 of 4 frozen: height {stuck} → {after} over {window.Elapsed.TotalSeconds:F0} s");
                Assert.True(after <= stuck + 1);

                net.Signal(2, "CONT");
                net.Signal(3, "CONT");
                frozen.Clear();
                await net.WaitForAsync("all 4 to pass the stall", async () => await net.MinHeightAsync() >= after + 3);
                await net.AssertIdenticalChainsAsync(await net.MinHeightAsync());
            }
            finally
            {
                // A frozen node would ignore the SIGTERM of the cleanup.
                foreach (int i in frozen) net.Signal(i, "CONT");
            }
        });
}
