using System.Buffers;
using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// Transaction hashes whose signatures this node has already verified for its chain. The hash covers
/// the transaction and its signature, so a hit means these exact bytes verified before (in the mempool,
/// typically) and re-executing them in a block need not check the signature again. Only an
/// accelerator: a miss verifies as usual. Bounded; the oldest entries leave first.
/// <see cref="Preverify"/> fills it for a whole batch (a block, a batch submission) on every core; the checks that decide
/// still call <see cref="Verify(SignedTransaction, ChainId, out string)"/> one by one, in their own order.
/// </summary>
public sealed class TransactionSignatureCache(int capacity = 100_000)
{
    private readonly HashSet<Hash32> _verified = [];
    private readonly Queue<Hash32> _order = new();
    private readonly Lock _lock = new();

    public int Count
    {
        get { lock (_lock) return _verified.Count; }
    }

    /// <summary>Verifies <paramref name="tx"/> for <paramref name="chainId"/>, consulting and filling the cache.</summary>
    public bool Verify(SignedTransaction tx, ChainId chainId, out string reason) => Verify(tx, chainId, out reason, out _);

    /// <summary>As <see cref="Verify(SignedTransaction, ChainId, out string)"/>; <paramref name="cached"/>: the answer came from the cache.</summary>
    public bool Verify(SignedTransaction tx, ChainId chainId, out string reason, out bool cached)
    {
        ArgumentNullException.ThrowIfNull(tx);
        cached = false;
        var hash = tx.Hash;
        lock (_lock)
        {
            if (_verified.Contains(hash) && tx.Transaction.ChainId == chainId)
            {
                reason = "";
                cached = true;
                return true;
            }
        }
        if (!tx.Verify(chainId, out reason)) return false;
        lock (_lock)
        {
            if (capacity > 0 && _verified.Add(hash))
            {
                _order.Enqueue(hash);
                while (_order.Count > capacity) _verified.Remove(_order.Dequeue());
            }
        }
        return true;
    }

    /// <summary>The most entries kept (0: nothing is cached).</summary>
    public int Capacity => capacity;

    /// <summary>
    /// Verifies the signatures of those of <paramref name="transactions"/> (the first <see cref="Capacity"/> of them) that are
    /// for <paramref name="chainId"/> and not cached yet, on up to <paramref name="maxDegreeOfParallelism"/> threads (the
    /// calling one included), and caches the ones that verify. Returns how many it verified and cached. It only warms the
    /// cache: it decides nothing and reports no failure, so a caller's verdicts — from <see cref="Verify(SignedTransaction, ChainId, out string)"/>
    /// afterwards, in the caller's order — are those it would reach without it, whatever the thread schedule. A
    /// transaction that fails here is simply verified again (and refused) by that call.
    /// </summary>
    public int Preverify(IReadOnlyList<SignedTransaction> transactions, ChainId chainId, int maxDegreeOfParallelism)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        int n = Math.Min(transactions.Count, capacity); // more would evict this batch's own first entries
        if (n == 0) return 0;
        // Hashes on this thread, outside the lock: SignedTransaction fills its hash lazily, in a field that is not safe
        // to fill from two threads at once (a block may hold the same object twice).
        for (int i = 0; i < n; i++) _ = (transactions[i] ?? throw new ArgumentException($"transaction {i} is null", nameof(transactions))).Hash;
        var todo = ArrayPool<int>.Shared.Rent(n);
        var verified = ArrayPool<bool>.Shared.Rent(n);
        try
        {
            int count = 0;
            lock (_lock)
            {
                for (int i = 0; i < n; i++)
                {
                    var tx = transactions[i];
                    if (tx.Transaction.ChainId == chainId && !_verified.Contains(tx.Hash)) todo[count++] = i;
                }
            }
            if (count == 0) return 0;
            if (maxDegreeOfParallelism <= 1 || count == 1)
            {
                for (int j = 0; j < count; j++) verified[j] = transactions[todo[j]].Verify(chainId, out _);
            }
            else
            {
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism },
                    j => verified[j] = transactions[todo[j]].Verify(chainId, out _));
            }
            int added = 0;
            lock (_lock)
            {
                for (int j = 0; j < count; j++)
                {
                    if (!verified[j] || !_verified.Add(transactions[todo[j]].Hash)) continue;
                    _order.Enqueue(transactions[todo[j]].Hash);
                    added++;
                }
                while (_order.Count > capacity) _verified.Remove(_order.Dequeue());
            }
            return added;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(todo);
            ArrayPool<bool>.Shared.Return(verified);
        }
    }
}
