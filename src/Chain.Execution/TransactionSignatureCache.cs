using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// Transaction hashes whose signatures this node has already verified for its chain. The hash covers
/// the transaction and its signature, so a hit means these exact bytes verified before (in the mempool,
/// typically) and re-executing them in a block need not check the signature again. Only an
/// accelerator: a miss verifies as usual. Bounded; the oldest entries leave first.
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
}
