using Chain.Consensus;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;

namespace Chain.Node.Tests;

/// <summary>Evidence a validator pooled reaches a block, and every validator records it in state.</summary>
public sealed class EvidenceDevnetTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-evidence-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Pooled_duplicate_vote_evidence_is_included_once_and_recorded_by_every_validator()
    {
        var models = GenesisModels.Locate(AppContext.BaseDirectory) ?? throw new InvalidOperationException("genesis/models not found");
        var genesis = GenesisFile.Load(Path.Combine(Path.GetDirectoryName(models)!, "devnet.json"));
        var keys = Enumerable.Range(0, 4).Select(i => InProcessDevnet.DevnetKey($"validator-{i}")).ToArray();
        var offender = keys[3];
        Vote Prevote(byte b) => new(VoteType.Prevote, new Height(1), new Round(0), new Hash32(Enumerable.Repeat(b, 32).ToArray()), 1, offender.Address);
        var evidence = new DuplicateVoteEvidence(Prevote(1).Sign(genesis.ChainId, offender), Prevote(2).Sign(genesis.ChainId, offender));

        using var engine = new InferenceEngine(enableFastPath: false);
        using var devnet = new InProcessDevnet(_dir, genesis, keys, engine);
        // Every validator saw the equivocation, so whoever proposes first includes it.
        foreach (var node in devnet.Nodes) Assert.True(node.Consensus.Evidence.Add(evidence));
        Assert.True(devnet.RunUntil(3, TimeSpan.FromSeconds(60)), "the devnet did not finalize height 3");

        var carrying = Enumerable.Range(1, 3).Select(h => devnet.Nodes[0].Executor.Blocks.LoadBlock(new Height((ulong)h))!)
            .Where(b => b.Evidence.Count > 0).ToList();
        Assert.Single(carrying);
        Assert.Equal(evidence.Hash, Evidence.HashOf(carrying[0].Evidence[0].Span));
        foreach (var node in devnet.Nodes)
        {
            var record = node.Executor.GetEvidence(evidence.Hash);
            Assert.NotNull(record);
            Assert.Equal(offender.Address, record!.Offender);
            Assert.Equal(0, node.Consensus.Evidence.Count); // committed, so no longer pending
        }
        Assert.All(Enumerable.Range(1, 3), h => Assert.True(devnet.Describe((ulong)h).ReceiptsIdentical));
    }
}
