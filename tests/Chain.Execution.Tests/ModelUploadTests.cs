using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>
/// Chunked registration (docs/execution.md, "Chunked registration"): the happy path, and every hostile case refused with
/// ModelRejected and nothing changed but fee and nonce (or, for a seal refused on its bytes, the upload freed).
/// </summary>
public class ModelUploadTests
{
    // Chunk transactions are up to 1 MiB: the fixture's 64 KiB transaction limit would refuse them.
    private static readonly ExecutionParameters Big = Params with { MaxTxBytes = ProtocolLimits.MaxTransactionBytes, BlockGasLimit = 50_000_000 };

    // u8[1,1024] × s8[1024,1100]: 1,126,400 weight bytes, so two chunks (the second ~0.1 MiB).
    private static readonly byte[] Model = MatMulModel(17, k: 1024, n: 1100);
    private static readonly Hash32 ModelId = DomainHash.Compute(HashDomain.Model, Model);

    private sealed class Chain
    {
        public readonly InMemoryStateBackend State = new();
        public readonly ChainExecutor Executor;
        private readonly Dictionary<Address, ulong> _nonces = [];
        private Commit? _last;

        public Chain() => Executor = new ChainExecutor(Fixture.Genesis(Big), new InMemoryStore(), State, Runner());

        public SignedTransaction Sign(PrivateKey key, TransactionBody body)
        {
            _nonces.TryGetValue(key.Address, out ulong nonce);
            _nonces[key.Address] = nonce + 1;
            return new Transaction(Fixture.Chain, key.PublicKey, nonce, Gas.MinFee(body, Big), body).Sign(key);
        }

        /// <summary>One block of <paramref name="bodies"/>, each signed by <paramref name="key"/>; their receipt statuses.</summary>
        public ReceiptStatus[] Block(PrivateKey key, params TransactionBody[] bodies) => Block(bodies.Select(b => Sign(key, b)).ToArray());

        public ReceiptStatus[] Block(params SignedTransaction[] txs)
        {
            var (proposal, commit) = Step(Executor, txs, _last);
            _last = commit;
            Assert.Empty(proposal.Skipped);
            return proposal.Receipts.Select(r => r.Status).ToArray();
        }

        public byte[]? Get(Hash32 key) => Executor.GetState(key);
        public bool HasUpload(Address owner, Hash32 id) => Get(StateKeys.ModelUpload(owner, id)) is not null;
        public int Chunks(Address owner, Hash32 id) => Enumerable.Range(0, ProtocolLimits.MaxModelChunks).Count(i => Get(StateKeys.ModelChunk(owner, id, (uint)i)) is not null);
        public int Queued => Get(StateKeys.ModelUploads) is { } b ? Canonical.Decode<ModelUploadQueue>(b).Entries.Count : 0;
    }

    private static UploadModelChunkBody Chunk(byte[] model, Hash32 id, int index) =>
        new(id, index, model.AsSpan(index * ProtocolLimits.ModelChunkBytes, BeginModelUploadBody.ChunkLength(model.Length, index)));

    private static readonly PrivateKey Owner = User(1), Other = User(2);

    [Fact]
    public void A_model_uploaded_in_chunks_out_of_order_and_sealed_is_registered_under_its_hash_and_runs()
    {
        Assert.Equal(2, BeginModelUploadBody.ChunksFor(Model.Length));
        var chain = new Chain();
        Assert.Equal([ReceiptStatus.Success], chain.Block(Owner, new BeginModelUploadBody("big", ModelId, Model.Length)));
        Assert.Equal(1, chain.Queued);
        Assert.Equal([ReceiptStatus.Success, ReceiptStatus.Success], chain.Block(Owner, Chunk(Model, ModelId, 1), Chunk(Model, ModelId, 0)));
        Assert.Null(chain.Executor.GetModel(ModelId));
        Assert.Equal([ReceiptStatus.Success], chain.Block(Owner, new SealModelBody(ModelId, 2)));

        var info = chain.Executor.GetModel(ModelId);
        Assert.NotNull(info);
        Assert.Equal(Owner.Address, info.Owner);
        Assert.Equal("big", info.Name);
        Assert.Equal(Model, chain.Executor.GetModelCode(ModelId));
        var layout = Canonical.Decode<ModelLayout>(chain.Get(StateKeys.ModelLayout(ModelId))!);
        Assert.Equal((Owner.Address, Model.Length, 2), (layout.Owner, layout.TotalBytes, layout.ChunkCount));
        Assert.False(chain.HasUpload(Owner.Address, ModelId));
        Assert.Equal(2, chain.Chunks(Owner.Address, ModelId)); // the chunks are the model's bytes in state now
        Assert.Equal(0, chain.Queued);
        Assert.Null(chain.Get(StateKeys.ModelCode(ModelId)));

        // An Infer on it runs like on any model.
        var input = Input(5, k: 1024);
        var infer = chain.Sign(User(3), new InferBody(ModelId, input, Gas.Add(info.Gas, 10_000)));
        Assert.Equal([ReceiptStatus.Success], chain.Block(infer));

        // The same id cannot be registered twice, in chunks or at once.
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Other, new BeginModelUploadBody("again", ModelId, Model.Length)));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new BeginModelUploadBody("genesis", GenesisModelId, GenesisModelBytes.Length)));
    }

    [Fact]
    public void A_chunk_beyond_the_count_of_the_wrong_length_from_another_sender_or_replayed_is_refused_and_stores_nothing()
    {
        var chain = new Chain();
        chain.Block(Owner, new BeginModelUploadBody("big", ModelId, Model.Length));
        var root = chain.Executor.StateRoot;
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new UploadModelChunkBody(ModelId, 2, new byte[10])));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new UploadModelChunkBody(ModelId, 1, new byte[10])));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Other, Chunk(Model, ModelId, 0)));
        Assert.Equal(0, chain.Chunks(Owner.Address, ModelId));
        Assert.Equal(0, chain.Chunks(Other.Address, ModelId));

        Assert.Equal([ReceiptStatus.Success, ReceiptStatus.ModelRejected], chain.Block(Owner, Chunk(Model, ModelId, 0), Chunk(Model, ModelId, 0)));
        // A replay with other bytes under the same index does not overwrite the first.
        var forged = new UploadModelChunkBody(ModelId, 0, new byte[ProtocolLimits.ModelChunkBytes]);
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, forged));
        Assert.Equal(Model.AsSpan(0, ProtocolLimits.ModelChunkBytes).ToArray(), chain.Get(StateKeys.ModelChunk(Owner.Address, ModelId, 0)));
        Assert.NotEqual(root, chain.Executor.StateRoot);

        // A chunk for an upload that does not exist.
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new UploadModelChunkBody(GenesisModelId, 0, new byte[1])));
    }

    [Fact]
    public void Only_the_manifests_sender_seals_and_a_seal_before_every_chunk_or_with_a_wrong_count_keeps_the_upload()
    {
        var chain = new Chain();
        chain.Block(Owner, new BeginModelUploadBody("big", ModelId, Model.Length), Chunk(Model, ModelId, 0));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Other, new SealModelBody(ModelId, 2)));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new SealModelBody(ModelId, 2)));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, Chunk(Model, ModelId, 1), new SealModelBody(ModelId, 1))[1..]);
        Assert.True(chain.HasUpload(Owner.Address, ModelId));
        Assert.Equal(2, chain.Chunks(Owner.Address, ModelId));
        Assert.Null(chain.Executor.GetModel(ModelId));

        Assert.Equal([ReceiptStatus.Success], chain.Block(Owner, new SealModelBody(ModelId, 2)));
        Assert.NotNull(chain.Executor.GetModel(ModelId));
    }

    [Fact]
    public void Two_senders_upload_the_same_model_the_first_seal_wins_and_the_second_is_freed()
    {
        var chain = new Chain();
        chain.Block(Owner, new BeginModelUploadBody("a", ModelId, Model.Length), Chunk(Model, ModelId, 0), Chunk(Model, ModelId, 1));
        chain.Block(Other, new BeginModelUploadBody("b", ModelId, Model.Length), Chunk(Model, ModelId, 0), Chunk(Model, ModelId, 1));
        Assert.Equal(2, chain.Queued);
        Assert.Equal([ReceiptStatus.Success], chain.Block(Other, new SealModelBody(ModelId, 2)));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new SealModelBody(ModelId, 2)));
        Assert.Equal(Other.Address, chain.Executor.GetModel(ModelId)!.Owner);
        Assert.False(chain.HasUpload(Owner.Address, ModelId));
        Assert.Equal(0, chain.Chunks(Owner.Address, ModelId));
        Assert.Equal(2, chain.Chunks(Other.Address, ModelId));
        Assert.Equal(0, chain.Queued);
    }

    [Fact]
    public void A_seal_whose_bytes_do_not_hash_to_the_declared_id_is_refused_and_frees_the_chunks()
    {
        var chain = new Chain();
        var claimed = DomainHash.Compute(HashDomain.Model, "not the model"u8);
        chain.Block(Owner, new BeginModelUploadBody("liar", claimed, Model.Length), Chunk(Model, claimed, 0), Chunk(Model, claimed, 1));
        Assert.Equal(2, chain.Chunks(Owner.Address, claimed));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new SealModelBody(claimed, 2)));
        Assert.False(chain.HasUpload(Owner.Address, claimed));
        Assert.Equal(0, chain.Chunks(Owner.Address, claimed));
        Assert.Equal(0, chain.Queued);
        Assert.Null(chain.Executor.GetModel(claimed));
        Assert.Null(chain.Executor.GetModel(ModelId));
    }

    [Fact]
    public void A_seal_that_admission_refuses_frees_the_chunks()
    {
        var refused = RefusedModel();
        var id = DomainHash.Compute(HashDomain.Model, refused);
        var chain = new Chain();
        chain.Block(Owner, new BeginModelUploadBody("bad", id, refused.Length), new UploadModelChunkBody(id, 0, refused));
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new SealModelBody(id, 1)));
        Assert.False(chain.HasUpload(Owner.Address, id));
        Assert.Equal(0, chain.Chunks(Owner.Address, id));
        Assert.Null(chain.Executor.GetModel(id));
        // Freed: the same sender may start again.
        Assert.Equal([ReceiptStatus.Success], chain.Block(Owner, new BeginModelUploadBody("bad", id, refused.Length)));
    }

    [Fact]
    public void An_unsealed_upload_expires_at_its_stated_height_and_its_chunks_are_deleted_in_the_end_block_step()
    {
        var chain = new Chain();
        chain.Block(Owner, new BeginModelUploadBody("slow", ModelId, Model.Length), Chunk(Model, ModelId, 0)); // height 1
        var upload = Canonical.Decode<ModelUpload>(chain.Get(StateKeys.ModelUpload(Owner.Address, ModelId))!);
        Assert.Equal(1 + ProtocolLimits.ModelUploadExpiryHeights, upload.ExpiresAt);
        while (chain.Executor.Height.Value < upload.ExpiresAt - 1) chain.Block();
        Assert.True(chain.HasUpload(Owner.Address, ModelId));
        Assert.Equal(1, chain.Chunks(Owner.Address, ModelId));

        // Block ExpiresAt: the upload takes nothing more, and its end-block step deletes it.
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, Chunk(Model, ModelId, 1)));
        Assert.False(chain.HasUpload(Owner.Address, ModelId));
        Assert.Equal(0, chain.Chunks(Owner.Address, ModelId));
        Assert.Equal(0, chain.Queued);
        Assert.Equal([ReceiptStatus.ModelRejected], chain.Block(Owner, new SealModelBody(ModelId, 2)));
    }

    [Fact]
    public void A_sender_holds_at_most_the_stated_number_of_unsealed_uploads()
    {
        var chain = new Chain();
        var bodies = Enumerable.Range(0, ProtocolLimits.MaxPendingModelUploadsPerSender + 1)
            .Select(i => (TransactionBody)new BeginModelUploadBody("m", DomainHash.Compute(HashDomain.Model, [(byte)i]), 1)).ToArray();
        var statuses = chain.Block(Owner, bodies);
        Assert.All(statuses[..^1], s => Assert.Equal(ReceiptStatus.Success, s));
        Assert.Equal(ReceiptStatus.ModelRejected, statuses[^1]);
        Assert.Equal(ProtocolLimits.MaxPendingModelUploadsPerSender, chain.Queued);
    }

    [Fact]
    public void Upload_gas_is_per_byte_for_a_chunk_and_per_chunk_for_the_seal()
    {
        var manifest = new BeginModelUploadBody("m", ModelId, Model.Length);
        Assert.Equal(Big.TransferGas, Gas.Limit(manifest, Big));
        Assert.Equal(Big.TransferGas + (ulong)ProtocolLimits.ModelChunkBytes * Big.ModelByteGas, Gas.Limit(Chunk(Model, ModelId, 0), Big));
        Assert.Equal(Big.TransferGas + 2 * Big.RegisterModelGas, Gas.Limit(new SealModelBody(ModelId, 2), Big));
        Assert.Equal(Gas.Limit(manifest, Big) * Big.GasPrice, Gas.MinFee(manifest, Big));
    }
}

/// <summary>The engine's model cache: a model is parsed, admitted and planned once, then found loaded (hits, misses, bytes).</summary>
public class ModelCacheTests
{
    [Fact]
    public void Inferences_on_one_model_load_it_once_and_count_hits_misses_and_bytes()
    {
        var model = MatMulModel(23);
        var id = Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, model);
        using var engine = new Inference.Runtime.InferenceEngine(enableFastPath: false);
        var runner = new InferenceRunner(engine);
        int loads = 0;
        var outputs = Enumerable.Range(0, 3).Select(seed => runner.Run(id, () => { loads++; return model; },
            Canonical.Decode<Inference.Tensor>(Input(seed)))).ToList();
        Assert.All(outputs, o => Assert.True(o.Succeeded, o.Error));
        Assert.Equal(1, loads);
        Assert.Equal((1L, 2L), (engine.ModelCacheMisses, engine.ModelCacheHits));
        Assert.Equal(Inference.Runtime.InferenceEngine.ChargedBytes(model.Length, fastPath: false), engine.ModelCacheBytes);
        Assert.Equal(1, engine.LoadedModels);

        // A second runner on the same engine (another node component) finds the model loaded.
        var other = new InferenceRunner(engine).Run(id, () => throw new InvalidOperationException("must not reload"), Canonical.Decode<Inference.Tensor>(Input(0)));
        Assert.True(other.SameResult(outputs[0]));
        Assert.Equal(3L, engine.ModelCacheHits);
    }
}
