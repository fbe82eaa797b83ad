using Chain.Core.Hashing;
using FsCheck;
using FsCheck.Xunit;

namespace Chain.Core.Tests;

public class ValueTypeTests
{
    [Property]
    public void Hash32_round_trips_through_bytes_and_hex(byte[] seed)
    {
        var hash = DomainHash.Sha256(seed);
        Assert.Equal(hash, new Hash32(hash.Bytes));
        Assert.Equal(hash, Hash32.Parse(hash.ToString()));
        Assert.Equal(64, hash.ToString().Length);
    }

    [Property]
    public void Hash32_order_is_lexicographic_over_bytes(byte[] x, byte[] y)
    {
        var a = DomainHash.Sha256(x);
        var b = DomainHash.Sha256(y);
        Assert.Equal(Math.Sign(a.Bytes.SequenceCompareTo(b.Bytes)), Math.Sign(a.CompareTo(b)));
    }

    [Fact]
    public void Hash32_refuses_wrong_lengths_and_bad_hex()
    {
        Assert.Throws<ArgumentException>(() => new Hash32(new byte[31]));
        Assert.False(Hash32.TryParse("zz" + new string('0', 62), out _));
        Assert.False(Hash32.TryParse(new string('0', 63), out _));
        Assert.True(Hash32.Zero.IsZero);
    }

    [Fact]
    public void The_one_tag_registry_spells_every_tag_as_before()
    {
        // These tags were spelled out in Evidence, StateKeys and SignBytes before the registry; the bytes must not move.
        (HashDomain Domain, string Tag)[] expected =
        [
            (HashDomain.Evidence, "chain/v1/evidence"), (HashDomain.StateAccount, "chain/v1/state/account"),
            (HashDomain.StateModel, "chain/v1/state/model"), (HashDomain.StateModelCode, "chain/v1/state/model-code"),
            (HashDomain.StateEvidence, "chain/v1/state/evidence"), (HashDomain.SignTransaction, "chain/v1/sign/tx"),
            (HashDomain.SignVote, "chain/v1/sign/vote"), (HashDomain.SignProposal, "chain/v1/sign/proposal"),
        ];
        foreach (var (domain, tag) in expected)
            Assert.Equal([(byte)tag.Length, .. System.Text.Encoding.ASCII.GetBytes(tag)], DomainHash.Tag(domain).ToArray());
        var address = new Address(new byte[20]);
        var legacy = System.Security.Cryptography.SHA256.HashData([22, .. "chain/v1/state/account"u8, .. address.Bytes]);
        Assert.Equal(Convert.ToHexStringLower(legacy), Chain.Core.State.StateKeys.Account(address).ToString());
        Assert.Equal(Enum.GetValues<HashDomain>().Length, Enum.GetValues<HashDomain>().Select(DomainHash.TagName).Distinct().Count());
    }

    [Fact]
    public void Domain_hash_is_sha256_of_tag_and_data()
    {
        // SHA-256(0x0b || "chain/v1/tx" || "abc"): the tag is length-prefixed ASCII.
        var expected = System.Security.Cryptography.SHA256.HashData([11, .. "chain/v1/tx"u8, .. "abc"u8]);
        Assert.Equal(Convert.ToHexStringLower(expected), DomainHash.Compute(HashDomain.Transaction, "abc"u8).ToString());
        Assert.NotEqual(DomainHash.Compute(HashDomain.Transaction, "abc"u8), DomainHash.Compute(HashDomain.Vote, "abc"u8));
        // Long inputs take the incremental path and must agree with the one-shot definition.
        var big = new byte[5000];
        new Random(1).NextBytes(big);
        var oneShot = System.Security.Cryptography.SHA256.HashData([.. DomainHash.Tag(HashDomain.Model), .. big]);
        Assert.Equal(Convert.ToHexStringLower(oneShot), DomainHash.Compute(HashDomain.Model, big).ToString());
    }

    [Fact]
    public void Address_derives_from_public_key()
    {
        using var key = Chain.Core.Crypto.PrivateKey.FromSeed(new byte[32]);
        var expected = DomainHash.Compute(HashDomain.Address, key.PublicKey.Bytes).Bytes[..20].ToArray();
        Assert.Equal(expected, key.Address.ToArray());
        Assert.Equal(key.Address, Address.Parse(key.Address.ToString()));
        Assert.Throws<FormatException>(() => Address.Parse("00"));
    }

    [Theory]
    [InlineData("chain-1", true)]
    [InlineData("a", true)]
    [InlineData("devnet.v2_x", true)]
    [InlineData("", false)]
    [InlineData("Chain", false)]
    [InlineData("-chain", false)]
    [InlineData("chain id", false)]
    [InlineData("chaîne", false)]
    public void Chain_id_rules(string value, bool valid)
    {
        Assert.Equal(valid, ChainId.IsValid(value, out var reason));
        Assert.Equal(valid, reason.Length == 0);
        if (!valid) Assert.Throws<ArgumentException>(() => new ChainId(value));
    }

    [Fact]
    public void Chain_id_longer_than_50_is_refused() =>
        Assert.False(ChainId.IsValid(new string('a', 51), out _));
}
