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

    /// <summary>Threads <see cref="Mempool.AddRange"/> verifies a batch's signatures on (1: one after another). Default: every core.</summary>
    public int SignatureParallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>
/// Pending transactions. Admission applies the <see cref="TransactionRules"/> the state machine applies — size, chain
/// id, signature, gas limit, fee, nonce (no replays, no gaps) and funds against the committed state plus the sender's
/// pending transactions — and refuses bodies certain to fail (<see cref="TransactionRules.CheckBody"/>), whether the
/// transaction came from the RPC or by gossip. Transactions leave in fee order while each sender's nonce order is
/// kept; a full pool evicts the cheapest sender tail to admit a better-paying transaction. Infer transactions are
/// queued (bounded) for pre-execution into the <see cref="InferenceRunner"/> cache, so that BuildBlock and
/// VerifyProposal find their results ready; <see cref="RunPreExecutionAsync"/> is the worker a node runs.
/// </summary>
public sealed class Mempool
{
    private sealed record Entry(SignedTransaction Tx, ulong Fee, ulong Spend, int Bytes)
    {
        public Hash32 Hash => Tx.Hash;
        public ulong Nonce => Tx.Transaction.Nonce;
    }

    /// <summary>
    /// One sender's pending transactions by nonce, with the sum of what they spend kept as they come and go, so that
    /// admitting the next one costs the same however many the sender has pending (it summed them all: quadratic in a
    /// burst, 4 % of a loaded node's CPU with 1,700 pending per sender).
    /// </summary>
    private sealed class SenderQueue
    {
        private UInt128 _spend; // a sum of ulongs, so it cannot overflow

        public SortedList<ulong, Entry> Entries { get; } = [];

        public int Count => Entries.Count;

        public void Add(Entry entry)
        {
            Entries.Add(entry.Nonce, entry);
            _spend += entry.Spend;
        }

        public void Remove(Entry entry)
        {
            if (Entries.Remove(entry.Nonce)) _spend -= entry.Spend;
        }

        /// <summary>
        /// How many are still pending and what they spend, leaving out those below <paramref name="accountNonce"/>: just
        /// committed (the block is stored; <see cref="Mempool.Update"/> has not run yet). Those are few, and first.
        /// </summary>
        public (int Count, ulong Spend) LiveFrom(ulong accountNonce)
        {
            int stale = 0;
            UInt128 staleSpend = 0;
            var keys = Entries.Keys;
            while (stale < keys.Count && keys[stale] < accountNonce) staleSpend += Entries.Values[stale++].Spend;
            var live = _spend - staleSpend;
            return (Entries.Count - stale, live > ulong.MaxValue ? ulong.MaxValue : (ulong)live); // saturating, as Gas.Add
        }

        /// <summary>Keeps only <paramref name="kept"/> (in nonce order): one rebuild instead of one shift per removal.</summary>
        public void Keep(List<Entry> kept)
        {
            Entries.Clear();
            _spend = 0;
            Entries.Capacity = Math.Max(kept.Count, 4);
            foreach (var entry in kept) Add(entry);
        }
    }

    private readonly ILedgerView _ledger;
    private readonly InferenceRunner? _inference;
    private readonly MempoolOptions _options;
    private readonly Dictionary<Address, SenderQueue> _bySender = [];
    private readonly Dictionary<Hash32, Entry> _byHash = [];
    private readonly Channel<Hash32> _preExecution;
    private readonly Lock _lock = new();
    private readonly TransactionRules _rules;
    private readonly TransactionSignatureCache _signatures;
    private long _bytes;
    private long _updates; // Updates applied, counted under _lock: an account read before one may be stale
    private long _preExecutionDropped, _preExecuted, _preExecutionFailures;
    private int _preExecuting;

    public Mempool(ILedgerView ledger, InferenceRunner? inference = null, MempoolOptions? options = null, TransactionSignatureCache? signatures = null)
    {
        _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));
        _options = options ?? new MempoolOptions();
        // Without the node's shared cache, a cache of its own: AddRange verifies a batch's signatures into it.
        _signatures = signatures ?? new TransactionSignatureCache(Math.Max(_options.MaxTransactions, ProtocolLimits.MaxTransactionsPerBlock));
        _rules = new TransactionRules(ledger.ChainId, ledger.Parameters, _signatures);
        _inference = inference;
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

    /// <summary>Infer transactions pre-executed so far (their outcome is in the inference cache, computed or found there).</summary>
    public long PreExecuted => Interlocked.Read(ref _preExecuted);

    /// <summary>Pre-executions that threw (each also raised <see cref="PreExecutionFailed"/>); the worker went on with the next.</summary>
    public long PreExecutionFailures => Interlocked.Read(ref _preExecutionFailures);

    /// <summary>Infer transactions queued for pre-execution now.</summary>
    public int PreExecutionQueueDepth => _preExecution.Reader.Count;

    /// <summary>No Infer transaction waits for pre-execution or is being pre-executed (a block built now finds every
    /// admitted one in the cache).</summary>
    public bool PreExecutionIdle => Volatile.Read(ref _preExecuting) == 0 && _preExecution.Reader.Count == 0;

    /// <summary>Raised by the background worker each time the pre-execution queue has drained.</summary>
    public event Action? PreExecutionCaughtUp;

    /// <summary>
    /// Raised (on the worker's thread) when pre-executing a transaction threw: its hash and the exception. The transaction
    /// stays pending; block execution will run its inference itself. A node logs it.
    /// </summary>
    public event Action<Hash32, Exception>? PreExecutionFailed;

    /// <summary>The rules admission applies (the state machine's, see <see cref="TransactionRules"/>).</summary>
    public TransactionRules Rules => _rules;

    public bool Contains(Hash32 transactionHash)
    {
        lock (_lock) return _byHash.ContainsKey(transactionHash);
    }

    /// <summary>The pending transaction with this hash, or null (a node rebuilds proposed blocks from these).</summary>
    public SignedTransaction? Get(Hash32 transactionHash)
    {
        lock (_lock) return _byHash.TryGetValue(transactionHash, out var entry) ? entry.Tx : null;
    }

    /// <summary>Admits <paramref name="tx"/>, or says why not (nothing changes then).</summary>
    public Rejection? Add(SignedTransaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        int size = tx.Encoded.Length;
        // The rules outside the lock: signature and body checks are the expensive part.
        if (_rules.CheckStateless(tx) is { } invalid) return invalid;
        var t = tx.Transaction;
        if (_ledger.IsIncluded(tx.Hash)) return new(RejectCode.AlreadyIncluded, $"transaction {tx.Hash} is already in a block");
        if (Contains(tx.Hash)) return Duplicate(tx); // before the body check: gossip brings each transaction from every peer
        if (_rules.CheckBody(t, _ledger) is { } certainFailure) return certainFailure;
        // The account is read outside the lock. A block may commit and Update may drop its transactions between the read
        // and the lock: the stale nonce then sees the sender's next nonce as a gap (a stress run's client got "nonce 6,
        // expected 5" that way). Update counts itself under the lock; a read it overtook is made again, under the lock
        // (rare: only when a block raced this submission).
        long updatesSeen = Volatile.Read(ref _updates);
        var account = _ledger.GetAccount(t.SenderAddress);

        lock (_lock)
        {
            if (_updates != updatesSeen) account = _ledger.GetAccount(t.SenderAddress);
            if (_byHash.ContainsKey(tx.Hash)) return Duplicate(tx);
            _bySender.TryGetValue(t.SenderAddress, out var queue);
            // Entries below the account's nonce were just committed (the block is stored, Update has not run yet):
            // they are no longer pending for the nonce sequence or the balance.
            var (liveCount, pending) = queue?.LiveFrom(account.Nonce) ?? (0, 0UL);
            if (TransactionRules.CheckNonce(t, account, liveCount) is { } badNonce) return badNonce;
            if (TransactionRules.CheckSpend(t, account, pending) is { } overspend) return overspend;
            ulong spend = TransactionRules.Spend(t);
            if (!MakeRoom(t.SenderAddress, t.Fee, size))
                return new(RejectCode.MempoolFull, $"mempool is full ({_byHash.Count} transactions, {_bytes} bytes) and fee {t.Fee} outbids nothing evictable");

            var entry = new Entry(tx, t.Fee, spend, size);
            if (queue is null) _bySender[t.SenderAddress] = queue = new SenderQueue();
            queue.Add(entry);
            _byHash[tx.Hash] = entry;
            _bytes += size;
        }
        if (t.Body is InferBody && _inference is not null && !_preExecution.Writer.TryWrite(tx.Hash))
            Interlocked.Increment(ref _preExecutionDropped);
        return null;
    }

    /// <summary>
    /// Admits a batch (a batch submission, a gossiped batch): verifies the signatures of all of them on every core first
    /// (<see cref="MempoolOptions.SignatureParallelism"/>, into the signature cache), then admits them one by one in the
    /// given order with <see cref="Add"/>, so a sender's transactions in nonce order are admitted in sequence. One answer
    /// per transaction, in order: null when admitted, else why not. The answers are those of calling <see cref="Add"/> on
    /// each in turn; the parallel phase only saves time.
    /// </summary>
    public IReadOnlyList<Rejection?> AddRange(IReadOnlyList<SignedTransaction> transactions)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        for (int i = 0; i < transactions.Count; i++)
            if (transactions[i] is null) throw new ArgumentException($"transaction {i} is null", nameof(transactions));
        if (_options.SignatureParallelism > 1 && transactions.Count > 1)
            _signatures.Preverify(transactions, _ledger.ChainId, _options.SignatureParallelism);
        var answers = new Rejection?[transactions.Count];
        for (int i = 0; i < transactions.Count; i++) answers[i] = Add(transactions[i]);
        return answers;
    }

    private static Rejection Duplicate(SignedTransaction tx) => new(RejectCode.Duplicate, $"transaction {tx.Hash} is already pending");

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
                heads.Enqueue((sender, 0), (queue.Entries.Values[0].Fee, queue.Entries.Values[0].Hash));
            var result = new List<SignedTransaction>();
            while (result.Count < maxCount && heads.TryDequeue(out var head, out _))
            {
                var entries = _bySender[head.Sender].Entries.Values;
                result.Add(entries[head.Index].Tx);
                if (head.Index + 1 < entries.Count)
                    heads.Enqueue((head.Sender, head.Index + 1), (entries[head.Index + 1].Fee, entries[head.Index + 1].Hash));
            }
            return result;
        }
    }

    /// <summary>
    /// After <paramref name="block"/> committed: drops its transactions, then, for every sender in it, the
    /// transactions whose nonce is now stale and those its new balance can no longer pay for; then every pending staking
    /// transaction the committed staking state no longer takes (<see cref="TransactionRules.CheckStaking"/>: a slash, an
    /// unbond or a jailing can make one unincludable), with the later ones of its sender.
    /// </summary>
    public void Update(Block block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var senders = block.Transactions.Select(t => t.Transaction.SenderAddress).Distinct().ToArray();
        var accounts = senders.ToDictionary(s => s, _ledger.GetAccount);
        var included = block.Transactions.Select(t => t.Hash).ToHashSet();
        lock (_lock)
        {
            _updates++;
            // Every transaction of the block has its sender among these, so each sender's queue is walked once and
            // rebuilt once (removing entries one by one from the front of a long queue would shift it each time).
            foreach (var sender in senders)
            {
                if (!_bySender.TryGetValue(sender, out var queue)) continue;
                var account = accounts[sender];
                ulong next = account.Nonce, spend = 0;
                bool dropRest = false;
                var kept = new List<Entry>(queue.Count);
                foreach (var entry in queue.Entries.Values)
                {
                    bool drop;
                    if (included.Contains(entry.Hash) || entry.Nonce < account.Nonce) drop = true; // in the block, or stale: that nonce is used
                    else
                    {
                        spend = Gas.Add(spend, entry.Spend);
                        // A gap or an unaffordable transaction: it and every later one of the sender go.
                        drop = dropRest = dropRest || entry.Nonce != next || spend > account.Balance;
                        if (!drop) next++;
                    }
                    if (drop) Forget(entry);
                    else kept.Add(entry);
                }
                if (kept.Count == queue.Count) continue;
                if (kept.Count == 0) _bySender.Remove(sender);
                else queue.Keep(kept);
            }
        }
        DropUnincludableStaking();
    }

    // Outside the lock for the state reads; an entry removed meanwhile is skipped.
    private void DropUnincludableStaking()
    {
        List<Entry> staking;
        lock (_lock)
            staking = _byHash.Values.Where(e => e.Tx.Transaction.Body is CreateValidatorBody or BondBody or UnbondBody or UnjailBody).ToList();
        if (staking.Count == 0) return;
        var ledger = _ledger.Staking;
        ulong height = _ledger.Height.Value + 1;
        var refused = staking.Where(e => TransactionRules.CheckStaking(e.Tx.Transaction, _ledger.GetAccount(e.Tx.Transaction.SenderAddress), ledger, height) is not null).ToList();
        lock (_lock)
        {
            foreach (var entry in refused)
            {
                if (!_byHash.ContainsKey(entry.Hash)) continue;
                var queue = _bySender[entry.Tx.Transaction.SenderAddress];
                foreach (var later in queue.Entries.Values.Where(e => e.Nonce >= entry.Nonce).ToArray()) Remove(later);
            }
        }
    }

    /// <summary>
    /// Runs queued Infer pre-executions (at most <paramref name="max"/>, stopping early when <paramref name="cancellationToken"/>
    /// is cancelled) into the inference cache and returns how many ran. Skipped: transactions no longer pending, and
    /// those <see cref="TransactionRules.CheckInfer"/> says will not run (model unknown, input mismatched, too little
    /// gas). A pre-execution that throws is counted and reported (<see cref="PreExecutionFailed"/>), and the next one
    /// runs. The background worker calls this; tests call it directly for deterministic timing.
    /// </summary>
    public int PreExecutePending(int max = int.MaxValue, CancellationToken cancellationToken = default)
    {
        if (_inference is null) return 0;
        int ran = 0;
        // Counted as running from before the read: a transaction is always either queued or running until it is done.
        Interlocked.Increment(ref _preExecuting);
        try
        {
            while (ran < max && !cancellationToken.IsCancellationRequested && _preExecution.Reader.TryRead(out var hash))
                if (PreExecuteOne(hash, cancellationToken)) ran++;
        }
        finally
        {
            Interlocked.Decrement(ref _preExecuting);
        }
        return ran;
    }

    // True when it ran the inference.
    private bool PreExecuteOne(Hash32 hash, CancellationToken cancellationToken)
    {
        Entry? entry;
        lock (_lock) _byHash.TryGetValue(hash, out entry);
        if (entry?.Tx.Transaction.Body is not InferBody body) return false; // already included or evicted
        try
        {
            var check = _rules.CheckInfer(body, _ledger.GetModel);
            if (check.Status != ReceiptStatus.Success) return false; // execution will give the same verdict without running it
            var code = _ledger.GetModelCode(body.ModelId);
            if (code is null) return false;
            _inference!.Run(body.ModelId, () => code, check.Input!);
            Interlocked.Increment(ref _preExecuted);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _preExecutionFailures);
            var handler = PreExecutionFailed;
            if (handler is null) throw; // nobody to tell: never lose it silently
            handler(hash, e);
            return false;
        }
    }

    /// <summary>
    /// The background worker: waits for queued Infer transactions and pre-executes them until cancelled, when it returns
    /// (at most one inference later). Failures of single transactions are reported through <see cref="PreExecutionFailed"/>
    /// and do not stop it; without a handler the first one ends the task with that exception.
    /// </summary>
    public async Task RunPreExecutionAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _preExecution.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                PreExecutePending(int.MaxValue, cancellationToken);
                PreExecutionCaughtUp?.Invoke();
            }
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
                var tail = queue.Entries.Values[^1];
                if (victim is null || tail.Fee < victim.Fee || (tail.Fee == victim.Fee && tail.Hash.CompareTo(victim.Hash) > 0)) victim = tail;
            }
            if (victim is null || victim.Fee >= fee) return false;
            Remove(victim);
        }
        return true;
    }

    private void Remove(Entry entry)
    {
        if (!Forget(entry)) return;
        var sender = entry.Tx.Transaction.SenderAddress;
        var queue = _bySender[sender];
        queue.Remove(entry);
        if (queue.Count == 0) _bySender.Remove(sender);
    }

    // Out of the hash index and the byte count; the caller takes it out of its sender's queue.
    private bool Forget(Entry entry)
    {
        if (!_byHash.Remove(entry.Hash)) return false;
        _bytes -= entry.Bytes;
        return true;
    }
}
