using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Core.Tests.Codec;

/// <summary>Hostile sizes are refused before anything is allocated for them.</summary>
public class LimitTests
{
    [Fact]
    public void Oversize_input_is_refused_before_parsing()
    {
        var bytes = new byte[ProtocolLimits.MaxVoteBytes + 1];
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Vote>(bytes));
        Assert.Equal(DecodeError.LimitExceeded, e.Error);
    }

    [Fact]
    public void Empty_input_is_truncated()
    {
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Receipt>(Array.Empty<byte>()));
        Assert.Equal(DecodeError.Truncated, e.Error);
    }

    [Fact]
    public void Array_claiming_more_items_than_bytes_is_refused()
    {
        // block = [header, txs, commit]; claim 2^32-1 transactions in a tiny buffer.
        var block = new Samples(1).Block(1, 0);
        var bytes = block.Encoded.ToArray();
        var nodes = MessagePackWalker.Walk(bytes);
        var txList = nodes.First(n => n.Type == MessagePack.MessagePackType.Array && n.ArrayCount == 0);
        var hostile = MessagePackWalker.Splice(bytes, txList.Offset, txList.Length, [0xdd, 0xff, 0xff, 0xff, 0xff]);
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Block>(hostile));
        // Either refusal is right: the count exceeds both the bytes left and the per-block limit.
        Assert.Contains(e.Error, new[] { DecodeError.Truncated, DecodeError.LimitExceeded });
    }

    [Fact]
    public void Binary_longer_than_its_field_limit_is_refused()
    {
        var s = new Samples(2);
        var receipt = new Receipt(s.Hash(), ReceiptStatus.Success, 1, new InferenceResult(s.Hash(), 1, s.Hash(), s.Hash(), new byte[10]));
        var bytes = receipt.Encoded.ToArray();
        // A 33-byte "hash" in place of the 32-byte transaction hash.
        var hostile = MessagePackWalker.Splice(bytes, 1, 34, [0xc4, 33, .. new byte[33]]);
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Receipt>(hostile));
        Assert.Equal(DecodeError.InvalidValue, e.Error);
        Assert.Contains("expected exactly 32", e.Message);
    }

    [Fact]
    public void Wrong_types_are_named_in_the_error()
    {
        var vote = new Vote(VoteType.Prevote, new Height(1), new Round(0), null, 0, Address.Zero);
        var bytes = vote.Encoded.ToArray();
        bytes[2] = 0xa1; // height as a 1-char string: next byte (round 0) becomes its content
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Vote>(bytes));
        Assert.Equal(DecodeError.WrongType, e.Error);
        Assert.Contains("height: expected an integer, found a string", e.Message);
        Assert.Equal(2, e.Offset);
    }

    [Fact]
    public void Invalid_utf8_and_invalid_chain_ids_are_refused()
    {
        using var key = Samples.Key(0);
        var tx = new Transaction(Samples.Chain, key.PublicKey, 0, 0, new TransferBody(Address.Zero, 1)).Sign(key);
        var bytes = tx.Encoded.ToArray();
        // [[chainId "chain-test-1" ...: the chain id string starts at offset 2 (0xac header).
        Assert.Equal(0xac, bytes[2]);
        var upper = (byte[])bytes.Clone();
        upper[3] = (byte)'C';
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<SignedTransaction>(upper));
        Assert.Contains("invalid chain id", e.Message);
        var badUtf8 = (byte[])bytes.Clone();
        badUtf8[3] = 0xff;
        e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<SignedTransaction>(badUtf8));
        Assert.Contains("not valid UTF-8", e.Message);
    }

    [Fact]
    public void Unknown_transaction_kind_and_status_are_refused()
    {
        using var key = Samples.Key(0);
        var bytes = new Transaction(Samples.Chain, key.PublicKey, 0, 0, new TransferBody(Address.Zero, 1)).Encoded.ToArray();
        var nodes = MessagePackWalker.Walk(bytes);
        var body = nodes.Last(n => n.Type == MessagePack.MessagePackType.Array);
        bytes[body.Offset + 1] = 11;
        var e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Transaction>(bytes));
        Assert.Contains("unknown transaction kind 11", e.Message);

        var receipt = new Receipt(Hash32.Zero, ReceiptStatus.Success, 0).Encoded.ToArray();
        receipt[35] = 0x7f;
        e = Assert.Throws<CanonicalEncodingException>(() => Canonical.Decode<Receipt>(receipt));
        Assert.Contains("unknown receipt status 127", e.Message);
    }
}
