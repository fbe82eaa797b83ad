using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Core.Tests.Codec;
using MessagePack;

namespace Chain.Core.Tests.Protocol;

/// <summary>
/// Every malformed input, whatever its shape, is refused with a <see cref="CanonicalEncodingException"/>
/// and nothing else. Everything here is seeded: a failure names the seed and the input, so it reproduces.
/// </summary>
public class DecoderRobustnessTests
{
    private const int BaseSeed = 20260211;
    private const int Cases = 5000;

    /// <summary>Every decoder a peer can reach with bytes of its choosing.</summary>
    internal static readonly (string Name, Action<byte[]> Decode)[] Decoders =
    [
        ("signed transaction", b => Canonical.Decode<SignedTransaction>(b)),
        ("transaction", b => Canonical.Decode<Transaction>(b)),
        ("vote", b => Canonical.Decode<Vote>(b)),
        ("signed vote", b => Canonical.Decode<SignedVote>(b)),
        ("commit", b => Canonical.Decode<Commit>(b)),
        ("receipt", b => Canonical.Decode<Receipt>(b)),
        ("block header", b => Canonical.Decode<BlockHeader>(b)),
        ("block", b => Canonical.Decode<Block>(b)),
        ("validator set", b => Canonical.Decode<ValidatorSet>(b)),
    ];

    /// <summary>
    /// Runs <paramref name="input"/> through every decoder; returns a description of the first one that throws
    /// anything but <see cref="CanonicalEncodingException"/>, or null.
    /// </summary>
    internal static string? FirstCrash(byte[] input)
    {
        foreach (var (name, decode) in Decoders)
        {
            try
            {
                decode(input);
            }
            catch (CanonicalEncodingException) { }
            catch (Exception e)
            {
                return $"{name} decoder threw {e.GetType().Name}: {e.Message}\n  input ({input.Length} bytes): {Convert.ToHexString(input)}\n{e.StackTrace}";
            }
        }
        return null;
    }

    // MessagePack format bytes that start a value (headers of every type, nil, the unused 0xc1...).
    private static readonly byte[] HeaderBytes =
    [
        0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x92, 0x94, 0x9f, 0xa0, 0xac, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3,
        0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3,
        0xd4, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
    ];

    // Formats followed by a length or a value: with a random (often huge) payload after them.
    private static readonly byte[] SizedFormats = [0xc4, 0xc5, 0xc6, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3];

    private static readonly Lazy<(string Kind, byte[] Bytes)[]> ValidEncodings = new(() =>
    {
        var list = new List<(string, byte[])>();
        for (int s = 0; s < 12; s++)
        {
            var samples = new Samples(BaseSeed + s);
            var tx = samples.Transaction();
            list.Add(("signed transaction", tx.Encoded.ToArray()));
            list.Add(("transaction", tx.Transaction.Encoded.ToArray()));
            list.Add(("vote", samples.Vote(s & 7).Encoded.ToArray()));
            list.Add(("signed vote", samples.SignedVote(s & 7).Encoded.ToArray()));
            list.Add(("receipt", samples.Receipt().Encoded.ToArray()));
            list.Add(("block header", samples.Header((ulong)s + 1, samples.Hash()).Encoded.ToArray()));
            list.Add(("commit", Samples.Commit(new Height((ulong)s + 1), new Round((uint)s), samples.Hash(), 1 + (s & 3)).Encoded.ToArray()));
            list.Add(("validator set", Samples.Validators(1 + s % 5, (ulong)s + 1).Encoded.ToArray()));
            if (s < 4) list.Add(("block", samples.Block((ulong)s + 1, s).Encoded.ToArray()));
        }
        return [.. list];
    });

    /// <summary>
    /// One input per seed: a quarter are random bytes (biased toward MessagePack format bytes), the rest
    /// are valid encodings of every object with 1-4 mutations (byte changes, bit flips, deletions,
    /// insertions, truncation, length headers with random and huge lengths, duplicated slices).
    /// </summary>
    internal static byte[] Generate(int seed)
    {
        var random = new Random(seed);
        if (random.Next(4) == 0)
        {
            var bytes = new byte[random.Next(0, random.Next(2) == 0 ? 8 : 120)];
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = random.Next(3) == 0 ? HeaderBytes[random.Next(HeaderBytes.Length)] : (byte)random.Next(256);
            return bytes;
        }
        var valid = ValidEncodings.Value;
        var list = new List<byte>(valid[random.Next(valid.Length)].Bytes);
        int mutations = 1 + random.Next(4);
        for (int m = 0; m < mutations && list.Count > 0; m++)
        {
            int p = random.Next(list.Count);
            switch (random.Next(9))
            {
                case 0: list[p] = (byte)random.Next(256); break;
                case 1: list[p] = HeaderBytes[random.Next(HeaderBytes.Length)]; break;
                case 2: list[p] ^= (byte)(1 << random.Next(8)); break;
                case 3: list.RemoveRange(p, Math.Min(list.Count - p, 1 + random.Next(4))); break;
                case 4: list.Insert(p, HeaderBytes[random.Next(HeaderBytes.Length)]); break;
                case 5: list.RemoveRange(p, list.Count - p); break;
                case 6: list[p] = (byte)(list[p] + (random.Next(2) == 0 ? 1 : -1)); break;
                case 7:
                {
                    list[p] = SizedFormats[random.Next(SizedFormats.Length)];
                    var payload = new byte[random.Next(1, 9)];
                    random.NextBytes(payload);
                    if (random.Next(2) == 0) payload[0] |= 0x80; // lengths of 2^31 and more
                    list.InsertRange(p + 1, payload);
                    break;
                }
                default:
                {
                    int from = random.Next(list.Count);
                    list.InsertRange(p, list.GetRange(from, Math.Min(list.Count - from, random.Next(1, 40))));
                    break;
                }
            }
        }
        return [.. list];
    }

    [Fact]
    public void Seeded_random_and_mutated_inputs_only_raise_CanonicalEncodingException()
    {
        for (int i = 0; i < Cases; i++)
        {
            int seed = BaseSeed + i;
            if (FirstCrash(Generate(seed)) is { } crash)
                Assert.Fail($"case seed {seed} (replay with DecoderRobustnessTests.Generate({seed})): {crash}");
        }
    }

    /// <summary>
    /// Every string and binary value of every object, with its header replaced by the 32-bit form declaring
    /// 2^31 bytes or more (lengths MessagePack-CSharp reads as negative) or just more than is left.
    /// </summary>
    [Fact]
    public void Oversized_string_and_binary_lengths_are_refused_as_truncation()
    {
        uint[] lengths = [0x8000_0000, 0xffff_ffff, 0xc320_414b, 0x7fff_ffff, 0x0001_0000];
        int checkedCount = 0;
        foreach (var (kind, bytes) in ValidEncodings.Value)
        {
            var decode = Decoders.Single(d => d.Name == kind).Decode;
            foreach (var node in MessagePackWalker.Walk(bytes))
            {
                if (node.Type is not (MessagePackType.String or MessagePackType.Binary)) continue;
                byte code = node.Type == MessagePackType.String ? (byte)0xdb : (byte)0xc6;
                int headerLength = HeaderLength(bytes[node.Offset]);
                foreach (uint length in lengths)
                {
                    byte[] header = [code, (byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length];
                    var malformed = MessagePackWalker.Splice(bytes, node.Offset, headerLength, header);
                    if (FirstCrash(malformed) is { } crash)
                        Assert.Fail($"{node.Type} at byte {node.Offset} declaring {length} bytes: {crash}");
                    // The prefix is valid, so the matching decoder gets as far as the header and calls it truncation.
                    var error = Assert.Throws<CanonicalEncodingException>(() => decode(malformed));
                    Assert.True(error.Error == DecodeError.Truncated && error.Offset == node.Offset,
                        $"{kind}: {node.Type} at byte {node.Offset} declaring {length} bytes: {error.Message}");
                    checkedCount++;
                }
            }
        }
        Assert.True(checkedCount > 100, $"only {checkedCount} variants checked");

        static int HeaderLength(byte code) => code switch
        {
            >= 0xa0 and <= 0xbf => 1,
            0xc4 or 0xd9 => 2,
            0xc5 or 0xda => 3,
            _ => 5,
        };
    }

    /// <summary>
    /// Inputs found by fuzzing: a bin32 or str32 header whose length has the top bit set made
    /// MessagePackReader.ReadBytes/ReadStringSequence throw ArgumentOutOfRangeException from ReadOnlySequence.Slice.
    /// </summary>
    [Theory]
    // A validator set whose first public key has a bin32 header declaring 0xc420c307 bytes.
    [InlineData("validator set", "9592C6C420C307DDEC98F77249108B514A3DD4A095A9987DF8437A7C82E6E8")]
    // A vote whose validator address has a bin32 header declaring 0xc4144d81 bytes.
    [InlineData("vote", "9601CF50D0D7AFDC3A955BCDA8BDC420C3F6F4897D9EB39BB13154319AD4C6024772CF342B1FE638D83AD9F908AF6683CCC5C6C4144D8162375392DE3CCD2D411E375034C286833065")]
    // A signed vote whose block hash has a bin32 header declaring 0xc320414b bytes.
    [InlineData("signed vote", "9296027DCDF3C0C6C320414B0C536557643ED507BB81E7C48F691F4730F23BBBCAFA20DB1CFEBE76A2B210C4143E087FD5FC75F85516BDDEC50258B97A5C9B9BB6C44090A648974D68E2E1E8F8E72459F0AECB2C6A4CCC9657B5D40B94F93C5EC0090F9857925483F408947DED226B2D0AEAB8B7EE9569F10A9CC979C05B8019D33602")]
    // A commit whose first signature has a bin32 header declaring 0xc440a4c3 bytes.
    [InlineData("commit", "941300C420FEFE29632F800E55F42CDE76FDCE0D7652A30722130BFA8AAA3D4DD0E59F55239393C4142100876457C32CCC45C076CCCE5752E05BF55770CF00C400018BCFE568C6C440A4C37AA10542BEC3924B54DA18F68D540D119D55CC1EBBF06F0F2F7625447DA3AB10E387180FB33EB79EED575BD263F23D89603E5E4B3FE4A499E8080116770C93C4143E087FD5FC75F85516BDDEC50258B97A5C9B9BB6CF00")]
    // A transaction whose chain id has a str32 header declaring 2^31 and 2^32-1 bytes.
    [InlineData("signed transaction", "9295DB80000000636861696E")]
    [InlineData("signed transaction", "9295DBFFFFFFFF636861696E")]
    [InlineData("validator set", "9192C6FFFFFFFF00")]
    public void Regression_huge_declared_lengths_are_truncation_errors(string kind, string hex)
    {
        var bytes = Convert.FromHexString(hex);
        var decode = Decoders.Single(d => d.Name == kind).Decode;
        var error = Assert.Throws<CanonicalEncodingException>(() => decode(bytes));
        Assert.Equal(DecodeError.Truncated, error.Error);
        Assert.Contains("declares", error.Detail);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Null(FirstCrash(bytes));
    }
}
