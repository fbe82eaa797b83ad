using Chain.Core;
using Chain.Core.Protocol;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>BFT time: block 1 carries the genesis time; every later block the power-weighted median of its last commit.</summary>
public class BlockTimeTests
{
    // A commit for `block` whose signer i stamps `stamps[i]` (null: does not sign).
    private static Commit CommitWith(Block block, params ulong?[] stamps) =>
        new(block.Height, new Round(0), block.Hash, Enumerable.Range(0, Validators).Where(i => stamps[i] is not null).Select(i =>
        {
            var key = Validator(i);
            var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, stamps[i]!.Value, key.Address);
            return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(Fixture.Chain)));
        }));

    [Fact]
    public void The_first_block_has_the_genesis_time_and_the_next_the_median_of_its_last_commit()
    {
        var executor = Executor();
        var first = executor.BuildBlock(Context(executor, null), []);
        Assert.Equal(GenesisTime, first.Block.Header.TimeMs);
        ulong t = first.Block.Header.TimeMs;
        // Four equal validators; three sign; one clock is an hour ahead: the median is an honest stamp.
        var commit = CommitWith(first.Block, t + 100, t + 300, t + 3_600_000, null);
        executor.Commit(first.Block, commit);
        var second = executor.BuildBlock(Context(executor, commit), []);
        Assert.Equal(t + 300, second.Block.Header.TimeMs);
    }

    [Fact]
    public void A_block_whose_time_is_not_the_median_is_refused_naming_the_expected_time()
    {
        var proposer = Executor();
        var first = proposer.BuildBlock(Context(proposer, null), []);
        ulong t = first.Block.Header.TimeMs;
        var commit = CommitWith(first.Block, t + 10, t + 20, t + 30, t + 40);
        proposer.Commit(first.Block, commit);
        var built = proposer.BuildBlock(Context(proposer, commit), []).Block;
        Assert.Equal(t + 20, built.Header.TimeMs); // equal powers, four stamps: the second reaches half the power

        var h = built.Header;
        var skewed = new Block(new BlockHeader(h.ChainId, h.Height, h.TimeMs + 3_600_000, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot,
            h.ReceiptsRoot, h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer), built.Transactions, built.LastCommit, built.Evidence);
        var verdict = proposer.VerifyProposal(skewed);
        Assert.Equal(VerifyFailureKind.BadTime, verdict.Failure!.Kind);
        Assert.Equal("timeMs", verdict.Failure.Field);
        Assert.Equal((t + 20).ToString(System.Globalization.CultureInfo.InvariantCulture), verdict.Failure.Expected);
    }

    [Fact]
    public void A_commit_stamped_before_the_previous_block_gives_no_valid_next_block()
    {
        var executor = Executor();
        var first = executor.BuildBlock(Context(executor, null), []);
        ulong t = first.Block.Header.TimeMs;
        var stale = CommitWith(first.Block, t, t, t, t); // honest precommits are stamped after the block
        executor.Commit(first.Block, stale);
        var e = Assert.Throws<ArgumentException>(() => executor.BuildBlock(Context(executor, stale), []));
        Assert.Contains("is not after the previous block's time", e.Message);
    }
}
