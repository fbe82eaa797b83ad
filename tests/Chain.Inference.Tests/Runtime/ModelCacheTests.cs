using Chain.Core;
using Chain.Core.Hashing;
using Chain.Inference.Runtime;
using Chain.Inference.Tests.Onnx;

namespace Chain.Inference.Tests.Runtime;

/// <summary>The engine's model cache: LRU eviction under a byte budget, pins for models in use, reload on demand.</summary>
public class ModelCacheTests
{
    private static Hash32 Id(string name) => DomainHash.Sha256(System.Text.Encoding.UTF8.GetBytes(name));

    private static (ModelCache<string> Cache, List<string> Evicted) Cache(long budget)
    {
        var evicted = new List<string>();
        return (new ModelCache<string>(budget, evicted.Add), evicted);
    }

    private static void Add(ModelCache<string> cache, string name, long bytes) => cache.Add(Id(name), name, bytes, pin: false, out _);

    private static void Use(ModelCache<string> cache, string name)
    {
        Assert.Equal(name, cache.Acquire(Id(name)));
        cache.Release(Id(name));
    }

    [Fact]
    public void The_least_recently_used_model_is_evicted_first()
    {
        var (cache, evicted) = Cache(30);
        Add(cache, "a", 10);
        Add(cache, "b", 10);
        Add(cache, "c", 10);
        Use(cache, "a"); // a is now more recent than b and c
        Add(cache, "d", 10);
        Add(cache, "e", 10);
        Assert.Equal(["b", "c"], evicted);
        Assert.Equal(["e", "d", "a"], cache.Snapshot());
        Assert.Equal(30, cache.Bytes);
        Assert.Equal(2, cache.Evictions);
        Assert.Null(cache.Acquire(Id("b")));
    }

    [Fact]
    public void Random_use_keeps_the_cache_within_its_budget()
    {
        const int seed = 1717;
        Console.WriteLine($"seed {seed}");
        var random = new Random(seed);
        const long budget = 1000;
        var (cache, evicted) = Cache(budget);
        var sizes = Enumerable.Range(0, 20).ToDictionary(i => $"m{i}", _ => (long)random.Next(50, 400));
        for (int step = 0; step < 500; step++)
        {
            var name = $"m{random.Next(20)}";
            if (cache.Acquire(Id(name)) is not null) cache.Release(Id(name));
            else Add(cache, name, sizes[name]);
            var held = cache.Snapshot();
            Assert.Equal(name, held[0]);
            Assert.Equal(held.Sum(m => sizes[m]), cache.Bytes);
            Assert.True(cache.Bytes <= budget, $"step {step}: {cache.Bytes} bytes held over a {budget}-byte budget");
        }
        Assert.Equal(cache.Evictions, evicted.Count);
        Assert.True(evicted.Count > 0);
    }

    [Fact]
    public void A_pinned_model_is_not_evicted_until_released()
    {
        var (cache, evicted) = Cache(20);
        cache.Add(Id("pinned"), "pinned", 10, pin: true, out bool added);
        Assert.True(added);
        Add(cache, "b", 10);
        Add(cache, "c", 10);
        Add(cache, "d", 10);
        Assert.Equal(["b", "c"], evicted);
        Assert.Equal(["d", "pinned"], cache.Snapshot().Order());
        Assert.Equal(20, cache.Bytes);
        Add(cache, "e", 10); // over budget: d goes; pinned stays though it is the least recently used
        Assert.Equal(["b", "c", "d"], evicted);
        cache.Release(Id("pinned"));
        Assert.Equal(["e", "pinned"], cache.Snapshot().Order()); // within budget again: nothing to evict
        Add(cache, "f", 10);
        Assert.Equal(["b", "c", "d", "pinned"], evicted);
        Assert.Throws<InvalidOperationException>(() => cache.Release(Id("e"))); // e was never pinned
    }

    [Fact]
    public void A_model_larger_than_the_budget_stays_while_it_is_the_most_recent()
    {
        var (cache, evicted) = Cache(10);
        Add(cache, "small", 5);
        Add(cache, "huge", 50);
        Assert.Equal(["small"], evicted);
        Assert.Equal(["huge"], cache.Snapshot());
        Use(cache, "huge");
        Assert.Equal(["small"], evicted);
        Add(cache, "next", 5);
        Assert.Equal(["small", "huge"], evicted);
    }

    [Fact]
    public void A_second_add_of_the_same_model_keeps_the_first()
    {
        var (cache, evicted) = Cache(100);
        Add(cache, "a", 10);
        Assert.Equal("a", cache.Add(Id("a"), "a-copy", 10, pin: false, out bool added));
        Assert.False(added);
        Assert.Equal(10, cache.Bytes);
        Assert.Empty(evicted);
    }

    // Two admitted models that differ in their weights only.
    private static readonly byte[] ModelA = Models.MatMulInteger(64, 32, 3).ToBytes();
    private static readonly byte[] ModelB = Models.MatMulInteger(64, 32, 5).ToBytes();
    private static readonly Hash32 IdA = DomainHash.Compute(HashDomain.Model, ModelA);
    private static readonly Hash32 IdB = DomainHash.Compute(HashDomain.Model, ModelB);

    private static IReadOnlyList<NamedTensor> Input(int seed) =>
        [new("x", Tensor.Create(TensorElementType.UInt8, [1, 64], Enumerable.Range(0, 64).Select(i => (byte)((i * 37 + seed) % 251)).ToArray()))];

    [Fact]
    public void An_evicted_model_is_loaded_again_on_demand_with_identical_outputs()
    {
        // Room for one model: each lease of the other evicts it.
        using var engine = new InferenceEngine(enableFastPath: false, modelCacheBytes: InferenceEngine.ChargedBytes(ModelA.Length, fastPath: false));
        byte[] first;
        using (var a = engine.Lease(IdA, () => ModelA)) first = a.Execute(Input(1), InferenceMode.CanonicalOnly).Outputs[0].Value.Encoded.ToArray();
        using (var b = engine.Lease(IdB, () => ModelB)) b.Execute(Input(1), InferenceMode.CanonicalOnly);
        Assert.False(engine.IsLoaded(IdA));
        Assert.Equal(1, engine.ModelCacheEvictions);
        Assert.Throws<KeyNotFoundException>(() => engine.Execute(IdA, Input(1), InferenceMode.CanonicalOnly));

        using (var again = engine.Lease(IdA, () => ModelA))
            Assert.Equal(first, again.Execute(Input(1), InferenceMode.CanonicalOnly).Outputs[0].Value.Encoded.ToArray());
        Assert.Equal(3, engine.ModelCacheMisses);
        Assert.Equal(0, engine.ModelCacheHits);
        Assert.Equal(2, engine.ModelCacheEvictions);
        Assert.Equal(InferenceEngine.ChargedBytes(ModelA.Length, fastPath: false), engine.ModelCacheBytes);
        Assert.Equal(1, engine.LoadedModels);

        Assert.Equal(IdA, engine.EnsureLoaded(IdA, () => throw new InvalidOperationException("a hit reads no bytes")).ModelId);
        Assert.Equal(1, engine.ModelCacheHits);
    }

    /// <summary>An honest fast path (the canonical executor) that records its disposal.</summary>
    private sealed class DisposalRecordingFastPath(byte[] model) : IModelExecutor
    {
        private readonly CanonicalExecutor _inner = CanonicalExecutor.Load(model);
        public bool Disposed { get; private set; }
        public string Description => "canonical, recording disposal";
        public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs) =>
            Disposed ? throw new ObjectDisposedException(Description) : _inner.Run(inputs);

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void A_model_in_use_is_not_evicted_and_its_fast_path_is_disposed_only_after_eviction()
    {
        var fast = new Dictionary<Hash32, DisposalRecordingFastPath>();
        // Room for one model on the fast path.
        using var engine = new InferenceEngine(fastPathFactory: bytes =>
            fast[DomainHash.Compute(HashDomain.Model, bytes)] = new DisposalRecordingFastPath(bytes), modelCacheBytes: InferenceEngine.ChargedBytes(ModelA.Length, fastPath: true));
        var a = engine.Lease(IdA, () => ModelA);
        Assert.True(a.Choice.UsesFastPath, a.Choice.Reason);
        using (engine.Lease(IdB, () => ModelB)) { }
        using (engine.Lease(IdB, () => ModelB)) { }
        Assert.True(engine.IsLoaded(IdA));
        Assert.False(fast[IdA].Disposed);
        Assert.Equal(2 * InferenceEngine.ChargedBytes(ModelA.Length, fastPath: true), engine.ModelCacheBytes); // over budget while a is pinned and b the most recent
        var run = a.Execute(Input(2), InferenceMode.FastPath);
        Assert.True(run.FastPath);
        Assert.Null(FastPathCheck.FirstDifference(a.Canonical.Run(Input(2)), run.Outputs));

        a.Dispose(); // unpinned and least recently used: evicted now, its session disposed
        Assert.False(engine.IsLoaded(IdA));
        Assert.True(fast[IdA].Disposed);
        Assert.Throws<ObjectDisposedException>(() => a.Execute(Input(2), InferenceMode.FastPath));
        a.Dispose(); // a second dispose releases nothing twice
        Assert.Equal(1, engine.LoadedModels);
    }

    [Fact]
    public void A_lease_refuses_bytes_of_another_model()
    {
        using var engine = new InferenceEngine(enableFastPath: false);
        var e = Assert.Throws<InvalidOperationException>(() => engine.Lease(IdA, () => ModelB));
        Assert.Contains($"are model {IdB}", e.Message);
        Assert.Equal(0, engine.LoadedModels);
    }
}
