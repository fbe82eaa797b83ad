using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Core.Tests;

public class CommitMedianTimeTests
{
    private static PrivateKey Key(int i) => PrivateKey.FromSeed(Enumerable.Repeat((byte)(i + 40), 32).ToArray());

    private static Commit Signed(params (int Who, ulong Stamp)[] votes) =>
        new(new Height(3), new Round(0), Hash32.Zero, votes.Select(v => new CommitSignature(Key(v.Who).Address, v.Stamp, default)));

    [Fact]
    public void The_median_is_weighted_by_power_and_ignores_outliers_holding_less_than_half()
    {
        var set = new ValidatorSet([new Validator(Key(0).PublicKey, 1), new Validator(Key(1).PublicKey, 1), new Validator(Key(2).PublicKey, 5)]);
        // The heavy validator holds 5 of 7: its stamp is the median whatever the others say.
        Assert.Equal(500UL, Signed((0, 100), (1, 900_000), (2, 500)).MedianTimeMs(set));
        // Equal powers: the lower middle stamp (the first at which half the signed power has voted).
        var equal = new ValidatorSet(Enumerable.Range(0, 4).Select(i => new Validator(Key(i).PublicKey, 10)));
        Assert.Equal(20UL, Signed((0, 10), (1, 20), (2, 30), (3, 40)).MedianTimeMs(equal));
        Assert.Equal(20UL, Signed((0, 10), (1, 20), (2, ulong.MaxValue)).MedianTimeMs(equal));
        // Signers outside the set do not count.
        Assert.Equal(10UL, Signed((0, 10), (5, 99)).MedianTimeMs(equal));
        Assert.Throws<InvalidOperationException>(() => Signed((5, 99)).MedianTimeMs(equal));
    }
}
