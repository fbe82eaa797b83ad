using Chain.Core;
using Chain.Core.Hashing;

namespace Chain.Execution.Tests;

/// <summary>
/// Registration verdicts remembered by model id (<see cref="ModelVerdictCache"/>): the same check as without the cache for
/// admitted and refused models alike, admission run once per model however many blocks carry it, and a bounded size.
/// </summary>
public sealed class ModelVerdictCacheTests
{
    private static readonly Address Owner = Fixture.User(0).Address;

    [Fact]
    public void A_model_checked_again_is_not_judged_again_and_gets_the_same_verdict_with_its_own_owner_name_and_height()
    {
        var cache = new ModelVerdictCache(8);
        var bytes = Fixture.MatMulModel(41);
        var first = ModelRegistry.Check(bytes, Owner, "first", 5, cache);
        var again = ModelRegistry.Check(bytes, Fixture.User(1).Address, "again", 9, cache);

        Assert.True(first.Accepted, first.Refusal);
        Assert.Equal((1L, 1L), (cache.Misses, cache.Hits));
        Assert.Equal(DomainHash.Compute(HashDomain.Model, bytes), again.ModelId);
        var expected = new ModelInfo(Fixture.User(1).Address, "again", first.Info!.Input, first.Info.Output, first.Info.Gas, first.Info.Macs, 9);
        Assert.Equal(expected.Encoded.ToArray(), again.Info!.Encoded.ToArray());

        // The same check as a cache that has never seen the model.
        var fresh = ModelRegistry.Check(bytes, Owner, "first", 5, new ModelVerdictCache(1));
        Assert.Equal(first.Info.Encoded.ToArray(), fresh.Info!.Encoded.ToArray());
    }

    [Fact]
    public void A_refused_model_is_refused_again_from_the_cache_with_the_same_reason()
    {
        var cache = new ModelVerdictCache(8);
        var bytes = Fixture.RefusedModel();
        var first = ModelRegistry.Check(bytes, Owner, "bad", 1, cache);
        var again = ModelRegistry.Check(bytes, Owner, "bad", 2, cache);
        Assert.False(first.Accepted);
        Assert.StartsWith("admission refused the model", first.Refusal);
        Assert.Equal(first.Refusal, again.Refusal);
        Assert.Equal((1L, 1L), (cache.Misses, cache.Hits));
        Assert.Equal(first.Refusal, ModelRegistry.Check(bytes, Owner, "bad", 1, new ModelVerdictCache(1)).Refusal);
    }

    [Fact]
    public void The_cache_holds_at_most_its_capacity_and_forgets_the_oldest_first()
    {
        var cache = new ModelVerdictCache(2);
        byte[][] models = [Fixture.MatMulModel(51), Fixture.MatMulModel(52), Fixture.MatMulModel(53)];
        foreach (var m in models) ModelRegistry.Check(m, Owner, "m", 1, cache);
        Assert.Equal(2, cache.Count);
        Assert.Equal(3, cache.Misses);

        ModelRegistry.Check(models[2], Owner, "m", 1, cache); // still there
        Assert.Equal((3L, 1L), (cache.Misses, cache.Hits));
        ModelRegistry.Check(models[0], Owner, "m", 1, cache); // the oldest went
        Assert.Equal(4, cache.Misses);
        Assert.Equal(2, cache.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelVerdictCache(0));
    }

    [Fact]
    public void A_verdict_is_never_stored_under_an_id_its_bytes_do_not_hash_to()
    {
        var cache = new ModelVerdictCache(4);
        var bytes = Fixture.MatMulModel(61);
        var wrongId = DomainHash.Compute(HashDomain.Model, Fixture.MatMulModel(62));
        Assert.Throws<ArgumentException>(() => cache.GetOrJudge(wrongId, bytes, ModelRegistry.Judge));
        Assert.Equal(0, cache.Count);
    }
}
