using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Inference.Runtime;
using Chain.Storage;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>Read access to the committed ledger, for the mempool and RPC.</summary>
public interface ILedgerView
{
    ChainId ChainId { get; }
    ExecutionParameters Parameters { get; }
    Height Height { get; }
    Account GetAccount(Address address);
    ModelInfo? GetModel(Hash32 modelId);
    byte[]? GetModelCode(Hash32 modelId);
    bool IsIncluded(Hash32 transactionHash);

    /// <summary>The committed staking state (read only): admission checks staking transactions against it.</summary>
    StakingLedger Staking { get; }
}

/// <summary>
/// The state machine driven by consensus. <see cref="BuildBlock"/> (proposer) and <see cref="VerifyProposal"/>
/// (validator) execute a block against the committed state without writing anything; <see cref="Commit"/>
/// writes the block, its commit, receipts and state changes in one synced batch. A proposal that never
/// commits leaves no trace. See docs/execution.md.
/// </summary>
public sealed class ChainExecutor : ILedgerView, IChainHistory
{
    /// <summary>Meta key of the genesis hash the store was initialized with.</summary>
    public static ReadOnlySpan<byte> GenesisHashKey => "execution/genesis_hash"u8;

    /// <summary>Room left in a block for its header and last commit when packing transactions.</summary>
    private const int BlockEnvelopeBytes = 64 << 10;

    // AfterNext: Vals(H+2) as the block's end-block step computed it (recorded in the validator history at commit).
    private sealed record Executed(IReadOnlyList<Receipt> Receipts, IReadOnlyDictionary<Hash32, byte[]?> Changes, Hash32 StateRoot, ActiveValidators AfterNext);

    private readonly Genesis _genesis;
    private readonly IKeyValueStore _store;
    private readonly PiggybackStore _piggyback;
    private readonly IStateBackend _state;
    private readonly StateMachine _machine;
    private readonly InferenceRunner _inference;
    private readonly IEvidenceVerifier? _evidence;
    private readonly TransactionSignatureCache _signatures;
    private readonly ValidatorHistory _history;
    private readonly Dictionary<Hash32, Executed> _executed = [];
    // The executor's gate, the one serialisation rule of execution: BuildBlock, VerifyProposal and Commit run one at a
    // time, so committed state (and _executed, cleared by Commit) never changes under a build or a verification, whatever
    // thread runs it (the node verifies on a worker, builds and commits on its loop; docs/node.md).
    private readonly Lock _lock = new();
    private BlockHeader? _last;
    private bool _faulted;

    /// <summary>
    /// Opens execution on <paramref name="store"/>. An empty store is initialized with the genesis state;
    /// a used one must have been initialized with the same genesis, and its state must be at its latest block.
    /// Without an <paramref name="evidence"/> verifier, blocks that carry evidence are refused. Without a shared
    /// <paramref name="signatures"/> cache (the mempool's) the executor keeps its own, for its parallel pre-verification.
    /// </summary>
    public ChainExecutor(Genesis genesis, IKeyValueStore store, IStateBackend state, InferenceRunner inference, TransactionSignatureCache? signatures = null,
        IEvidenceVerifier? evidence = null)
    {
        _evidence = evidence;
        _genesis = genesis ?? throw new ArgumentNullException(nameof(genesis));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _state = state ?? throw new ArgumentNullException(nameof(state));
        _inference = inference ?? throw new ArgumentNullException(nameof(inference));
        _signatures = signatures ?? new TransactionSignatureCache(2 * ProtocolLimits.MaxTransactionsPerBlock);
        _machine = new StateMachine(new TransactionRules(genesis.ChainId, genesis.Parameters, _signatures));
        CacheCounters = new ExecutionCacheCounters(_machine.Rules);
        _piggyback = new PiggybackStore(store);
        Blocks = new BlockStore(_piggyback);
        _history = new ValidatorHistory(store);

        var storedGenesis = store.Get(Column.Meta, GenesisHashKey);
        if (state.Version is null)
        {
            if (storedGenesis is not null || Blocks.LatestHeight is not null)
                throw new InvalidOperationException("the store has blocks or a genesis but the state backend is empty: open the state that belongs to this store");
            var batch = new StoreBatch();
            state.Commit(0, genesis.InitialState(), batch);
            batch.Put(Column.Meta, GenesisHashKey, genesis.Hash.Bytes);
            ValidatorHistory.Record(batch, 1, genesis.InitialValidators);
            ValidatorHistory.Record(batch, 2, genesis.InitialValidators);
            store.Write(batch, sync: true);
        }
        else
        {
            if (storedGenesis is null || new Hash32(storedGenesis) != genesis.Hash)
                throw new InvalidOperationException($"the store was initialized with genesis {(storedGenesis is null ? "(none)" : new Hash32(storedGenesis).ToString())}, not {genesis.Hash}");
            ulong latest = Blocks.LatestHeight?.Value ?? 0;
            if (state.Version != latest)
                throw new InvalidOperationException($"state is at version {state.Version} but the latest stored block is {latest}");
            if (latest > 0)
            {
                _last = Blocks.LoadHeader(new Height(latest)) ?? throw new StoreCorruptedException($"header {latest} is missing");
                if (_last.StateRoot != state.Root)
                    throw new InvalidOperationException($"state root {state.Root} differs from block {latest}'s state root {_last.StateRoot}");
            }
        }
    }

    public BlockStore Blocks { get; }
    public Genesis Genesis => _genesis;

    /// <summary>Block execution's hits and misses on the inference and signature caches the mempool fills.</summary>
    public ExecutionCacheCounters CacheCounters { get; }
    public ChainId ChainId => _genesis.ChainId;
    public ExecutionParameters Parameters => _genesis.Parameters;

    /// <summary>
    /// Threads that verify a block's signatures before its sequential pass (<see cref="BuildBlock"/>, <see cref="VerifyProposal"/>,
    /// a commit that re-executes); 1 turns that phase off (every signature is then checked in the pass, one after another).
    /// The phase only fills the signature cache: verdicts are the same either way. Default: every core.
    /// </summary>
    public int SignatureParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Raised (under the executor's lock: handlers must be quick) each time a block refused on fast-path results
    /// was judged again on canonical results; see <see cref="InferenceDispute"/>.
    /// </summary>
    public event Action<InferenceDispute>? Disputed;

    /// <summary>Height of the last committed block (0 before the first).</summary>
    public Height Height => new(_last?.Height.Value ?? 0);

    /// <summary>Root of the committed state.</summary>
    public Hash32 StateRoot => _state.Root;

    public Account GetAccount(Address address) =>
        _state.Get(StateKeys.Account(address)) is { } b ? Canonical.Decode<Account>(b) : Account.Empty;

    public ModelInfo? GetModel(Hash32 modelId) =>
        _state.Get(StateKeys.Model(modelId)) is { } b ? Canonical.Decode<ModelInfo>(b) : null;

    /// <summary>A registered model's bytes, however it was registered (one value, or sealed chunks reassembled); null if unknown.</summary>
    public byte[]? GetModelCode(Hash32 modelId) => ModelUploads.LoadCode(_state.Get, modelId);

    public bool IsIncluded(Hash32 transactionHash) => Blocks.FindTransaction(transactionHash) is not null;

    /// <summary>
    /// The validators of <paramref name="height"/>: known for every committed height and the next two
    /// (a change computed while executing height H takes effect at H+2); null beyond that. Served from the validator
    /// history in the store, so it survives restarts (docs/staking.md, "History").
    /// </summary>
    public ActiveValidators? ValidatorsAt(Height height)
    {
        if (height.Value == 0 || height.Value > Height.Value + 2) return null;
        return _history.At(height.Value) ?? throw new StoreCorruptedException($"the validator set of height {height} is not recorded");
    }

    /// <summary>A validator set this node has recorded, by its hash (a header's ValidatorsHash or NextValidatorsHash).</summary>
    public ValidatorSet? ValidatorSetByHash(Hash32 hash) => _history.SetByHash(hash);

    /// <summary>The committed staking state (read only), for queries.</summary>
    public StakingLedger Staking => new(_state.Get, Parameters.Staking);

    /// <summary>A committed state value by key (with <see cref="StateRoot"/> the basis of a state proof).</summary>
    public byte[]? GetState(Hash32 key) => _state.Get(key);

    public BlockHeader? HeaderAt(Height height) => height.Value == 0 ? null : Blocks.LoadHeader(height);

    public Commit? CommitAt(Height height)
    {
        if (height.Value == 0 || height.Value > Height.Value) return null;
        return Blocks.LoadBlock(height.Next)?.LastCommit ?? Blocks.LoadCommit(height);
    }

    /// <summary>
    /// Proposer: executes <paramref name="candidates"/> in the given order (the mempool's order), leaving out
    /// any that cannot be included (and every later transaction of that sender), those over the block gas or
    /// byte limit, and fills in the header: transactions, receipts and state roots. The candidates' signatures are
    /// verified on every core first (<see cref="SignatureParallelism"/>); the pass then finds them in the cache.
    /// </summary>
    public Proposal BuildBlock(ProposalContext context, IEnumerable<SignedTransaction> candidates)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(candidates);
        lock (_lock)
        {
            ThrowIfFaulted();
            var height = Height.Next;
            // BFT time: the block's time follows from its last commit (the proposer's clock does not set it).
            ulong timeMs = ExpectedTimeMs(context.LastCommit);
            if (CheckContext(height, timeMs, context.Proposer, context.LastCommit) is { } bad)
                throw new ArgumentException($"cannot propose block {height}: {bad.Message}", nameof(context));

            var list = candidates as IReadOnlyList<SignedTransaction> ?? candidates.ToList();
            Preverify(list);
            var overlay = new StateOverlay(_state);
            // The proposer trusts its fast path (docs/determinism.md, "Who decides"): checking every result with
            // canonical would make every block wait for the slow executor.
            var inference = new InferencePass(_inference, InferenceMode.FastPath, CacheCounters);
            var included = new List<SignedTransaction>();
            var receipts = new List<Receipt>();
            var skipped = new List<SkippedTransaction>();
            var blockedSenders = new HashSet<Address>();
            var seen = new HashSet<Hash32>();
            ulong gas = 0;
            long bytes = 0;
            foreach (var tx in list)
            {
                if (included.Count == ProtocolLimits.MaxTransactionsPerBlock) break;
                var sender = tx.Transaction.SenderAddress;
                if (!seen.Add(tx.Hash)) continue;
                if (blockedSenders.Contains(sender))
                {
                    skipped.Add(new(tx, new(RejectCode.BadNonce, "an earlier transaction of this sender was left out")));
                    continue;
                }
                ulong limit = Gas.Limit(tx.Transaction, Parameters);
                if (Gas.Add(gas, limit) > Parameters.BlockGasLimit || bytes + tx.Encoded.Length > ProtocolLimits.MaxBlockBytes - BlockEnvelopeBytes)
                {
                    blockedSenders.Add(sender);
                    skipped.Add(new(tx, new(RejectCode.GasLimitTooHigh, "does not fit in the rest of the block")));
                    continue;
                }
                var (receipt, rejection) = _machine.Apply(tx, overlay, context.Proposer, height.Value, inference);
                if (rejection is not null)
                {
                    blockedSenders.Add(sender);
                    skipped.Add(new(tx, rejection));
                    continue;
                }
                gas += limit;
                bytes += tx.Encoded.Length;
                included.Add(tx);
                receipts.Add(receipt!);
            }

            var evidence = SelectEvidence(context.Evidence ?? [], height, overlay, ProtocolLimits.MaxBlockBytes - BlockEnvelopeBytes - bytes);
            var sets = CommittedSets;
            var afterNext = EndBlock(height, overlay, context.LastCommit);
            var stateRoot = _state.ComputeRoot(overlay.Changes);
            var header = new BlockHeader(ChainId, height, timeMs,
                _last?.Hash ?? Hash32.Zero, context.LastCommit?.Hash ?? Hash32.Zero,
                Block.ComputeTransactionsRoot(included), Block.ComputeReceiptsRoot(receipts), stateRoot,
                sets.Next.Hash, sets.AfterNext.Hash, Block.ComputeEvidenceRoot(evidence), context.Proposer);
            var block = new Block(header, included, context.LastCommit, evidence);
            _executed[block.Hash] = new Executed(receipts, overlay.Changes, stateRoot, afterNext);
            return new Proposal(block, receipts, skipped);
        }
    }

    /// <summary>
    /// Validator: checks <paramref name="block"/> against the committed chain and re-executes it. When the
    /// proposer's <paramref name="claimedReceipts"/> are given, the first differing receipt is named field by
    /// field; then the receipts root and the state root are compared. A refusal reached on fast-path inference
    /// results is decided again on canonical results (<see cref="Disputed"/>). Writes nothing. The block's signatures are
    /// verified on every core before the sequential pass (<see cref="SignatureParallelism"/>), which still decides in
    /// order: the same first failing transaction is reported whatever the threads did.
    /// </summary>
    public VerifyResult VerifyProposal(Block block, IReadOnlyList<Receipt>? claimedReceipts = null)
    {
        ArgumentNullException.ThrowIfNull(block);
        lock (_lock)
        {
            ThrowIfFaulted();
            // Built or verified already on this committed state (the proposal verifier, then sync or a peer's decision).
            if (claimedReceipts is null && _executed.TryGetValue(block.Hash, out var done))
                return new VerifyResult(null, done.Receipts, done.StateRoot);
            var (failure, executed) = Verify(block, claimedReceipts);
            if (failure is not null) return new VerifyResult(failure, executed?.Receipts ?? [], executed?.StateRoot ?? Hash32.Zero);
            _executed[block.Hash] = executed!;
            return new VerifyResult(null, executed!.Receipts, executed.StateRoot);
        }
    }

    /// <summary>
    /// Finalizes <paramref name="block"/>: checks that <paramref name="commit"/> finalizes it under the
    /// validator set, re-executes it if this node has not yet, and writes block, commit, receipts and state
    /// changes in one synced batch. Throws (writing nothing) if the block or commit is invalid.
    /// </summary>
    public IReadOnlyList<Receipt> Commit(Block block, Commit commit)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(commit);
        lock (_lock)
        {
            ThrowIfFaulted();
            if (block.Height != Height.Next)
                throw new InvalidOperationException($"block {block.Height} does not follow the committed height {Height}");
            if (commit.Verify(ChainId, CommittedSets.Next.Set, block.Height, block.Hash) is { } bad)
                throw new InvalidOperationException($"commit does not finalize block {block.Hash} at {block.Height}: {bad.Message}");
            if (!_executed.TryGetValue(block.Hash, out var executed))
            {
                var (failure, result) = Verify(block, null);
                if (failure is not null) throw new InvalidOperationException($"committed block {block.Hash} is invalid here: {failure.Message}");
                executed = result!;
            }

            _piggyback.Stage(batch =>
            {
                _state.Commit(block.Height.Value, executed.Changes, batch);
                ValidatorHistory.Record(batch, block.Height.Value + 2, executed.AfterNext);
            });
            try
            {
                Blocks.Save(block, commit, executed.Receipts);
            }
            catch (BlockStoreException)
            {
                _piggyback.Unstage(); // refused before writing: the state was not touched
                throw;
            }
            catch
            {
                // The state may have advanced in memory while the write failed: only a reopen is safe.
                _faulted = true;
                throw;
            }
            _last = block.Header;
            _executed.Clear();
            return executed.Receipts;
        }
    }

    // Executes the block and judges it. The fast path never decides a disagreement: when execution in
    // `mode` refuses the block after using fast-path inference results, each of those is settled by the
    // canonical executor (a difference takes that model off the fast path) and the block is executed again on
    // canonical results alone; only that verdict counts. So this node's fast path can neither refuse an honest
    // block nor make its evidence accuse an honest proposer.
    private (VerifyFailure?, Executed?) Verify(Block block, IReadOnlyList<Receipt>? claimed, InferenceMode mode = InferenceMode.FastPath)
    {
        var inference = new InferencePass(_inference, mode, CacheCounters);
        var (failure, executed) = Execute(block, claimed, inference);
        if (failure is null || !inference.ReliedOnFastPath) return (failure, executed);
        var canonical = inference.Settle(out int settled, out int differed);
        var (verdict, reexecuted) = Execute(block, claimed, canonical);
        Disputed?.Invoke(new InferenceDispute(block.Height, block.Hash, settled, differed, failure, verdict));
        return (verdict, reexecuted);
    }

    private (VerifyFailure?, Executed?) Execute(Block block, IReadOnlyList<Receipt>? claimed, InferencePass inference)
    {
        var header = block.Header;
        if (!block.ValidateBasic(ChainId, out var invalid))
            return (new(VerifyFailureKind.InvalidBlock, invalid), null);
        if (CheckContext(header.Height, header.TimeMs, header.Proposer, block.LastCommit) is { } context)
            return (context, null);
        var lastHash = _last?.Hash ?? Hash32.Zero;
        if (header.LastBlockHash != lastHash)
            return (new(VerifyFailureKind.WrongParent, $"block links to parent {header.LastBlockHash}, the committed block is {lastHash}",
                Field: "lastBlockHash", Expected: lastHash.ToString(), Actual: header.LastBlockHash.ToString()), null);
        var sets = CommittedSets;
        if (header.ValidatorsHash != sets.Next.Hash)
            return (new(VerifyFailureKind.WrongValidators, $"validators hash {header.ValidatorsHash}, the validators of height {header.Height} hash to {sets.Next.Hash}",
                Field: "validatorsHash", Expected: sets.Next.Hash.ToString(), Actual: header.ValidatorsHash.ToString()), null);
        if (header.NextValidatorsHash != sets.AfterNext.Hash)
            return (new(VerifyFailureKind.WrongValidators, $"next validators hash {header.NextValidatorsHash}, the validators of height {header.Height.Next} hash to {sets.AfterNext.Hash}",
                Field: "nextValidatorsHash", Expected: sets.AfterNext.Hash.ToString(), Actual: header.NextValidatorsHash.ToString()), null);
        // Only warms the signature cache; the pass below still checks every transaction in order and decides.
        Preverify(block.Transactions);
        var overlay = new StateOverlay(_state);
        var receipts = new List<Receipt>(block.Transactions.Count);
        ulong gas = 0;
        for (int i = 0; i < block.Transactions.Count; i++)
        {
            var tx = block.Transactions[i];
            gas = Gas.Add(gas, Gas.Limit(tx.Transaction, Parameters));
            if (gas > Parameters.BlockGasLimit)
                return (new(VerifyFailureKind.BlockGasLimit, $"transaction {i} ({tx.Hash}) takes the block's gas past {Parameters.BlockGasLimit}",
                    i, tx.Hash), null);
            var (receipt, rejection) = _machine.Apply(tx, overlay, header.Proposer, header.Height.Value, inference);
            if (rejection is not null)
                return (new(VerifyFailureKind.UnincludableTransaction, $"transaction {i} ({tx.Hash}) cannot be included: {rejection}",
                    i, tx.Hash, "code", "includable", rejection.Code.ToString()), null);
            receipts.Add(receipt!);
        }
        for (int i = 0; i < block.Evidence.Count; i++)
        {
            if (ApplyEvidence(block.Evidence[i], header.Height, overlay) is { } refusal)
                return (new(VerifyFailureKind.InvalidEvidence, $"evidence item {i}: {refusal}", Field: $"evidence[{i}]"), null);
        }
        var afterNext = EndBlock(header.Height, overlay, block.LastCommit);
        var stateRoot = _state.ComputeRoot(overlay.Changes);
        var executed = new Executed(receipts, overlay.Changes, stateRoot, afterNext);

        if (claimed is not null)
        {
            if (claimed.Count != receipts.Count)
                return (new(VerifyFailureKind.ReceiptCount, $"{claimed.Count} receipts for {receipts.Count} transactions",
                    Expected: receipts.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Actual: claimed.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)), executed);
            for (int i = 0; i < receipts.Count; i++)
                if (CompareReceipt(i, block.Transactions[i].Hash, receipts[i], claimed[i]) is { } mismatch) return (mismatch, executed);
        }
        var receiptsRoot = Block.ComputeReceiptsRoot(receipts);
        if (receiptsRoot != header.ReceiptsRoot)
            return (new(VerifyFailureKind.ReceiptsRoot, $"receipts root: header says {header.ReceiptsRoot}, execution gives {receiptsRoot}",
                Field: "receiptsRoot", Expected: receiptsRoot.ToString(), Actual: header.ReceiptsRoot.ToString()), executed);
        if (stateRoot != header.StateRoot)
            return (new(VerifyFailureKind.StateRoot, $"state root: header says {header.StateRoot}, execution gives {stateRoot}",
                Field: "stateRoot", Expected: stateRoot.ToString(), Actual: header.StateRoot.ToString()), executed);
        return (null, executed);
    }

    // Verifies the signatures of `transactions` not in the cache yet on up to SignatureParallelism threads, into the
    // cache the state machine's rules consult. Decides nothing: a failure here is found again, in order, by the pass.
    private void Preverify(IReadOnlyList<SignedTransaction> transactions)
    {
        if (SignatureParallelism <= 1 || transactions.Count == 0) return;
        CacheCounters.Preverified(_signatures.Preverify(transactions, ChainId, SignatureParallelism));
    }

    // Proposer side: the candidates that verify, within the count and byte limits; each is recorded in the overlay.
    private List<ReadOnlyMemory<byte>> SelectEvidence(IReadOnlyList<ReadOnlyMemory<byte>> candidates, Height height, StateOverlay overlay, long bytesLeft)
    {
        var chosen = new List<ReadOnlyMemory<byte>>();
        foreach (var candidate in candidates)
        {
            if (chosen.Count == ProtocolLimits.MaxEvidencePerBlock) break;
            if (candidate.Length == 0 || candidate.Length > ProtocolLimits.MaxEvidenceBytes || candidate.Length > bytesLeft) continue;
            if (chosen.Any(c => c.Span.SequenceEqual(candidate.Span))) continue;
            if (ApplyEvidence(candidate, height, overlay) is not null) continue; // stale, already included or not provable here
            chosen.Add(candidate);
            bytesLeft -= candidate.Length;
        }
        return chosen;
    }

    // Verifies one evidence item for the block at `height` and records it in state; the refusal, or null.
    // Invalid-proposal evidence is checked by re-executing the offending block on the state this block builds on,
    // with the canonical executor only: a conviction must never rest on a fast path.
    private string? ApplyEvidence(ReadOnlyMemory<byte> encoded, Height height, StateOverlay overlay)
    {
        if (_evidence is null) return "this node has no evidence verifier";
        var check = _evidence.Check(encoded, height, this, offending => Verify(offending, null, InferenceMode.CanonicalOnly).Item1 is null, out var refusal);
        if (check is null) return refusal;
        var key = StateKeys.Evidence(check.Hash);
        if (overlay.Get(key) is not null) return $"evidence {check.Hash} was already included";
        var staking = Parameters.Staking;
        if (check.OffenceHeight.Value > height.Value || height.Value - check.OffenceHeight.Value > staking.EvidenceMaxAge)
            return $"evidence of height {check.OffenceHeight} is too old for height {height} (staking evidence_max_age {staking.EvidenceMaxAge})";
        if (check.Offenders.Count == 0 || check.Offenders.Count > ProtocolLimits.MaxValidators || check.Offenders.Distinct().Count() != check.Offenders.Count)
            return $"evidence names {check.Offenders.Count} offender(s), expected 1 to {ProtocolLimits.MaxValidators} distinct";
        var ledger = new StakingLedger(overlay.Get, staking, overlay.Set);
        var slashed = check.Offenders.Select(o => StakingTransitions.Slash(ledger, o, check.Kind, check.OffenceHeight.Value, height.Value))
            .Select(o => new SlashedOffender(o.ConsensusAddress, o.Slashed)).ToList();
        overlay.Set(key, new CommittedEvidence(slashed, check.OffenceHeight.Value, height.Value, check.Kind).Encoded.ToArray());
        return null;
    }

    /// <summary>The record of included evidence, or null when that evidence was never included.</summary>
    public CommittedEvidence? GetEvidence(Hash32 evidenceHash) =>
        _state.Get(StateKeys.Evidence(evidenceHash)) is { } b ? Canonical.Decode<CommittedEvidence>(b) : null;

    // The first field where the proposer's receipt differs from ours; Expected is ours.
    private static VerifyFailure? CompareReceipt(int index, Hash32 txHash, Receipt ours, Receipt theirs)
    {
        if (ours.Equals(theirs)) return null;
        static string Hex(ReadOnlyMemory<byte> b) => Convert.ToHexStringLower(b.Span);
        (string Field, string Expected, string Actual)? diff =
            ours.TransactionHash != theirs.TransactionHash ? ("txHash", ours.TransactionHash.ToString(), theirs.TransactionHash.ToString())
            : ours.Status != theirs.Status ? ("status", ours.Status.ToString(), theirs.Status.ToString())
            : ours.GasUsed != theirs.GasUsed ? ("gasUsed", ours.GasUsed.ToString(System.Globalization.CultureInfo.InvariantCulture), theirs.GasUsed.ToString(System.Globalization.CultureInfo.InvariantCulture))
            : (ours.Inference, theirs.Inference) switch
            {
                (null, not null) => ("inference", "none", "present"),
                (not null, null) => ("inference", "present", "none"),
                ({ } a, { } b) when a.ModelId != b.ModelId => ("modelId", a.ModelId.ToString(), b.ModelId.ToString()),
                ({ } a, { } b) when a.SemanticsVersion != b.SemanticsVersion => ("semanticsVersion", a.SemanticsVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), b.SemanticsVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ({ } a, { } b) when a.InputHash != b.InputHash => ("inputHash", a.InputHash.ToString(), b.InputHash.ToString()),
                ({ } a, { } b) when a.OutputHash != b.OutputHash => ("outputHash", a.OutputHash.ToString(), b.OutputHash.ToString()),
                ({ } a, { } b) => ("output", Hex(a.Output), Hex(b.Output)),
                _ => null,
            };
        var (field, expected, actual) = diff ?? ("receipt", ours.Hash.ToString(), theirs.Hash.ToString());
        return new VerifyFailure(VerifyFailureKind.ReceiptMismatch,
            $"receipt {index} (transaction {txHash}): {field} is {actual}, execution gives {expected}", index, txHash, field, expected, actual);
    }

    private VerifyFailure? CheckContext(Height height, ulong timeMs, Address proposer, Commit? lastCommit)
    {
        var next = Height.Next;
        if (height != next)
            return new(VerifyFailureKind.WrongHeight, $"block height {height}, the next height is {next}",
                Field: "height", Expected: next.ToString(), Actual: height.ToString());
        if (!CommittedSets.Next.Set.TryGet(proposer, out _, out _))
            return new(VerifyFailureKind.UnknownProposer, $"proposer {proposer} is not a validator of height {height}", Field: "proposer", Actual: proposer.ToString());
        if (_last is null)
        {
            if (lastCommit is not null) return new(VerifyFailureKind.BadLastCommit, "the first block carries no last commit");
        }
        else
        {
            if (lastCommit is null) return new(VerifyFailureKind.BadLastCommit, $"block {height} lacks the commit for block {_last.Height}");
            var previous = ValidatorsAt(_last.Height) ?? throw new InvalidOperationException($"no validators for committed height {_last.Height}");
            if (lastCommit.Verify(ChainId, previous.Set, _last.Height, _last.Hash) is { } bad)
                return bad with { Kind = VerifyFailureKind.BadLastCommit, Message = $"last commit: {bad.Message}", Field = $"lastCommit.{bad.Field}" };
        }
        // BFT time: the first block carries the genesis time; every later one the power-weighted median of its last
        // commit's timestamps, which must be after the previous block's time (honest precommits are stamped after it).
        ulong expected = ExpectedTimeMs(lastCommit);
        if (_last is not null && expected <= _last.TimeMs)
            return new(VerifyFailureKind.BadTime, $"the last commit's median time {expected} is not after the previous block's time {_last.TimeMs}",
                Field: "lastCommit.timestamps", Expected: $"> {_last.TimeMs}", Actual: expected.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (timeMs != expected)
            return new(VerifyFailureKind.BadTime, $"block time {timeMs} is not the BFT time {expected} (genesis time, or the last commit's power-weighted median)",
                Field: "timeMs", Expected: expected.ToString(System.Globalization.CultureInfo.InvariantCulture), Actual: timeMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return null;
    }

    // The BFT time of the next block: the genesis time first, then the median of the last commit under Vals(H−1).
    // A missing or foreign commit is refused by CheckContext; here it yields a time no block can have.
    private ulong ExpectedTimeMs(Commit? lastCommit)
    {
        if (_last is null) return _genesis.GenesisTimeMs;
        if (lastCommit is null || ValidatorsAt(_last.Height) is not { } previous) return 0;
        try
        {
            return lastCommit.MedianTimeMs(previous.Set);
        }
        catch (InvalidOperationException)
        {
            return 0; // no signer in the set: Verify names the problem
        }
    }

    // Vals(H) and Vals(H+1) for the next height H, as the committed state holds them.
    private ValidatorSetsRecord CommittedSets => Staking.Sets;

    // The end-block step of block `height` on `overlay` (docs/staking.md, "End of block"); returns Vals(height+2).
    private ActiveValidators EndBlock(Height height, StateOverlay overlay, Commit? lastCommit)
    {
        new ModelUploads(overlay.Get, overlay.Set).ExpireDue(height.Value);
        var ledger = new StakingLedger(overlay.Get, Parameters.Staking, overlay.Set);
        var previous = height.Value > 1 ? ValidatorsAt(new Height(height.Value - 1))?.Set : null;
        StakingTransitions.EndBlock(ledger, overlay, height.Value, previous, lastCommit);
        return ledger.Sets.AfterNext;
    }

    private void ThrowIfFaulted()
    {
        if (_faulted) throw new InvalidOperationException("a block write failed after the state advanced; reopen the node from its store");
    }
}
