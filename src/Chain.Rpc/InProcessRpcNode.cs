using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Storage;

namespace Chain.Rpc;

/// <summary>
/// A single-process chain behind <see cref="IRpcNode"/>: a real <see cref="ChainExecutor"/> on the production state
/// tree and a real <see cref="Mempool"/>, with blocks produced on demand and committed with signatures from
/// every validator key it holds. No network and no consensus rounds: for tests, tools and demos.
/// </summary>
public sealed class InProcessRpcNode : IRpcNode
{
    private readonly IReadOnlyList<PrivateKey> _validatorKeys;
    private readonly Lock _produce = new();
    private readonly JellyfishProvableState _state;
    private readonly IEvidenceVerifier? _evidence;
    private readonly List<(Hash32 Hash, ReadOnlyMemory<byte> Encoded)> _pendingEvidence = new();

    /// <param name="validatorKeys">The keys of the genesis validators, in genesis order (they sign every commit).</param>
    /// <param name="produceBlockOnSubmit">When true, every admitted transaction triggers a block on a background task.</param>
    /// <param name="evidence">Checks submitted evidence (and evidence in blocks); without it POST /evidence refuses everything.</param>
    public InProcessRpcNode(Genesis genesis, IReadOnlyList<PrivateKey> validatorKeys, InferenceRunner inference, bool produceBlockOnSubmit = false,
        IEvidenceVerifier? evidence = null)
    {
        ArgumentNullException.ThrowIfNull(genesis);
        ArgumentNullException.ThrowIfNull(validatorKeys);
        if (!validatorKeys.Select(k => k.PublicKey).SequenceEqual(genesis.Validators.Validators.Select(v => v.PublicKey)))
            throw new ArgumentException("the keys are not the genesis validators' keys, in genesis order", nameof(validatorKeys));
        _validatorKeys = validatorKeys;
        var store = new InMemoryStore();
        var backend = JellyfishStateBackend.Open(store);
        _state = new JellyfishProvableState(backend);
        _evidence = evidence;
        Executor = new ChainExecutor(genesis, store, backend, inference, evidence: evidence);
        Mempool = new Mempool(Executor);
        ProduceBlockOnSubmit = produceBlockOnSubmit;
    }

    public ChainExecutor Executor { get; }
    public Mempool Mempool { get; }
    public bool ProduceBlockOnSubmit { get; set; }

    /// <summary>The last failure of a background block production, if any (tests assert it stays null).</summary>
    public Exception? BackgroundFailure { get; private set; }

    public ChainId ChainId => Executor.ChainId;
    public ExecutionParameters Parameters => Executor.Parameters;
    public BlockStore Blocks => Executor.Blocks;
    public ActiveValidators? ValidatorsAt(Height height) => Executor.ValidatorsAt(height);
    public IProvableState State => _state;
    public CommittedBlockFeed CommittedBlocks { get; } = new();

    public NodeInfo GetNodeInfo() => new(0, false, _validatorKeys[0].Address, null, Mempool.Count, Mempool.Bytes);

    public IReadOnlyList<Rejection?> SubmitTransactions(IReadOnlyList<SignedTransaction> transactions)
    {
        var rejections = Mempool.AddRange(transactions);
        if (ProduceBlockOnSubmit && rejections.Any(r => r is null)) ProduceBlockInBackground();
        return rejections;
    }

    public Rejection? SubmitTransaction(SignedTransaction transaction)
    {
        var rejection = Mempool.Add(transaction);
        if (rejection is null && ProduceBlockOnSubmit) ProduceBlockInBackground();
        return rejection;
    }

    public EvidenceAdmission SubmitEvidence(ReadOnlyMemory<byte> encoded)
    {
        if (_evidence is null) return EvidenceAdmission.Refused("this node does not check evidence");
        lock (_produce)
        {
            // Judged as the next block would judge it, against the chain as committed now.
            var check = _evidence.Check(encoded, Executor.Height.Next, Executor, b => Executor.VerifyProposal(b).Accepted, out var refusal);
            if (check is null) return EvidenceAdmission.Refused(refusal);
            if (Executor.GetEvidence(check.Hash) is not null) return EvidenceAdmission.Known(check.Hash);
            if (!_pendingEvidence.Any(e => e.Hash == check.Hash)) _pendingEvidence.Add((check.Hash, encoded.ToArray()));
            return EvidenceAdmission.Pending(check.Hash);
        }
    }

    private void ProduceBlockInBackground() => _ = Task.Run(() =>
    {
        try
        {
            ProduceBlock();
        }
        catch (Exception e)
        {
            BackgroundFailure = e;
        }
    });

    /// <summary>
    /// Builds the next block from the mempool (possibly empty), commits it with every validator's precommit,
    /// removes its transactions from the mempool and publishes it. Block times advance one second per height.
    /// </summary>
    public Block ProduceBlock()
    {
        lock (_produce)
        {
            var height = Executor.Height.Next;
            var lastCommit = height.Value == 1 ? null : Executor.Blocks.LoadCommit(Executor.Height);
            var proposer = _validatorKeys[(int)(height.Value % (ulong)_validatorKeys.Count)].Address;
            var time = Executor.Genesis.GenesisTimeMs + height.Value * 1_000;
            var evidence = _pendingEvidence.Take(ProtocolLimits.MaxEvidencePerBlock).Select(e => e.Encoded).ToList();
            var proposal = Executor.BuildBlock(new ProposalContext(time, proposer, lastCommit, evidence), Mempool.Select());
            var block = proposal.Block;
            var commit = new Commit(block.Height, new Round(0), block.Hash, _validatorKeys.Select(key =>
            {
                var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, block.Header.TimeMs + 1, key.Address);
                return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(ChainId)));
            }));
            Executor.Commit(block, commit);
            Mempool.Update(block);
            _pendingEvidence.RemoveAll(e => Executor.GetEvidence(e.Hash) is not null);
            CommittedBlocks.Publish(block);
            return block;
        }
    }
}
