using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Core.Tests.Codec;

/// <summary>
/// Every protocol object refuses every non-canonical variant of its encoding: trailing bytes,
/// truncation at any point, over-wide integers, signed formats for unsigned values, over-wide
/// array headers, extra and missing array items, and random corruption.
/// </summary>
public class MalleationTests
{
    private const int Seed = 20261125;

    public static TheoryData<string> Kinds() =>
        ["tx-transfer", "tx-register", "tx-infer", "unsigned-tx", "vote", "vote-nil", "signed-vote", "commit",
         "validators", "receipt", "receipt-inference", "header", "block-1", "block-5"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_malleation_is_refused(string kind)
    {
        switch (kind)
        {
            case "tx-transfer": Check(SignedTx(new Samples(Seed), TransactionKind.Transfer)); break;
            case "tx-register": Check(SignedTx(new Samples(Seed), TransactionKind.RegisterModel)); break;
            case "tx-infer": Check(SignedTx(new Samples(Seed), TransactionKind.Infer)); break;
            case "unsigned-tx": Check(SignedTx(new Samples(Seed), TransactionKind.Infer).Transaction); break;
            case "vote": Check(new Vote(VoteType.Precommit, new Height(300), new Round(70000), new Samples(Seed).Hash(), 1_700_000_000_123, Samples.Key(1).Address)); break;
            case "vote-nil": Check(new Vote(VoteType.Prevote, new Height(1), new Round(0), null, 5, Samples.Key(1).Address)); break;
            case "signed-vote": Check(new Samples(Seed).SignedVote(2)); break;
            case "commit": Check(Samples.Commit(new Height(70000), new Round(3), new Samples(Seed).Hash(), 4)); break;
            case "validators": Check(Samples.Validators(5, power: 300)); break;
            case "receipt": Check(new Receipt(new Samples(Seed).Hash(), ReceiptStatus.OutOfGas, 65536)); break;
            case "receipt-inference":
                var s = new Samples(Seed);
                Check(new Receipt(s.Hash(), ReceiptStatus.Success, 1 << 20, new InferenceResult(s.Hash(), 1, s.Hash(), s.Hash(), s.Bytes(300, true))));
                break;
            case "header": Check(new Samples(Seed).Header(1_000_000, new Samples(1).Hash(), new Samples(2).Hash())); break;
            case "block-1": Check(new Samples(Seed).Block(1, 2)); break;
            case "block-5": Check(new Samples(Seed).Block(5, 3)); break;
            default: throw new ArgumentException(kind);
        }
    }

    private static SignedTransaction SignedTx(Samples samples, TransactionKind kind)
    {
        using var key = Samples.Key(3);
        TransactionBody body = kind switch
        {
            TransactionKind.Transfer => new TransferBody(samples.Address(), 1_000_000_000_000),
            TransactionKind.RegisterModel => new RegisterModelBody("mnist-mlp", samples.Bytes(300, true)),
            _ => new InferBody(samples.Hash(), samples.Bytes(70, true), 200),
        };
        return new Transaction(Samples.Chain, key.PublicKey, 256, 65535, body).Sign(key);
    }

    private static void Check<T>(T value) where T : CanonicalObject<T>, ICanonicalObject<T>
    {
        byte[] bytes = value.Encoded.ToArray();

        // The canonical encoding itself round-trips.
        var decoded = Canonical.Decode<T>(bytes);
        Assert.Equal(bytes, decoded.Encoded.ToArray());

        Refused<T>(bytes.Append((byte)0x00).ToArray(), DecodeError.TrailingBytes, "one trailing byte");
        Refused<T>([.. bytes, 0xc0, 0xc0], DecodeError.TrailingBytes, "two trailing nils");

        for (int cut = 0; cut < bytes.Length; cut += cut < 256 ? 1 : 7)
            Refused<T>(bytes[..cut], DecodeError.Truncated, $"truncated to {cut} bytes");

        var nodes = MessagePackWalker.Walk(bytes);
        int integers = 0, arrays = 0;
        foreach (var node in nodes)
        {
            if (node.Type == MessagePackType.Integer)
            {
                integers++;
                ulong v = MessagePackWalker.ReadUInt(bytes, node.Offset);
                var wide = MessagePackWalker.WidenedInteger(v, bytes[node.Offset]);
                if (wide.Length > 0)
                    Refused<T>(MessagePackWalker.Splice(bytes, node.Offset, node.Length, wide), DecodeError.NonCanonical,
                        $"integer {v} at {node.Offset} widened to 0x{wide[0]:x2}");
                if (v <= (ulong)short.MaxValue)
                {
                    byte[] signed = v <= 127 ? [0xd0, (byte)v] : [0xd1, (byte)(v >> 8), (byte)v];
                    Refused<T>(MessagePackWalker.Splice(bytes, node.Offset, node.Length, signed), DecodeError.NonCanonical,
                        $"integer {v} at {node.Offset} in signed format");
                }
            }
            else if (node.Type == MessagePackType.Array)
            {
                arrays++;
                // Same count, wider header.
                byte[] wideHeader = [0xdc, (byte)(node.ArrayCount >> 8), (byte)node.ArrayCount];
                if (node.ArrayCount <= 15)
                    Refused<T>(MessagePackWalker.Splice(bytes, node.Offset, node.Length, wideHeader), DecodeError.NonCanonical,
                        $"array at {node.Offset} with array16 header");

                // One extra item (a nil) at the end of the array.
                var withExtra = MessagePackWalker.Splice(bytes, node.ArrayEnd, 0, [0xc0]);
                withExtra = MessagePackWalker.Splice(withExtra, node.Offset, node.Length, MessagePackWalker.ArrayHeader(node.ArrayCount + 1));
                RefusedAny<T>(withExtra, $"array at {node.Offset} with an extra item");

                // One item fewer (header only: the last item becomes trailing or misplaced data).
                if (node.ArrayCount > 0)
                    RefusedAny<T>(MessagePackWalker.Splice(bytes, node.Offset, node.Length, MessagePackWalker.ArrayHeader(node.ArrayCount - 1)),
                        $"array at {node.Offset} with one item fewer");
            }
        }
        Assert.True(integers > 0 && arrays > 0, "walker found nothing to malleate");

        // Random corruption: either a clear refusal or (rarely) another canonical object; never a crash.
        var random = new Random(Seed);
        for (int i = 0; i < 300; i++)
        {
            var corrupt = (byte[])bytes.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++) corrupt[random.Next(corrupt.Length)] ^= (byte)(1 << random.Next(8));
            try
            {
                var other = Canonical.Decode<T>(corrupt);
                Assert.Equal(corrupt, other.Encoded.ToArray());
            }
            catch (CanonicalEncodingException) { }
            catch (Exception e)
            {
                Assert.Fail($"seed {Seed}, iteration {i}: corruption raised {e.GetType().Name} instead of CanonicalEncodingException: {e.Message}");
            }
        }
    }

    private static void Refused<T>(byte[] bytes, DecodeError expected, string what) where T : ICanonicalObject<T>
    {
        var e = RefusedAny<T>(bytes, what);
        Assert.True(expected == e.Error, $"{typeof(T).Name}, {what}: expected {expected}, got {e.Error}: {e.Message}");
    }

    private static CanonicalEncodingException RefusedAny<T>(byte[] bytes, string what) where T : ICanonicalObject<T>
    {
        try
        {
            Canonical.Decode<T>(bytes);
        }
        catch (CanonicalEncodingException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Detail));
            return e;
        }
        catch (Exception e)
        {
            Assert.Fail($"{typeof(T).Name}, {what}: threw {e.GetType().Name} instead of CanonicalEncodingException: {e.Message}");
        }
        Assert.Fail($"{typeof(T).Name}, {what}: accepted a non-canonical encoding");
        return null!;
    }
}
