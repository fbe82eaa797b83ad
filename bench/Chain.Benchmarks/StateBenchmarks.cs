using BenchmarkDotNet.Attributes;
using Chain.Core;
using Chain.Core.Merkle;
using Chain.State;
using Chain.Storage;

namespace Chain.Benchmarks;

/// <summary>
/// The state tree at block scale: a tree of 100,000 keys (in the in-memory store, so the figures are the
/// tree's own cost, not RocksDB's), one block's worth of 1,000 updates applied on top (new root and pending
/// nodes, nothing written), a proof for a present key, and the standalone verification of that proof.
/// </summary>
[MemoryDiagnoser]
public class StateBenchmarks
{
    private const int TreeSize = 100_000;
    private const int BatchSize = 1_000;

    private InMemoryStore _store = null!;
    private SparseMerkleTree _tree = null!;
    private (Hash32 Key, byte[]? Value)[] _batch = null!;
    private Hash32[] _keys = null!;
    private Hash32 _root;
    private StateProof _proof = null!;
    private byte[] _proofBytes = null!;
    private byte[] _provenValue = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _store = new InMemoryStore();
        _keys = new Hash32[TreeSize];
        var values = new byte[TreeSize][];
        for (int i = 0; i < TreeSize; i++)
        {
            var key = new byte[32];
            random.NextBytes(key);
            _keys[i] = new Hash32(key);
            values[i] = new byte[64];
            random.NextBytes(values[i]);
        }
        // Ten blocks of 10,000 so no store batch exceeds its default limits.
        ulong? previous = null;
        for (ulong version = 1; version <= 10; version++)
        {
            int start = (int)(version - 1) * 10_000;
            var update = new SparseMerkleTree(_store).Apply(previous, version,
                Enumerable.Range(start, 10_000).Select(i => (_keys[i], (byte[]?)values[i])));
            var batch = new StoreBatch();
            update.WriteTo(batch);
            _store.Write(batch);
            previous = version;
        }
        _tree = new SparseMerkleTree(_store);
        _root = _tree.Root(10);

        // Half updates of existing keys, half new keys.
        _batch = new (Hash32, byte[]?)[BatchSize];
        for (int i = 0; i < BatchSize; i++)
        {
            var value = new byte[64];
            random.NextBytes(value);
            Hash32 key;
            if (i % 2 == 0) key = _keys[random.Next(TreeSize)];
            else
            {
                var k = new byte[32];
                random.NextBytes(k);
                key = new Hash32(k);
            }
            _batch[i] = (key, value);
        }
        _batch = _batch.DistinctBy(c => c.Key).ToArray();
        _provenValue = values[123];
        _proof = _tree.Prove(_keys[123], 10);
        _proofBytes = _proof.Encoded.ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    [Benchmark(Description = "Apply 1,000 updates to 100k keys")]
    public Hash32 Apply() => _tree.Apply(10, 11, _batch).Root;

    [Benchmark(Description = "Prove (100k keys)")]
    public StateProof Prove() => _tree.Prove(_keys[_next++ % TreeSize], 10);

    [Benchmark(Description = "Verify encoded proof")]
    public bool Verify() => StateProof.Verify(_proofBytes, _root, _keys[123], _provenValue);
}
