using Chain.Consensus;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Network;

namespace Chain.Node.Tests;

/// <summary>
/// Equivocation end to end: a validator's peer sends two conflicting prevotes; the honest nodes' engines detect
/// it, pool the evidence, a proposer includes it in a block, and every node re-verifies it and records it in state.
/// </summary>
public sealed class EvidenceDevnetTests
{
    [Fact]
    public async Task Conflicting_prevotes_become_evidence_in_a_block_recorded_by_every_validator()
    {
        await using var cluster = new NodeCluster();
        for (int i = 0; i < 3; i++) cluster.Start(i); // 3 of 4 equal powers: more than 2/3, the chain runs without validator 3
        var nodes = cluster.Running.ToList();
        await cluster.WaitForHeight(2, nodes);

        // Validator 3 comes online only to equivocate: two prevotes per upcoming height, naming different blocks.
        var offender = cluster.Keys[3];
        using var byzantine = cluster.Hub.Join(offender.PublicKey);
        ulong from = nodes.Max(n => n.Executor.Height.Value) + 1;
        for (ulong h = from; h < from + 3; h++)
            foreach (byte b in new byte[] { 1, 2 })
            {
                var vote = new Vote(VoteType.Prevote, new Height(h), new Round(0), new Hash32(Enumerable.Repeat(b, 32).ToArray()), 1, offender.Address)
                    .Sign(cluster.Genesis.ChainId, offender);
                byzantine.Broadcast(MessageChannel.Consensus, ConsensusMessages.Encode(new VoteReceived(vote)));
            }

        // Some block carries duplicate-vote evidence against validator 3, and every node has it in state.
        Block? carrying = null;
        await NodeCluster.WaitFor(() =>
        {
            var node = nodes[0];
            for (ulong h = from; h <= node.Executor.Height.Value; h++)
                if (node.Executor.Blocks.LoadBlock(new Height(h)) is { Evidence.Count: > 0 } block) carrying = block;
            return carrying is not null && nodes.All(n => n.Executor.Height.Value >= carrying.Height.Value);
        }, "a block with evidence, stored by every node");
        var evidence = Assert.IsType<DuplicateVoteEvidence>(Chain.Core.Codec.Canonical.Decode<Evidence>(carrying!.Evidence[0]));
        Assert.Equal(offender.Address, evidence.Offender);
        foreach (var node in nodes)
        {
            var record = node.Executor.GetEvidence(evidence.Hash);
            Assert.NotNull(record);
            Assert.Equal(offender.Address, record!.Offender);
            Assert.Equal("duplicate-vote", record.Kind);
        }
        NodeCluster.AssertSameChain(nodes, carrying.Height.Value);
    }

    [Fact]
    public async Task Submitted_light_client_attack_is_verified_pooled_included_and_recorded_by_every_validator()
    {
        await using var cluster = new NodeCluster();
        cluster.StartAll();
        var nodes = cluster.Running.ToList();
        await cluster.WaitForHeight(2, nodes);
        var real = nodes[0].Executor.Blocks.LoadHeader(new Height(1))!;
        // A lunatic header for height 1 (validators no honest validator would name), signed by validators 0 and 1: half the power.
        var forged = new BlockHeader(real.ChainId, real.Height, real.TimeMs, real.LastBlockHash, real.LastCommitHash, real.TransactionsRoot,
            real.ReceiptsRoot, real.StateRoot, Hash32.Zero, real.NextValidatorsHash, real.EvidenceRoot, real.Proposer);
        var commit = new Commit(forged.Height, new Round(0), forged.Hash, new[] { 0, 1 }.Select(i =>
        {
            var vote = new Vote(VoteType.Precommit, forged.Height, new Round(0), forged.Hash, forged.TimeMs + 1, cluster.Keys[i].Address);
            return new CommitSignature(vote.Validator, vote.TimestampMs, cluster.Keys[i].Sign(vote.SignBytes(cluster.Genesis.ChainId)));
        }));
        var attack = new ConflictingHeader(forged, commit);

        // The chain's own header proves nothing and is refused without changing anything.
        var honestCommit = nodes[0].Executor.CommitAt(new Height(1))!;
        Assert.Null(nodes[0].SubmitEvidence(new ConflictingHeader(real, honestCommit).Encoded, out _, out var refusal));
        Assert.Contains("no attack", refusal);

        // Submitted to one node only: gossip (the evidence channel) carries it to whichever validator proposes next.
        var pooled = nodes[3].SubmitEvidence(attack.Encoded, out bool committed, out refusal);
        Assert.True(pooled is LightClientAttackEvidence, refusal);
        Assert.False(committed);
        var hash = Evidence.HashOf(attack.Encoded.Span);
        await NodeCluster.WaitFor(() => nodes.All(n => n.Executor.GetEvidence(hash) is not null), "the attack recorded in every node's state");
        Assert.True(nodes.Take(3).Sum(n => n.Metrics.EvidenceFromPeers) >= 1, "no other node received the evidence by gossip");
        foreach (var node in nodes)
            Assert.Equal("light-client-attack", node.Executor.GetEvidence(hash)!.Kind);
        Assert.NotNull(nodes[0].SubmitEvidence(attack.Encoded, out bool known, out _));
        Assert.True(known);
    }
}
