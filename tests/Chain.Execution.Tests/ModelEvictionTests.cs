using Chain.Core;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Testing;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>
/// The model cache may evict a model between running it on the fast path and settling that result (a block that
/// disagreed): settling loads it again from the bytes and the canonical executor still decides.
/// </summary>
public class ModelEvictionTests
{
    private static readonly byte[] Other = MatMulModel(7);
    private static readonly Hash32 OtherId = Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, Other);

    private static Tensor TensorOf(byte[] encoded) => Core.Codec.Canonical.Decode<Tensor>(encoded);

    [Fact]
    public void A_fast_path_result_is_settled_after_its_model_was_evicted()
    {
        var rare = TensorOf(Input(4242));
        var fakes = new List<FlippingFastPath>();
        // Room for one model on the fast path.
        var engine = new InferenceEngine(fastPathFactory: bytes =>
        {
            var fast = new FlippingFastPath(bytes, rare.Hash);
            fakes.Add(fast);
            return fast;
        }, modelCacheBytes: InferenceEngine.ChargedBytes(GenesisModelBytes.Length, fastPath: true));
        var runner = new InferenceRunner(engine);

        var quick = runner.Run(GenesisModelId, () => GenesisModelBytes, rare);
        Assert.True(quick.FastPath);
        Assert.Equal(1, fakes.Single(f => f.ModelId == GenesisModelId).Flips);
        runner.Run(OtherId, () => Other, TensorOf(Input(1)));
        Assert.False(engine.IsLoaded(GenesisModelId));
        Assert.Equal(1, engine.ModelCacheEvictions);

        var settled = runner.Settle(GenesisModelId, () => GenesisModelBytes, rare, quick);
        Assert.False(settled.FastPath);
        Assert.False(settled.SameResult(quick)); // the flipped byte is caught by the reloaded canonical executor
        var canonical = CanonicalExecutor.Load(GenesisModelBytes).Run([new NamedTensor("x", rare)])[0].Value;
        Assert.Equal(canonical.Encoded.ToArray(), settled.Output!.Encoded.ToArray());
        Assert.Equal(3, engine.ModelCacheMisses);
        Assert.False(engine.Choices.Single(c => c.ModelId == GenesisModelId).UsesFastPath); // and the model fell back
    }
}
