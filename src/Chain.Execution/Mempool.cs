using System.Threading.Channels;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;

namespace Chain.Execution;

/// <summary>Mempool limits. Defaults fit a devnet node; see docs/execution.md, "Mempool".</summary>
public sealed record MempoolOptions
{
    public int MaxTransactions { get; init; } = 10_000;
    public long MaxBytes { get; init; } = 128L << 20;

    /// <summary>Infer transactions waiting for pre-execution; beyond it new ones are not pre-executed (only slower later).</summary>
    public int PreExecutionQueueCapacity { get; init; } = 1024;
}

/// <summary>
/// Pending transactions. Admission checks size, chain id, signature, fee, nonce (no replays, no gaps) and
/// balance against the committed state plus the sender's pending transactions. Transactions leave in fee
/// order while each sender's nonce order is kept; a full pool evicts the cheapest sender tail to admit a
/// better-paying transaction. Infer transactions are queued (bounded) for pre-execution into the
/// <see cref="InferenceRunner"/> cache, so that BuildBlock and VerifyProposal find their results ready.
/// </summary>
public sealed class Mempool
{
    private sealed record Entry(SignedTransaction Tx, ulong Fee, ulong Spend, int Bytes)
    {
        public Hash32 Hash => Tx.Hash;
        public ulong Nonce => Tx.Transaction.Nonce;
    }

    private readonly ILedgerView _ledger;
    private readonly InferenceRunner? _inference;
    private readonly MempoolOptions _options;
    private readonly Dictionary<Address, SortedList<ulong, Entry>> _bySender = [];
    private readonly Dictionary<Hash32, Entry> _byHash = [];
    private readonly Channel<Hash32> _preExecution;
    private readonly Lock _lock = new();
    private readonly TransactionSignatureCache? _signatures;
    private long _bytes;
    private long _preExecutionDropped;

    public Mempool(ILedgerView ledger, InferenceRunner? inference = null, MempoolOptions? options = null, TransactionSignatureCache? signatures = null)
    {
        _signatures = signatures;
        _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));
        _inference = inference;
        _options = options ?? new MempoolOptions();
        _preExecution = Channel.CreateBounded<Hash32>(new BoundedChannelOptions(_options.PreExecutionQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: a full queue refuses, and we count it
            SingleReader = false,
            SingleWriter = false,
        });
    }

    public int Count
    {
        get { lock (_lock) return _byHash.Count; }
    }

    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    /// <summary>Infer transactions not queued for pre-execution because the queue was full.</summary>
    public long PreExecutionDropped => Interlocked.Read(ref _preExecutionDropped);

    public bool Contains(Hash32 transactionHash)
    {
        lock (_lock) return _byHash.ContainsKey(transactionHash);
    }

    /// <summary>Admits <paramref name="tx"/>, or says why not (nothing changes then).</summary>
    public Rejection? Add(SignedTransaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        var p = _ledger.Parameters;
        int size = tx.Encoded.Length;
        if (size > p.MaxTxBytes) return new(RejectCode.TooLarge, $"transaction is {size} bytes, the limit is {p.MaxTxBytes}");
        // Signature and ledger checks outside the lock: they are the expensive part.
        if (!(_signatures?.Verify(tx, _ledger.ChainId, out var reason) ?? tx.Verify(_ledger.ChainId, out reason)))
            return new(tx.Transaction.ChainId != _ledger.ChainId ? RejectCode.WrongChainId : RejectCode.InvalidSignature, reason);
        var t = tx.Transaction;
        ulong limit = Gas.Limit(t, p);
        if (limit > p.BlockGasLimit) return new(RejectCode.GasLimitTooHigh, $"gas limit {limit} exceeds the block gas limit {p.BlockGasLimit}");
        ulong minFee = Gas.MinFee(t, p);
        if (t.Fee < minFee) return new(RejectCode.FeeTooLow, $"fee {t.Fee} is below the minimum {minFee}");
        if (_ledger.IsIncluded(tx.Hash)) return new(RejectCode.AlreadyIncluded, $"transaction {tx.Hash} is already in a block");
        var account = _ledger.GetAccount(t.SenderAddress);
        ulong spend = Gas.Add(t.Fee, t.Body is TransferBody transfer ? transfer.Amount : 0);

        lock (_lock)
        {
            if (_byHash.ContainsKey(tx.Hash)) return new(RejectCode.Duplicate, $"transaction {tx.Hash} is already pending");
            if (t.Nonce < account.Nonce)
                return new(RejectCode.BadNonce, $"nonce {t.Nonce} is below the account's next nonce {account.Nonce} (a replay)");
            _bySender.TryGetValue(t.SenderAddress, out var queue);
            // Entries below the account's nonce were just committed (the block is stored, Update has not run yet):
            // they are no longer pending for the nonce sequence or the balance.
            var live = queue?.Where(e => e.Key >= account.Nonce).Select(e => e.Value).ToList() ?? [];
            ulong expected = account.Nonce + (ulong)live.Count;
            if (t.Nonce != expected)
                return new(RejectCode.BadNonce, $"nonce {t.Nonce}, expected {expected} (the next after {live.Count} pending)");
            ulong pending = live.Aggregate(0UL, (s, e) => Gas.Add(s, e.Spend));
            if (Gas.Add(pending, spend) > account.Balance)
                return pending == 0
                    ? new(RejectCode.InsufficientFunds, $"{t.SenderAddress} has {account.Balance}, the transaction spends {spend}")
                    : new(RejectCode.PendingOverspend, $"{t.SenderAddress} has {account.Balance}; pending transactions spend {pending}, this one {spend}");
            if (!MakeRoom(t.SenderAddress, t.Fee, size))
                return new(RejectCode.MempoolFull, $"mempool is full ({_byHash.Count} transactions, {_bytes} bytes) and fee {t.Fee} outbids nothing evictable");

            var entry = new Entry(tx, t.Fee, spend, size);
            if (queue is null) _bySender[t.SenderAddress] = queue = [];
            queue.Add(t.Nonce, entry);
            _byHash[tx.Hash] = entry;
            _bytes += size;
        }
        if (t.Body is InferBody && _inference is not null && !_preExecution.Writer.TryWrite(tx.Hash))
            Interlocked.Increment(ref _preExecutionDropped);
        return null;
    }

    /// <summary>
    /// Pending transactions best fee first (ties by transaction hash, so every node orders alike), with each
    /// sender's transactions in nonce order: a sender's next transaction competes only once the previous one is out.
    /// </summary>
    public IReadOnlyList<SignedTransaction> Select(int maxCount = int.MaxValue)
    {
        lock (_lock)
        {
            var heads = new PriorityQueue<(Address Sender, int Index), (ulong Fee, Hash32 Hash)>(
                Comparer<(ulong Fee, Hash32 Hash)>.Create((a, b) => a.Fee != b.Fee ? b.Fee.CompareTo(a.Fee) : a.Hash.CompareTo(b.Hash)));
            foreach (var (sender, queue) in _bySender)
                heads.Enqueue((sender, 0), (queue.Values[0].Fee, queue.Values[0].Hash));
            var result = new List<SignedTransaction>();
            while (result.Count < maxCount && heads.TryDequeue(out var head, out _))
            {
                var queue = _bySender[head.Sender];
                result.Add(queue.Values[head.Index].Tx);
                if (head.Index + 1 < queue.Count)
                    heads.Enqueue((head.Sender, head.Index + 1), (queue.Values[head.Index + 1].Fee, queue.Values[head.Index + 1].Hash));
            }
            return result;
        }
    }

    /// <summary>
    /// After <paramref name="block"/> committed: drops its transactions, then, for every sender in it, the
    /// transactions whose nonce is now stale and those its new balance can no longer pay for.
    /// </summary>
    public void Update(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var senders = block.Transactions.Select(t => t.Transaction.SenderAddress).Distinct().ToArray();
        var accounts = senders.ToDictionary(s => s, _ledger.GetAccount);
        lock (_lock)
        {
            foreach (var tx in block.Transactions)
                if (_byHash.TryGetValue(tx.Hash, out var entry)) Remove(entry);
            foreach (var sender in senders)
            {
                if (!_bySender.TryGetValue(sender, out var queue)) continue;
                var account = accounts[sender];
                ulong next = account.Nonce, spend = 0;
                bool dropRest = false;
                foreach (var entry in queue.Values.ToArray())
                {
                    if (entry.Nonce < account.Nonce) { Remove(entry); continue; } // stale: that nonce is used
                    spend = Gas.Add(spend, entry.Spend);
                    // A gap or an unaffordable transaction: it and every later one of the sender go.
                    if (dropRest || entry.Nonce != next || spend > account.Balance) { dropRest = true; Remove(entry); continue; }
                    next++;
                }
            }
        }
    }

    /// <summary>
    /// Runs queued Infer pre-executions (at most <paramref name="max"/>) into the inference cache and returns
    /// how many ran. The background worker calls this; tests call it directly for deterministic timing.
    /// </summary>
    public int PreExecutePending(int max = int.MaxValue)
    {
        if (_inference is null) return 0;
        int ran = 0;
        while (ran < max && _preExecution.Reader.TryRead(out var hash))
        {
            Entry? entry;
            lock (_lock) _byHash.TryGetValue(hash, out entry);
            if (entry?.Tx.Transaction.Body is not InferBody body) continue; // already included or evicted
            var model = _ledger.GetModel(body.ModelId);
            if (model is null) continue; // maybe registered later; execution will compute it then
            if (!Canonical.TryDecode<Tensor>(body.Input, out var input, out _) || input is null || !model.Input.Matches(input)) continue;
            if (Gas.Add(Gas.InferIntrinsic(body, _ledger.Parameters), model.Gas) > body.MaxGas) continue;
            var code = _ledger.GetModelCode(body.ModelId);
            if (code is null) continue;
            _inference.Run(body.ModelId, () => code, input);
            ran++;
        }
        return ran;
    }

    /// <summary>The background worker: waits for queued Infer transactions and pre-executes them until cancelled.</summary>
    public async Task RunPreExecutionAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _preExecution.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                PreExecutePending();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // Evicts the cheapest sender tails (never the new transaction's own sender, whose chain it extends)
    // while the pool is over a limit and the victim pays strictly less than the newcomer.
    private bool MakeRoom(Address sender, ulong fee, int size)
    {
        if (size > _options.MaxBytes) return false;
        while (_byHash.Count + 1 > _options.MaxTransactions || _bytes + size > _options.MaxBytes)
        {
            Entry? victim = null;
            foreach (var (other, queue) in _bySender)
            {
                if (other == sender) continue;
                var tail = queue.Values[^1];
                if (victim is null || tail.Fee < victim.Fee || (tail.Fee == victim.Fee && tail.Hash.CompareTo(victim.Hash) > 0)) victim = tail;
            }
            if (victim is null || victim.Fee >= fee) return false;
            Remove(victim);
        }
        return true;
    }

    private void Remove(Entry entry)
    {
        var sender = entry.Tx.Transaction.SenderAddress;
        if (!_byHash.Remove(entry.Hash)) return;
        _bytes -= entry.Bytes;
        var queue = _bySender[sender];
        queue.Remove(entry.Nonce);
        if (queue.Count == 0) _bySender.Remove(sender);
    }
}
