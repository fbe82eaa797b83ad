using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Storage.Tests;

/// <summary>Builds a valid, linked chain of blocks (with commits and receipts) from a seed.</summary>
internal sealed class ChainSamples : IDisposable
{
    private readonly Random _random;
    private readonly PrivateKey _sender;
    private readonly ChainId _chain;
    private BlockHeader? _previous;
    private Commit? _previousCommit;
    private ulong _nonce;

    public ChainSamples(string chainId, int seed)
    {
        _chain = new ChainId(chainId);
        _random = new Random(seed);
        var keySeed = new byte[32];
        _random.NextBytes(keySeed);
        _sender = PrivateKey.FromSeed(keySeed);
    }

    public (Block Block, Commit Commit, Receipt[] Receipts) Next(int transactions)
    {
        var height = new Height((_previous?.Height.Value ?? 0) + 1);
        var txs = Enumerable.Range(0, transactions)
            .Select(_ => new Transaction(_chain, _sender.PublicKey, _nonce++, 10, new TransferBody(new Address(Bytes(20)), 5)).Sign(_sender))
            .ToArray();
        var receipts = txs.Select(t => new Receipt(t.Hash, ReceiptStatus.Success, 21_000)).ToArray();
        var header = new BlockHeader(
            _chain, height, 1_700_000_000_000 + height.Value,
            _previous?.Hash ?? Hash32.Zero, _previousCommit?.Hash ?? Hash32.Zero,
            Block.ComputeTransactionsRoot(txs), Block.ComputeReceiptsRoot(receipts), Hash(),
            Hash(), Hash(), Block.ComputeEvidenceRoot([]), new Address(Bytes(20)));
        var block = new Block(header, txs, _previousCommit);
        // Signatures are not checked by the block store, so random bytes stand in for them.
        var commit = new Commit(height, new Round(0), block.Hash,
            [new CommitSignature(new Address(Bytes(20)), header.TimeMs, new Signature(Bytes(64)))]);
        _previous = header;
        _previousCommit = commit;
        return (block, commit, receipts);
    }

    public void Dispose() => _sender.Dispose();

    private Hash32 Hash() => new(Bytes(32));

    private byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }
}
