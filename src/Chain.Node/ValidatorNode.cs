using Chain.Consensus;
using Chain.Consensus.Storage;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Storage;

namespace Chain.Node;

/// <summary>
/// Execution as consensus sees it: the proposer builds from its mempool on top of its last stored block,
/// and a validator accepts a proposal only if re-executing it (inference included) gives the header's roots.
/// </summary>
internal sealed class ExecutionApplication(ChainExecutor executor, Mempool mempool, int maxTransactions, Func<IReadOnlyList<ReadOnlyMemory<byte>>> pendingEvidence)
    : IBlockApplication
{
    public Block BuildBlock(Height height, Round round, Address proposer, ulong nowMs)
    {
        var last = executor.Height.Value == 0 ? null : executor.Blocks.LoadHeader(executor.Height);
        var lastCommit = last is null ? null : executor.Blocks.LoadCommit(last.Height);
        ulong time = Math.Max(nowMs, last is null ? 0 : last.TimeMs + 1);
        return executor.BuildBlock(new ProposalContext(time, proposer, lastCommit, pendingEvidence()), mempool.Select(maxTransactions)).Block;
    }

    public bool VerifyProposal(Block block, out string reason)
    {
        var verdict = executor.VerifyProposal(block);
        reason = verdict.Failure?.ToString() ?? "";
        return verdict.Accepted;
    }
}

/// <summary>
/// One validator: its RocksDB store (blocks, receipts, state tree), executor, mempool, consensus runner
/// (WAL and signer guard on disk) and the application adapter. The host drives it with events.
/// </summary>
public sealed class ValidatorNode : IDisposable
{
    private readonly RocksDbStore _rocks;
    private readonly IKeyValueStore _store;
    private readonly DiskFileSystem _files;
    private readonly ExecutionApplication _app;

    public ValidatorNode(string name, string home, Genesis genesis, PrivateKey key, InferenceEngine engine, TimeoutConfig timeouts, ulong nowMs,
        out IReadOnlyList<ConsensusAction> startActions, int maxBlockTransactions = 500, MempoolOptions? mempool = null,
        Func<IKeyValueStore, IKeyValueStore>? wrapStore = null)
    {
        Name = name;
        Key = key;
        Directory.CreateDirectory(home);
        _rocks = RocksDbStore.Open(Path.Combine(home, "db"));
        try
        {
            _store = wrapStore is null ? _rocks : wrapStore(_rocks);
            var signatures = new TransactionSignatureCache();
            var inference = Inference = new InferenceRunner(engine);
            State = JellyfishStateBackend.Open(_store);
            Executor = new ChainExecutor(genesis, _store, State, inference, signatures,
                new EvidenceVerifier(genesis.ChainId));
            // One signature cache and one inference runner for the mempool and the executor: what admission verified and
            // pre-execution computed, block building and verification find done (ChainExecutor.CacheCounters).
            Mempool = new Mempool(Executor, inference, mempool, signatures);
            // Evidence this validator saw (pooled by the consensus runner) goes into the blocks it proposes.
            _app = new ExecutionApplication(Executor, Mempool, maxBlockTransactions,
                () => Consensus!.Evidence.Pending(ProtocolLimits.MaxEvidencePerBlock).Select(e => e.Encoded).ToList());
            _files = new DiskFileSystem();
            // The engine follows the executor's set of each height; a key outside it observes and signs nothing.
            var config = new ConsensusConfig(genesis.ChainId, Executor, timeouts);
            Consensus = ConsensusRunner.Open(config, key, _files, Path.Combine(home, "consensus"),
                new Height(Executor.Height.Value + 1), nowMs, out startActions);
        }
        catch
        {
            // A refused start (a damaged signer state, a bad WAL...) must not leave the store locked.
            _rocks.Dispose();
            throw;
        }
    }

    public string Name { get; }
    public PrivateKey Key { get; }
    public ChainExecutor Executor { get; }
    /// <summary>The authenticated state tree (proofs for the RPC).</summary>
    public JellyfishStateBackend State { get; }
    public InferenceRunner Inference { get; }
    public Mempool Mempool { get; }
    public ConsensusRunner Consensus { get; }
    public Address Address => Key.Address;

    /// <summary>
    /// Answers build/verify requests synchronously; null for other actions. <see cref="Host.FullNode"/> builds with it on
    /// its loop and verifies on its proposal verifier's worker instead (re-execution must not hold up the loop).
    /// </summary>
    public ConsensusEvent? Answer(ConsensusAction action, ulong nowMs) => _app.Answer(action, Address, nowMs);

    /// <summary>Stores a decided block (idempotent: WAL replay may decide it again) and prunes the mempool.</summary>
    /// <returns>The block's receipts as stored (those already stored when it was stored before).</returns>
    public IReadOnlyList<Receipt> CommitBlock(Block block, Commit commit)
    {
        if (block.Height.Value <= Executor.Height.Value) return Executor.Blocks.LoadReceipts(block.Height);
        var receipts = Executor.Commit(block, commit);
        Mempool.Update(block);
        Consensus.Evidence.MarkCommitted(block.Evidence.Select(e => Evidence.HashOf(e.Span)));
        Consensus.Evidence.Prune(block.Height.Next);
        return receipts;
    }

    public void Dispose()
    {
        _rocks.Dispose();
        _files.Dispose();
    }
}
