using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using MessagePack;

namespace Chain.Node.Host;

/// <summary>
/// The TransactionRelay channel payload (docs/network.md, "Transaction relay"). Encoding: <c>[kind: uint, items]</c>:
/// <list type="bullet">
/// <item>an announcement <c>[32, [txHash: bin32, ...]]</c>: transactions the sender admitted from a peer and did not
/// push (1..<see cref="MaxHashes"/> distinct hashes);</item>
/// <item>a request <c>[33, [txHash: bin32, ...]]</c>: announced bodies the sender wants (1..<see cref="MaxHashes"/> distinct);</item>
/// <item>the requested bodies <c>[34, transactionBatch]</c>: an ordinary <see cref="TransactionBatch"/> holding only
/// transactions the receiver asked this peer for;</item>
/// <item>neighbours <c>[35, [nodeKey: bin32, ...]]</c>: the sender's connected peers (0..<see cref="MaxNeighbours"/>
/// distinct), so a relayer skips announcing to peers its source already covers.</item>
/// </list>
/// All are bounded (<see cref="MaxEncodedSize"/>) and strictly decoded (duplicates refused).
/// </summary>
public abstract class TransactionRelayMessage : CanonicalObject<TransactionRelayMessage>, ICanonicalObject<TransactionRelayMessage>
{
    public const byte KindAnnouncement = 32, KindRequest = 33, KindBodies = 34, KindNeighbours = 35;

    /// <summary>Most hashes in one announcement or request (one full <see cref="TransactionBatch"/>).</summary>
    public const int MaxHashes = TransactionBatch.MaxCount;

    /// <summary>Most peers one neighbour list names; a node with more names the first (under-claiming only costs announcements).</summary>
    public const int MaxNeighbours = 64;

    public abstract byte Kind { get; }

    public static string KindName => "transaction relay message";

    /// <summary>The largest is a bodies message: one maximal batch plus its kind and framing.</summary>
    public static int MaxEncodedSize => TransactionBatch.MaxEncodedSize + 8;

    public static TransactionRelayMessage ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "transaction relay message");
        long kindAt = reader.Offset;
        byte kind = reader.ReadByte("transaction relay message kind");
        return kind switch
        {
            KindAnnouncement => new HashAnnouncement(ReadDistinct(ref reader, "announced hashes", MaxHashes, 1, (ref CanonicalReader r) => r.ReadHash32("transaction hash"))),
            KindRequest => new HashRequest(ReadDistinct(ref reader, "requested hashes", MaxHashes, 1, (ref CanonicalReader r) => r.ReadHash32("transaction hash"))),
            KindBodies => new RequestedBodies(TransactionBatch.ReadFrom(ref reader)),
            KindNeighbours => new PeerNeighbours(ReadDistinct(ref reader, "neighbours", MaxNeighbours, 0, (ref CanonicalReader r) => r.ReadPublicKey("node key"))),
            _ => throw reader.Error(DecodeError.InvalidValue, $"unknown transaction relay message kind {kind}", kindAt),
        };
    }

    private delegate T ItemReader<out T>(ref CanonicalReader reader);

    private static T[] ReadDistinct<T>(ref CanonicalReader reader, string what, int max, int min, ItemReader<T> read) where T : notnull
    {
        long at = reader.Offset;
        int n = reader.ReadArrayCount(what, max);
        if (n < min) throw reader.Error(DecodeError.InvalidValue, $"no {what}", at);
        var items = new T[n];
        var seen = new HashSet<T>(n);
        for (int i = 0; i < n; i++)
        {
            long itemAt = reader.Offset;
            items[i] = read(ref reader);
            if (!seen.Add(items[i])) throw reader.Error(DecodeError.InvalidValue, $"{what}: item {i} repeats an earlier one", itemAt);
        }
        return items;
    }

    /// <summary>For constructors: the same bounds the decoder enforces, so nothing is built that a peer would refuse.</summary>
    protected static IReadOnlyList<T> CheckDistinct<T>(IReadOnlyList<T> items, string what, int max, int min)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count < min || items.Count > max)
            throw new ArgumentException($"{what}: {min}..{max} items, not {items.Count}", nameof(items));
        if (items.Distinct().Count() != items.Count) throw new ArgumentException($"{what} repeat an item", nameof(items));
        return items;
    }

    protected void WriteHashes(ref MessagePackWriter writer, IReadOnlyList<Hash32> hashes)
    {
        WriteHead(ref writer);
        writer.WriteArrayHeader(hashes.Count);
        foreach (var h in hashes) writer.Write(h);
    }

    protected void WriteHead(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write(Kind);
    }
}

/// <summary>Hashes of transactions the sender admitted from a peer, offered to be fetched with a <see cref="HashRequest"/>.</summary>
public sealed class HashAnnouncement(IReadOnlyList<Hash32> hashes) : TransactionRelayMessage
{
    public IReadOnlyList<Hash32> Hashes { get; } = CheckDistinct(hashes, "announced hashes", MaxHashes, 1);
    public override byte Kind => KindAnnouncement;

    public override void WriteTo(ref MessagePackWriter writer) => WriteHashes(ref writer, Hashes);
}

/// <summary>Announced transactions the sender wants the bodies of (answered with <see cref="RequestedBodies"/>).</summary>
public sealed class HashRequest(IReadOnlyList<Hash32> hashes) : TransactionRelayMessage
{
    public IReadOnlyList<Hash32> Hashes { get; } = CheckDistinct(hashes, "requested hashes", MaxHashes, 1);
    public override byte Kind => KindRequest;

    public override void WriteTo(ref MessagePackWriter writer) => WriteHashes(ref writer, Hashes);
}

/// <summary>The answer to a <see cref="HashRequest"/>: those of the asked bodies the peer has (and offered), as one batch.</summary>
public sealed class RequestedBodies(TransactionBatch batch) : TransactionRelayMessage
{
    public TransactionBatch Batch { get; } = batch ?? throw new ArgumentNullException(nameof(batch));
    public override byte Kind => KindBodies;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        WriteHead(ref writer);
        Batch.WriteTo(ref writer);
    }
}

/// <summary>The sender's connected peers: a transaction it relays reaches each of them, pushed or announced.</summary>
public sealed class PeerNeighbours(IReadOnlyList<PublicKey> nodeKeys) : TransactionRelayMessage
{
    public IReadOnlyList<PublicKey> NodeKeys { get; } = CheckDistinct(nodeKeys, "neighbours", MaxNeighbours, 0);
    public override byte Kind => KindNeighbours;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        WriteHead(ref writer);
        writer.WriteArrayHeader(NodeKeys.Count);
        foreach (var k in NodeKeys) writer.Write(k);
    }
}
