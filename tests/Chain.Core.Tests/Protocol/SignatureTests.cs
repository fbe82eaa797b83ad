using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Core.Tests.Protocol;

public class SignatureTests
{
    private static readonly ChainId Other = new("another-chain");

    [Fact]
    public void Transaction_for_another_chain_is_refused_with_the_reason()
    {
        var tx = new Samples(1).Transaction();
        Assert.False(tx.Verify(Other, out var reason));
        Assert.Contains("wrong chain id", reason);
    }

    [Fact]
    public void Signature_made_for_one_chain_does_not_verify_for_another()
    {
        using var key = Samples.Key(0);
        var body = new TransferBody(Samples.Key(1).Address, 5);
        var onA = new Transaction(Samples.Chain, key.PublicKey, 1, 1, body).Sign(key);
        // The same transaction content claimed for chain B, carrying chain A's signature.
        var claimedOnB = new SignedTransaction(new Transaction(Other, key.PublicKey, 1, 1, body), onA.Signature);
        Assert.False(claimedOnB.Verify(Other, out var reason));
        Assert.Contains("bad signature", reason);
    }

    [Fact]
    public void Tampered_transaction_fails_verification()
    {
        using var key = Samples.Key(0);
        var signed = new Transaction(Samples.Chain, key.PublicKey, 1, 10, new TransferBody(Samples.Key(1).Address, 5)).Sign(key);
        var tampered = new SignedTransaction(
            new Transaction(Samples.Chain, key.PublicKey, 1, 10, new TransferBody(Samples.Key(1).Address, 6)), signed.Signature);
        Assert.False(tampered.Verify(Samples.Chain, out _));
        Assert.True(signed.Verify(Samples.Chain, out _));
    }

    [Fact]
    public void Signing_with_the_wrong_key_is_refused()
    {
        using var key = Samples.Key(0);
        using var other = Samples.Key(1);
        var tx = new Transaction(Samples.Chain, key.PublicKey, 1, 10, new TransferBody(Address.Zero, 1));
        Assert.Throws<ArgumentException>(() => tx.Sign(other));
    }

    [Fact]
    public void Sign_bytes_differ_by_kind_and_chain()
    {
        byte[] payload = [1, 2, 3];
        var tx = SignBytes.Build(SignDomain.Transaction, Samples.Chain, payload);
        var vote = SignBytes.Build(SignDomain.Vote, Samples.Chain, payload);
        var otherChain = SignBytes.Build(SignDomain.Transaction, Other, payload);
        Assert.NotEqual(tx, vote);
        Assert.NotEqual(tx, otherChain);
        Assert.Equal("chain/v1/sign/tx"u8.ToArray(), tx[1..17]);
        Assert.Equal(16, tx[0]);
    }

    [Fact]
    public void Vote_signature_is_bound_to_chain_validator_and_content()
    {
        using var key = Samples.Key(4);
        var vote = new Vote(VoteType.Prevote, new Height(10), new Round(2), new Samples(3).Hash(), 99, key.Address);
        var signed = vote.Sign(Samples.Chain, key);
        Assert.True(signed.Verify(Samples.Chain, key.PublicKey));
        Assert.False(signed.Verify(Other, key.PublicKey));
        Assert.False(signed.Verify(Samples.Chain, Samples.Key(5).PublicKey));
        var asPrecommit = new SignedVote(new Vote(VoteType.Precommit, vote.Height, vote.Round, vote.BlockHash, vote.TimestampMs, vote.Validator), signed.Signature);
        Assert.False(asPrecommit.Verify(Samples.Chain, key.PublicKey));
    }

    [Fact]
    public void Commit_verifies_only_with_more_than_two_thirds_of_the_power()
    {
        var validators = Samples.Validators(4, power: 10); // powers 10, 11, 12, 13; total 46
        var block = new Samples(9).Hash();
        var height = new Height(7);

        // Validators 0..2 hold 33 of 46 > 30.67.
        Assert.True(Samples.Commit(height, new Round(1), block, 3).Verify(Samples.Chain, validators, height, block, out var reason), reason);
        // Validators 0..1 hold 21 of 46.
        Assert.False(Samples.Commit(height, new Round(1), block, 2).Verify(Samples.Chain, validators, height, block, out reason));
        Assert.Contains("not more than 2/3", reason);
    }

    [Fact]
    public void Commit_refuses_wrong_chain_height_block_and_unknown_signers()
    {
        var validators = Samples.Validators(4);
        var block = new Samples(9).Hash();
        var height = new Height(7);
        var commit = Samples.Commit(height, new Round(0), block, 4);

        Assert.False(commit.Verify(new ChainId("other"), validators, height, block, out var reason));
        Assert.Contains("bad precommit signature", reason);
        Assert.False(commit.Verify(Samples.Chain, validators, new Height(8), block, out reason));
        Assert.Contains("height", reason);
        Assert.False(commit.Verify(Samples.Chain, validators, height, new Samples(10).Hash(), out reason));
        Assert.Contains("block", reason);
        Assert.False(commit.Verify(Samples.Chain, Samples.Validators(3), height, block, out reason));
        Assert.Contains("not a validator", reason);
    }

    [Fact]
    public void Commit_with_a_forged_signature_is_refused()
    {
        var validators = Samples.Validators(4);
        var block = new Samples(9).Hash();
        var height = new Height(7);
        var good = Samples.Commit(height, new Round(0), block, 4);
        var sigs = good.Signatures.ToArray();
        var forged = sigs[2].Signature.Bytes.ToArray();
        forged[5] ^= 1;
        sigs[2] = sigs[2] with { Signature = new Signature(forged) };
        var bad = new Commit(height, new Round(0), block, sigs);
        Assert.False(bad.Verify(Samples.Chain, validators, height, block, out var reason));
        Assert.Contains("bad precommit signature", reason);
    }

    [Fact]
    public void Commit_refuses_duplicate_signers_and_empty_lists()
    {
        var sig = Samples.Commit(new Height(1), new Round(0), Hash32.Zero, 1).Signatures[0];
        Assert.Throws<ArgumentException>(() => new Commit(new Height(1), new Round(0), Hash32.Zero, [sig, sig]));
        Assert.Throws<ArgumentException>(() => new Commit(new Height(1), new Round(0), Hash32.Zero, []));
    }

    [Fact]
    public void Validator_set_refuses_bad_members()
    {
        var k = Samples.Key(0).PublicKey;
        Assert.Throws<ArgumentException>(() => new ValidatorSet([]));
        Assert.Throws<ArgumentException>(() => new ValidatorSet([new Validator(k, 0)]));
        Assert.Throws<ArgumentException>(() => new ValidatorSet([new Validator(k, 1), new Validator(k, 2)]));
        Assert.Throws<ArgumentException>(() => new ValidatorSet([new Validator(k, ProtocolLimits.MaxTotalVotingPower), new Validator(Samples.Key(1).PublicKey, 1)]));
    }
}
