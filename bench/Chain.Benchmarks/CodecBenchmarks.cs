using BenchmarkDotNet.Attributes;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Benchmarks;

/// <summary>
/// Canonical encoding and strict decoding of a 100-transaction block and of one transaction.
/// The baseline only walks the same bytes with MessagePack's reader (no objects, no checks), so the
/// Ratio column is the price of strictness plus object construction.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private static readonly ChainId Chain = new("bench-1");
    private Block _block = null!;
    private byte[] _blockBytes = null!;
    private SignedTransaction _tx = null!;
    private byte[] _txBytes = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        using var key = PrivateKey.FromSeed(new byte[32]);
        var txs = new List<SignedTransaction>();
        for (int i = 0; i < 100; i++)
        {
            var input = new byte[794]; // a 1×784 uint8 tensor plus header, roughly
            random.NextBytes(input);
            var body = i % 2 == 0
                ? (TransactionBody)new TransferBody(key.Address, (ulong)i * 1000)
                : new InferBody(new Hash32(new byte[32]), input, 1_000_000);
            txs.Add(new Transaction(Chain, key.PublicKey, (ulong)i, 10, body).Sign(key));
        }
        var header = new BlockHeader(Chain, new Height(1), 1_700_000_000_000, default, default,
            Block.ComputeTransactionsRoot(txs), default, default, default, default, default, key.Address);
        _block = new Block(header, txs, null);
        _blockBytes = _block.Encoded.ToArray();
        _tx = txs[1];
        _txBytes = _tx.Encoded.ToArray();
    }

    [Benchmark(Baseline = true)]
    public int WalkBlockBytes()
    {
        var reader = new MessagePackReader(_blockBytes);
        reader.Skip();
        return (int)reader.Consumed;
    }

    [Benchmark]
    public Block DecodeBlockStrict() => Canonical.Decode<Block>(_blockBytes);

    [Benchmark]
    public byte[] EncodeBlock() => Canonical.Encode(_block);

    [Benchmark]
    public SignedTransaction DecodeTransactionStrict() => Canonical.Decode<SignedTransaction>(_txBytes);

    [Benchmark]
    public byte[] EncodeTransaction() => Canonical.Encode(_tx);

    [Benchmark]
    public Hash32 TransactionsRoot() => Block.ComputeTransactionsRoot(_block.Transactions);
}
