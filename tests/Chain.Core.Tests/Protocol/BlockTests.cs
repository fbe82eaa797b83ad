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

    [Fact]
    public void Evidence_items_round_trip_and_are_bound_to_the_header_by_the_evidence_root()
    {
        var s = new Samples(7);
        ReadOnlyMemory<byte>[] evidence = [new byte[] { 1, 2, 3 }, new byte[] { 4 }];
        var block = new Block(s.Header(1, txRoot: Block.ComputeTransactionsRoot([]), evidenceRoot: Block.ComputeEvidenceRoot(evidence)), [], null, evidence);
        Assert.True(block.ValidateBasic(Samples.Chain, out var reason), reason);
        var decoded = Canonical.Decode<Block>(block.Encoded);
        Assert.Equal(2, decoded.Evidence.Count);
        Assert.True(decoded.Evidence[1].Span.SequenceEqual(evidence[1].Span));
        Assert.True(decoded.Encoded.Span.SequenceEqual(block.Encoded.Span));

        var unbound = new Block(s.Header(1, txRoot: Block.ComputeTransactionsRoot([])), [], null, evidence);
        Assert.False(unbound.ValidateBasic(Samples.Chain, out reason));
        Assert.Contains("evidence root mismatch", reason);
    }

    [Fact]
    public void Too_many_or_empty_evidence_items_are_refused_when_decoding()
    {
        var s = new Samples(8);
        var header = s.Header(1, txRoot: Block.ComputeTransactionsRoot([]));
        Assert.Throws<ArgumentException>(() => new Block(header, [], null, Enumerable.Range(0, ProtocolLimits.MaxEvidencePerBlock + 1).Select(i => (ReadOnlyMemory<byte>)new byte[] { (byte)i })));

        // Hand-made encodings: [header, [], nil, [items...]].
        byte[] Encode(int count, byte[] item)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            var writer = new MessagePack.MessagePackWriter(buffer);
            writer.WriteArrayHeader(4);
            header.WriteTo(ref writer);
            writer.WriteArrayHeader(0);
            writer.WriteNil();
            writer.WriteArrayHeader(count);
            for (int i = 0; i < count; i++) writer.Write(item);
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        Assert.True(Canonical.TryDecode<Block>(Encode(1, [1]), out _, out _));
        Assert.False(Canonical.TryDecode<Block>(Encode(ProtocolLimits.MaxEvidencePerBlock + 1, [1]), out _, out var tooMany));
        Assert.Equal(DecodeError.LimitExceeded, tooMany!.Error);
        Assert.False(Canonical.TryDecode<Block>(Encode(1, []), out _, out var empty));
        Assert.Contains("empty evidence", empty!.Message);
    }
}
