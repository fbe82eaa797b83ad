using Chain.Core.Codec;
using Chain.Core.Protocol;

namespace Chain.Core.Tests;

/// <summary>The staking transaction bodies (kinds 4–7): fixed arity, strict decoding, byte-exact round trips.</summary>
public class StakingTransactionTests
{
    private static IEnumerable<TransactionBody> Bodies(int seed)
    {
        var s = new Samples(seed);
        yield return new CreateValidatorBody(Samples.Key(seed % 8).PublicKey, s.UInt());
        yield return new BondBody(s.Address(), s.UInt());
        yield return new UnbondBody(s.Address(), s.UInt());
        yield return new UnjailBody();
    }

    [Fact]
    public void Every_staking_body_round_trips_byte_for_byte_with_every_integer_width()
    {
        for (int seed = 0; seed < 64; seed++)
        {
            foreach (var body in Bodies(seed))
            {
                using var key = Samples.Key(seed % 8);
                var signed = new Transaction(Samples.Chain, key.PublicKey, (ulong)seed, 1_000, body).Sign(key);
                var decoded = Canonical.Decode<SignedTransaction>(signed.Encoded);
                Assert.True(decoded.Encoded.Span.SequenceEqual(signed.Encoded.Span), $"seed {seed} {body.Kind}");
                Assert.Equal(body.Kind, decoded.Transaction.Body.Kind);
                Assert.Equal(signed.Hash, decoded.Hash);
                Assert.True(decoded.Verify(Samples.Chain, out var reason), reason);
            }
        }
    }

    [Fact]
    public void Staking_bodies_have_the_documented_encodings()
    {
        var validator = new Address(Enumerable.Range(1, 20).Select(i => (byte)i).ToArray());
        var key = Samples.Key(0).PublicKey;
        Assert.Equal("9305c414" + Convert.ToHexStringLower(validator.Bytes) + "cd03e8", Hex(new BondBody(validator, 1_000)));
        Assert.Equal("9306c414" + Convert.ToHexStringLower(validator.Bytes) + "01", Hex(new UnbondBody(validator, 1)));
        Assert.Equal("9304c420" + Convert.ToHexStringLower(key.Bytes) + "cf" + "ffffffffffffffff", Hex(new CreateValidatorBody(key, ulong.MaxValue)));
        Assert.Equal("9107", Hex(new UnjailBody()));
    }

    [Theory]
    [InlineData("9205c414000102030405060708090a0b0c0d0e0f10111213", "Bond body has 2 item(s), expected 3")]
    [InlineData("9406c414000102030405060708090a0b0c0d0e0f1011121301c0", "Unbond body has 4 item(s), expected 3")]
    [InlineData("920700", "Unjail body has 2 item(s), expected 1")]
    [InlineData("9304c41f" + "00000000000000000000000000000000000000000000000000000000000000" + "01", "consensus key")]
    [InlineData("910b", "unknown transaction kind 11")]
    [InlineData("9305c413000102030405060708090a0b0c0d0e0f10111201", "validator")]
    public void Malformed_staking_bodies_are_refused(string bodyHex, string reason)
    {
        using var key = Samples.Key(1);
        var good = new Transaction(Samples.Chain, key.PublicKey, 0, 1, new UnjailBody());
        var encoded = Convert.ToHexStringLower(good.Encoded.Span);
        Assert.EndsWith("9107", encoded);
        var bytes = Convert.FromHexString(encoded[..^4] + bodyHex);
        var error = Assert.ThrowsAny<CanonicalEncodingException>(() => Canonical.Decode<Transaction>(bytes));
        Assert.Contains(reason, error.Message);
    }

    private static string Hex(TransactionBody body)
    {
        // The body encoding alone: a transaction's last item, after its four header fields.
        using var key = Samples.Key(0);
        var tx = new Transaction(Samples.Chain, key.PublicKey, 0, 0, body);
        var full = Convert.ToHexStringLower(tx.Encoded.Span);
        var prefix = Convert.ToHexStringLower(new Transaction(Samples.Chain, key.PublicKey, 0, 0, new UnjailBody()).Encoded.Span)[..^4];
        return full[prefix.Length..];
    }
}
