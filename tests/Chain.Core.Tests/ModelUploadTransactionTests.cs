using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Core.Tests;

/// <summary>The chunked-registration bodies (kinds 8–10): fixed arity, strict decoding, byte-exact round trips.</summary>
public class ModelUploadTransactionTests
{
    private const int Seed = 17;

    [Fact]
    public void Every_upload_body_round_trips_byte_for_byte()
    {
        var s = new Samples(Seed);
        var bodies = new TransactionBody[]
        {
            new BeginModelUploadBody("big", s.Hash(), 1),
            new BeginModelUploadBody("big", s.Hash(), ProtocolLimits.ModelChunkBytes + 1),
            new BeginModelUploadBody("", s.Hash(), ProtocolLimits.MaxModelBytes),
            new UploadModelChunkBody(s.Hash(), 0, s.Bytes(1, exact: true)),
            new UploadModelChunkBody(s.Hash(), ProtocolLimits.MaxModelChunks - 1, s.Bytes(300)),
            new UploadModelChunkBody(s.Hash(), 200 % ProtocolLimits.MaxModelChunks, s.Bytes(ProtocolLimits.ModelChunkBytes, exact: true)),
            new SealModelBody(s.Hash(), 1),
            new SealModelBody(s.Hash(), ProtocolLimits.MaxModelChunks),
        };
        foreach (var body in bodies)
        {
            using var key = Samples.Key(2);
            var signed = new Transaction(Samples.Chain, key.PublicKey, 5, 1_000, body).Sign(key);
            var decoded = Canonical.Decode<SignedTransaction>(signed.Encoded);
            Assert.True(decoded.Encoded.Span.SequenceEqual(signed.Encoded.Span), $"seed {Seed} {body.Kind}");
            Assert.Equal(body.Kind, decoded.Transaction.Body.Kind);
            Assert.Equal(signed.Hash, decoded.Hash);
        }
    }

    [Fact]
    public void Upload_bodies_have_the_documented_encodings()
    {
        var id = new Hash32(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        string idHex = "c420" + Convert.ToHexStringLower(id.Bytes);
        // [8, "m", id, 1048577, 2]
        Assert.Equal("9508a16d" + idHex + "ce00100001" + "02", Hex(new BeginModelUploadBody("m", id, (1 << 20) + 1)));
        // [9, id, 1, bin8 "ab"]
        Assert.Equal("9409" + idHex + "01" + "c4026162", Hex(new UploadModelChunkBody(id, 1, "ab"u8)));
        Assert.Equal("930a" + idHex + "03", Hex(new SealModelBody(id, 3)));
    }

    [Fact]
    public void The_chunk_count_follows_from_the_size()
    {
        Assert.Equal(1, BeginModelUploadBody.ChunksFor(1));
        Assert.Equal(1, BeginModelUploadBody.ChunksFor(ProtocolLimits.ModelChunkBytes));
        Assert.Equal(2, BeginModelUploadBody.ChunksFor(ProtocolLimits.ModelChunkBytes + 1));
        Assert.Equal(ProtocolLimits.MaxModelChunks, BeginModelUploadBody.ChunksFor(ProtocolLimits.MaxModelBytes));
        Assert.Equal(1, BeginModelUploadBody.ChunkLength(ProtocolLimits.ModelChunkBytes + 1, 1));
        Assert.Equal(ProtocolLimits.ModelChunkBytes, BeginModelUploadBody.ChunkLength(ProtocolLimits.ModelChunkBytes + 1, 0));
    }


    [Theory]
    [InlineData("9408a16d" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "01", "BeginModelUpload body has 4 item(s), expected 5")]
    [InlineData("9508a16d" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "00" + "00", "total bytes 0")]
    [InlineData("9508a16d" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "ce04000001" + "41", "total bytes 67108865")]
    [InlineData("9508a16d" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "0a" + "02", "chunk count 2")]
    [InlineData("9409" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "40" + "c40100", "chunk index 64")]
    [InlineData("9409" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "00" + "c400", "at least 1 byte")]
    [InlineData("9409" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "00" + "c6" + "00100001", "chunk bytes")]
    [InlineData("920a" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000", "SealModel body has 2 item(s), expected 3")]
    [InlineData("930a" + "c41f" + "00000000000000000000000000000000000000000000000000000000000000" + "01", "model id")]
    [InlineData("930a" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "00", "chunk count 0")]
    [InlineData("930a" + "c420" + "0000000000000000000000000000000000000000000000000000000000000000" + "41", "chunk count 65")]
    public void Malformed_upload_bodies_are_refused(string bodyHex, string reason)
    {
        using var key = Samples.Key(1);
        var good = new Transaction(Samples.Chain, key.PublicKey, 0, 1, new UnjailBody());
        var encoded = Convert.ToHexStringLower(good.Encoded.Span);
        var bytes = Convert.FromHexString(encoded[..^4] + bodyHex);
        var error = Assert.ThrowsAny<CanonicalEncodingException>(() => Canonical.Decode<Transaction>(bytes));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void A_register_model_over_the_single_transaction_limit_is_refused_at_construction()
    {
        var error = Assert.Throws<ArgumentException>(() => new RegisterModelBody("m", new byte[ProtocolLimits.MaxRegisterModelBytes + 1]));
        Assert.Contains("in chunks", error.Message);
        Assert.True(ProtocolLimits.MaxTransactionBytes < ProtocolLimits.MaxBlockBytes);
    }

    private static string Hex(TransactionBody body)
    {
        using var key = Samples.Key(0);
        var full = Convert.ToHexStringLower(new Transaction(Samples.Chain, key.PublicKey, 0, 0, body).Encoded.Span);
        var prefix = Convert.ToHexStringLower(new Transaction(Samples.Chain, key.PublicKey, 0, 0, new UnjailBody()).Encoded.Span)[..^4];
        return full[prefix.Length..];
    }
}
