using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Core.Tests;

/// <summary>Deterministic sample objects built from a seed, for round-trip and malleation tests.</summary>
internal sealed class Samples
{
    public static readonly ChainId Chain = new("chain-test-1");
    private readonly Random _random;

    public Samples(int seed) => _random = new Random(seed);

    public static PrivateKey Key(int index)
    {
        var seed = new byte[32];
        BitConverter.TryWriteBytes(seed, index + 1);
        seed[31] = 0x5a;
        return PrivateKey.FromSeed(seed);
    }

    public byte[] Bytes(int max) => Bytes(_random.Next(0, max + 1), exact: true);

    public byte[] Bytes(int length, bool exact)
    {
        _ = exact;
        var b = new byte[length];
        _random.NextBytes(b);
        return b;
    }

    /// <summary>Integers that exercise every MessagePack width: fixint, 8, 16, 32 and 64 bits.</summary>
    public ulong UInt() => _random.Next(6) switch
    {
        0 => (ulong)_random.Next(0, 128),
        1 => (ulong)_random.Next(128, 256),
        2 => (ulong)_random.Next(256, 65536),
        3 => (ulong)_random.NextInt64(65536, 1L << 32),
        4 => (ulong)_random.NextInt64(1L << 32, long.MaxValue) * 2 + 1,
        _ => ulong.MaxValue,
    };

    public Hash32 Hash() => new(Bytes(32, true));
    public Address Address() => new(Bytes(20, true));

    public TransactionBody Body() => _random.Next(3) switch
    {
        0 => new TransferBody(Address(), UInt()),
        1 => new RegisterModelBody("model-" + _random.Next(1000), Bytes(600)),
        _ => new InferBody(Hash(), Bytes(300), UInt()),
    };

    public SignedTransaction Transaction(int signer = -1)
    {
        using var key = Key(signer >= 0 ? signer : _random.Next(8));
        var tx = new Transaction(Chain, key.PublicKey, UInt(), UInt(), Body());
        return tx.Sign(key);
    }

    public Vote Vote(int validator = 0) =>
        new(_random.Next(2) == 0 ? VoteType.Prevote : VoteType.Precommit, new Height(UInt()), new Round((uint)_random.Next(0, 70000)),
            _random.Next(4) == 0 ? null : Hash(), UInt(), Key(validator).Address);

    public SignedVote SignedVote(int validator = 0)
    {
        using var key = Key(validator);
        return Vote(validator).Sign(Chain, key);
    }

    public static ValidatorSet Validators(int count, ulong power = 10) =>
        new(Enumerable.Range(0, count).Select(i => new Validator(Key(i).PublicKey, power + (ulong)i)));

    /// <summary>A commit signed by the first <paramref name="signers"/> of <paramref name="count"/> validators.</summary>
    public static Commit Commit(Height height, Round round, Hash32 blockHash, int signers, ulong timeMs = 1_700_000_000_000)
    {
        var sigs = new List<CommitSignature>();
        for (int i = 0; i < signers; i++)
        {
            using var key = Key(i);
            var vote = new Vote(VoteType.Precommit, height, round, blockHash, timeMs + (ulong)i, key.Address);
            sigs.Add(new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(Chain))));
        }
        return new Commit(height, round, blockHash, sigs);
    }

    public Receipt Receipt() => _random.Next(2) == 0
        ? new Receipt(Hash(), (ReceiptStatus)_random.Next(0, 10), UInt())
        : new Receipt(Hash(), ReceiptStatus.Success, UInt(), new InferenceResult(Hash(), (uint)_random.Next(), Hash(), Hash(), Bytes(200)));

    public BlockHeader Header(ulong height, Hash32 lastBlock = default, Hash32 lastCommit = default, Hash32 txRoot = default, Hash32? evidenceRoot = null) =>
        new(Chain, new Height(height), UInt(), lastBlock, lastCommit, txRoot, Hash(), Hash(), Hash(), Hash(), evidenceRoot ?? Core.Merkle.MerkleTree.EmptyRoot, Address());

    /// <summary>A valid block at <paramref name="height"/> (with a genuine last commit when height &gt; 1).</summary>
    public Block Block(ulong height, int txCount)
    {
        var txs = Enumerable.Range(0, txCount).Select(_ => Transaction()).ToArray();
        var root = Core.Protocol.Block.ComputeTransactionsRoot(txs);
        if (height == 1) return new Block(Header(1, txRoot: root), txs, null);
        var previous = Hash();
        var commit = Commit(new Height(height - 1), new Round(0), previous, 3);
        return new Block(Header(height, previous, commit.Hash, root), txs, commit);
    }
}
