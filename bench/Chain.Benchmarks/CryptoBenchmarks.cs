using BenchmarkDotNet.Attributes;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using Chain.Core.Merkle;

namespace Chain.Benchmarks;

/// <summary>
/// Hashing, Ed25519 and Merkle costs: the floor under transaction admission and block validation.
/// Ratios: domain-tagged hashing vs plain SHA-256 of the same bytes (the price of the tag), and
/// verify vs sign.
/// </summary>
[MemoryDiagnoser]
public class HashBenchmarks
{
    private byte[] _data = null!;

    [Params(64, 1024, 65536)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Bytes];
        new Random(1).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public Hash32 Sha256Plain() => DomainHash.Sha256(_data);

    [Benchmark]
    public Hash32 DomainTagged() => DomainHash.Compute(HashDomain.Transaction, _data);
}

[MemoryDiagnoser]
public class SignatureBenchmarks
{
    private PrivateKey _key = null!;
    private byte[] _message = null!;
    private Signature _signature;

    [GlobalSetup]
    public void Setup()
    {
        _key = PrivateKey.FromSeed(new byte[32]);
        _message = new byte[200]; // about a transfer's sign bytes
        new Random(2).NextBytes(_message);
        _signature = _key.Sign(_message);
    }

    [GlobalCleanup]
    public void Cleanup() => _key.Dispose();

    [Benchmark(Baseline = true)]
    public Signature Sign() => _key.Sign(_message);

    [Benchmark]
    public bool Verify() => Ed25519.Verify(_key.PublicKey, _message, _signature);
}

[MemoryDiagnoser]
public class MerkleBenchmarks
{
    private ReadOnlyMemory<byte>[] _leaves = null!;
    private Hash32 _root;
    private InclusionProof _proof = null!;

    [Params(100, 10_000)]
    public int Leaves { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _leaves = Enumerable.Range(0, Leaves).Select(_ =>
        {
            var leaf = new byte[250];
            random.NextBytes(leaf);
            return new ReadOnlyMemory<byte>(leaf);
        }).ToArray();
        _root = MerkleTree.ComputeRoot(_leaves);
        _proof = MerkleTree.CreateProof(_leaves, Leaves / 3);
    }

    /// <summary>Hashing every leaf once: the irreducible part of computing a root.</summary>
    [Benchmark(Baseline = true)]
    public Hash32 HashLeavesOnly()
    {
        Hash32 last = default;
        foreach (var leaf in _leaves) last = MerkleTree.HashLeaf(leaf.Span);
        return last;
    }

    [Benchmark]
    public Hash32 ComputeRoot() => MerkleTree.ComputeRoot(_leaves);

    [Benchmark]
    public bool VerifyProof() => _proof.Verify(_root, _leaves[Leaves / 3].Span);
}
