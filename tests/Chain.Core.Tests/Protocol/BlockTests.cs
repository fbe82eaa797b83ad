using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Core.Tests.Protocol;

public class BlockTests
{
    [Fact]
    public void Valid_blocks_pass_basic_validation()
    {
        var s = new Samples(5);
        Assert.True(s.Block(1, 0).ValidateBasic(Samples.Chain, out var reason), reason);
        Assert.True(s.Block(2, 5).ValidateBasic(Samples.Chain, out reason), reason);
    }

    [Fact]
    public void Block_with_a_wrong_transactions_root_is_refused()
    {
        var s = new Samples(5);
        var good = s.Block(1, 3);
        var bad = new Block(s.Header(1, txRoot: s.Hash()), good.Transactions, null);
        Assert.False(bad.ValidateBasic(Samples.Chain, out var reason));
        Assert.Contains("transactions root mismatch", reason);
    }

    [Fact]
    public void Block_with_a_duplicate_transaction_is_refused()
    {
        var s = new Samples(5);
        var tx = s.Transaction();
        SignedTransaction[] txs = [tx, tx];
        var block = new Block(s.Header(1, txRoot: Block.ComputeTransactionsRoot(txs)), txs, null);
        Assert.False(block.ValidateBasic(Samples.Chain, out var reason));
        Assert.Contains("appears twice", reason);
    }

    [Fact]
    public void Block_for_another_chain_is_refused()
    {
        Assert.False(new Samples(5).Block(1, 1).ValidateBasic(new ChainId("elsewhere"), out var reason));
        Assert.Contains("wrong chain id", reason);
    }

    [Fact]
    public void Last_commit_must_match_the_header_links()
    {
        var s = new Samples(5);
        var good = s.Block(3, 1);
        // Missing commit.
        Assert.False(new Block(good.Header, good.Transactions, null).ValidateBasic(Samples.Chain, out var reason));
        Assert.Contains("lacks the commit", reason);
        // A commit for another block.
        var otherCommit = Samples.Commit(new Height(2), new Round(0), s.Hash(), 3);
        Assert.False(new Block(good.Header, good.Transactions, otherCommit).ValidateBasic(Samples.Chain, out reason));
        // First block with a commit.
        var first = s.Block(1, 0);
        Assert.False(new Block(first.Header, [], otherCommit).ValidateBasic(Samples.Chain, out reason));
        Assert.Contains("first block", reason);
    }

    [Fact]
    public void Height_zero_and_unknown_versions_are_refused()
    {
        var s = new Samples(5);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Header(0));
        var bytes = s.Header(1).Encoded.ToArray();
        Assert.Equal(0x9d, bytes[0]);   // fixarray of 13
        Assert.Equal(0x01, bytes[1]);   // version 1
        bytes[1] = 0x02;
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<BlockHeader>(bytes));
        Assert.Equal(DecodeError.InvalidValue, e.Error);
        Assert.Contains("unsupported block version 2", e.Message);
    }

    [Fact]
    public void Header_hash_changes_with_every_field()
    {
        var s = new Samples(5);
        var a = s.Header(10);
        var b = new BlockHeader(a.ChainId, a.Height, a.TimeMs + 1, a.LastBlockHash, a.LastCommitHash, a.TransactionsRoot,
            a.ReceiptsRoot, a.StateRoot, a.ValidatorsHash, a.NextValidatorsHash, a.EvidenceRoot, a.Proposer);
        Assert.NotEqual(a.Hash, b.Hash);
    }
}
