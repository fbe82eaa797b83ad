using Chain.Core.Codec;
using Chain.Core.Protocol;
using FsCheck;
using FsCheck.Xunit;

namespace Chain.Core.Tests.Protocol;

/// <summary>
/// encode → decode → encode is the identity for every protocol type, over generated values.
/// Every property runs from a fixed FsCheck seed (<see cref="Replay"/>), so a run is reproducible: a failure
/// is the same failure on every machine, and FsCheck's report names the seed and the shrunk input.
/// </summary>
public class RoundTripProperties
{
    /// <summary>The FsCheck (seed, gamma) every property starts from.</summary>
    private const string Replay = "(20260211,1234567)";

    private static void RoundTrips<T>(T value) where T : CanonicalObject<T>, ICanonicalObject<T>
    {
        var bytes = value.Encoded.ToArray();
        var decoded = Canonical.Decode<T>(bytes);
        Assert.Equal(bytes, decoded.Encoded.ToArray());
        Assert.Equal(value, decoded);
        Assert.Equal(value.GetHashCode(), decoded.GetHashCode());
    }

    [Property(MaxTest = 100, Replay = Replay)]
    public void Signed_transactions_round_trip(int seed)
    {
        var tx = new Samples(seed).Transaction();
        RoundTrips(tx);
        RoundTrips(tx.Transaction);
        var decoded = Canonical.Decode<SignedTransaction>(tx.Encoded);
        Assert.Equal(tx.Hash, decoded.Hash);
        Assert.True(decoded.Verify(Samples.Chain, out var reason), reason);
    }

    [Property(MaxTest = 200, Replay = Replay)]
    public void Votes_round_trip(int seed)
    {
        var samples = new Samples(seed);
        RoundTrips(samples.Vote(seed & 7));
        var signed = samples.SignedVote(seed & 7);
        RoundTrips(signed);
        Assert.True(Canonical.Decode<SignedVote>(signed.Encoded).Verify(Samples.Chain, Samples.Key(seed & 7).PublicKey));
    }

    [Property(MaxTest = 100, Replay = Replay)]
    public void Receipts_round_trip(int seed) => RoundTrips(new Samples(seed).Receipt());

    [Property(MaxTest = 100, Replay = Replay)]
    public void Headers_round_trip(int seed, PositiveInt height) =>
        RoundTrips(new Samples(seed).Header((ulong)height.Get, new Samples(seed + 1).Hash()));

    [Property(MaxTest = 30, Replay = Replay)]
    public void Commits_round_trip(int seed, PositiveInt height, byte round)
    {
        var commit = Samples.Commit(new Height((ulong)height.Get), new Round(round), new Samples(seed).Hash(), 1 + (seed & 3));
        RoundTrips(commit);
    }

    [Property(MaxTest = 30, Replay = Replay)]
    public void Validator_sets_round_trip(PositiveInt power, byte count) =>
        RoundTrips(Samples.Validators(1 + count % 20, (ulong)power.Get));

    [Property(MaxTest = 20, Replay = Replay)]
    public void Blocks_round_trip(int seed, PositiveInt height)
    {
        var block = new Samples(seed).Block((ulong)(height.Get % 1000) + 1, seed & 7);
        RoundTrips(block);
        Assert.True(Canonical.Decode<Block>(block.Encoded).ValidateBasic(Samples.Chain, out var reason), reason);
    }

    [Property(MaxTest = 2000, Replay = Replay)]
    public void Arbitrary_bytes_never_crash_the_decoder(byte[] bytes)
    {
        // Anything but CanonicalEncodingException fails, naming the decoder, the exception and the input in hex.
        if (DecoderRobustnessTests.FirstCrash(bytes) is { } crash) Assert.Fail(crash);
    }
}
