using Chain.Consensus;
using Chain.Core.Protocol;
using Chain.Node.Host;

namespace Chain.Node.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task Proposals_with_tampered_inference_outputs_are_refused_by_re_execution_and_the_chain_goes_on()
    {
        await using var cluster = new NodeCluster();
        cluster.StartAll(new FaultInjection { TamperInferenceOutputs = true });
        var tamperer = cluster.Keys[3].Address;
        int caught = 0;
        for (int i = 0; i < 3; i++)
            cluster.Nodes[i]!.EvidenceRecorded += e => { if (e is InvalidProposalEvidence ip && ip.Offender == tamperer) Interlocked.Increment(ref caught); };

        // Keep an inference pending so that the tamperer has one to falsify whenever its turn comes.
        var digits = cluster.Models[1].Digits;
        var submitted = new List<SignedTransaction>();
        var until = DateTime.UtcNow + NodeCluster.Deadline;
        while (Volatile.Read(ref caught) == 0)
        {
            Assert.True(DateTime.UtcNow < until, "no honest node recorded the tampered proposal");
            if (cluster.Nodes[0]!.Mempool.Count == 0)
            {
                var tx = cluster.Infer(0, digits[submitted.Count % digits.Count]);
                Assert.Null(cluster.Nodes[0]!.Submit(tx));
                submitted.Add(tx);
            }
            await Task.Delay(25);
        }

        ulong now = cluster.Running.Max(n => n.Metrics.Height);
        await cluster.WaitForHeight(now + 2);
        await NodeCluster.WaitFor(() => cluster.Running.All(n => submitted.All(t => NodeCluster.Included(n, t))), "every inference committed");
        var all = cluster.Running.ToList();
        ulong height = all.Min(n => n.Metrics.Height);
        NodeCluster.AssertSameChain(all, height);
        // The height the tamperer proposed in round 0 was decided in a later round, on an honest proposal.
        Assert.Contains(Enumerable.Range(1, (int)height), h => all[0].Executor.Blocks.LoadCommit(new Chain.Core.Height((ulong)h))!.Round.Value >= 1);
        // No falsified output made it into the chain: every inference receipt is a shipped known answer.
        var known = digits.Select(d => d.OutputHash).ToHashSet();
        for (ulong h = 1; h <= height; h++)
            Assert.All(all[0].Executor.Blocks.LoadReceipts(new Chain.Core.Height(h)).Where(r => r.Inference is not null),
                r => Assert.Contains(r.Inference!.OutputHash, known));
    }

    [Fact]
    public async Task One_partitioned_node_does_not_stop_the_others_a_two_two_split_stops_everyone_and_healing_converges()
    {
        await using var cluster = new NodeCluster();
        cluster.StartAll();
        await cluster.WaitForHeight(2);

        cluster.Hub.Partition([cluster.Keys[3].PublicKey]);
        var three = cluster.Nodes.Take(3).Select(n => n!).ToList();
        ulong before = three.Max(n => n.Metrics.Height);
        await cluster.WaitForHeight(before + 3, three);

        cluster.Hub.Partition([cluster.Keys[0].PublicKey, cluster.Keys[1].PublicKey], [cluster.Keys[2].PublicKey, cluster.Keys[3].PublicKey]);
        ulong atSplit = cluster.Running.Max(n => n.Metrics.Height);
        // No side holds more than 2/3 of the power: over several rounds' worth of time, nothing may be decided but the
        // one height whose precommits were already on their way when the links were cut (however slowly a loaded node
        // gets to them; node 3 may also sync from node 2, which moves no maximum).
        await Task.Delay(TimeSpan.FromSeconds(6));
        ulong stuck = cluster.Running.Max(n => n.Metrics.Height);
        Assert.True(stuck <= atSplit + 1, $"heights decided during a 2/2 split: {atSplit} at the split, {stuck} after it");

        cluster.Hub.Heal();
        await cluster.WaitForHeight(stuck + 2);
        var all = cluster.Running.ToList();
        NodeCluster.AssertSameChain(all, all.Min(n => n.Metrics.Height));
    }
}
