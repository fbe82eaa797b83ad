using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Node.Host;

/// <summary>
/// The Transactions channel payload: newly admitted transactions gossiped together. Encoding: <c>[signedTx, ...]</c>,
/// 1..<see cref="MaxCount"/> items, at most <see cref="MaxEncodedSize"/> bytes, each item at most
/// <see cref="ProtocolLimits.MaxTransactionBytes"/>. A sender closes a batch before it passes <see cref="FlushBytes"/>
/// (a larger transaction travels alone), so an honest batch never nears the hard bound.
/// </summary>
public sealed class TransactionBatch : CanonicalObject<TransactionBatch>, ICanonicalObject<TransactionBatch>
{
    /// <summary>Most transactions one batch carries.</summary>
    public const int MaxCount = 512;

    /// <summary>A sender starts a new batch rather than let one grow past this many bytes of transactions.</summary>
    public const int FlushBytes = 1 << 20;

    public TransactionBatch(IReadOnlyList<SignedTransaction> transactions)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        if (transactions.Count is 0 or > MaxCount)
            throw new ArgumentException($"a batch carries 1..{MaxCount} transactions, not {transactions.Count}", nameof(transactions));
        Transactions = transactions;
    }

    public IReadOnlyList<SignedTransaction> Transactions { get; }

    public static string KindName => "transaction batch";

    /// <summary>One maximal transaction on top of a batch just under <see cref="FlushBytes"/>, plus framing.</summary>
    public static int MaxEncodedSize => FlushBytes + ProtocolLimits.MaxTransactionBytes + 16;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(Transactions.Count);
        foreach (var tx in Transactions) tx.WriteTo(ref writer);
    }

    public static TransactionBatch ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("transaction batch", MaxCount);
        if (count == 0) throw reader.Error(DecodeError.InvalidValue, "an empty transaction batch", at);
        var txs = new SignedTransaction[count];
        for (int i = 0; i < count; i++)
        {
            long start = reader.Offset;
            txs[i] = SignedTransaction.ReadFrom(ref reader);
            if (reader.Offset - start > ProtocolLimits.MaxTransactionBytes)
                throw reader.Error(DecodeError.InvalidValue, $"transaction {i} is over {ProtocolLimits.MaxTransactionBytes} bytes", start);
        }
        return new TransactionBatch(txs);
    }
}

/// <summary>
/// Transactions admitted here, waiting to be gossiped as <see cref="TransactionBatch"/>es: a batch goes out when it
/// reaches <see cref="TransactionBatch.MaxCount"/> or <see cref="TransactionBatch.FlushBytes"/>, or at the loop's next
/// tick (<see cref="Flush"/>). Thread-safe; batches leave in admission order (a sender's nonces stay in sequence).
/// Like Nagle's algorithm: batching costs latency only under load. <see cref="Add"/> says when a transaction finds the
/// buffer quiet (nothing sent for <paramref name="quietAfter"/>), so the caller flushes it at once instead of at the tick.
/// </summary>
internal sealed class TransactionGossipBuffer(Action<TransactionBatch> send, TimeProvider time, TimeSpan quietAfter)
{
    private readonly Lock _lock = new();
    private readonly List<SignedTransaction> _pending = [];
    private int _bytes;
    private long _lastSentAt = long.MinValue;

    /// <summary>Queues <paramref name="tx"/>; true when it is the first since the buffer went quiet: flush it now.</summary>
    public bool Add(SignedTransaction tx)
    {
        lock (_lock)
        {
            if (_pending.Count > 0 && _bytes + tx.Encoded.Length > TransactionBatch.FlushBytes) FlushLocked();
            bool quiet = _pending.Count == 0 && (_lastSentAt == long.MinValue || time.GetElapsedTime(_lastSentAt) >= quietAfter);
            _pending.Add(tx);
            _bytes += tx.Encoded.Length;
            if (_pending.Count == TransactionBatch.MaxCount || _bytes >= TransactionBatch.FlushBytes) FlushLocked();
            return quiet && _pending.Count > 0;
        }
    }

    public void Flush()
    {
        lock (_lock) FlushLocked();
    }

    // Under the lock: two flushes must not overtake each other on the wire (sending only queues).
    private void FlushLocked()
    {
        if (_pending.Count == 0) return;
        send(new TransactionBatch(_pending.ToArray()));
        _pending.Clear();
        _bytes = 0;
        _lastSentAt = time.GetTimestamp();
    }
}
