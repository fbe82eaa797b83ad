using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Storage.Tests;

public sealed class BlockStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Saved_blocks_load_back_identically()
    {
        using var samples = new ChainSamples("chain-a", 1);
        using var kv = new InMemoryStore();
        var store = new BlockStore(kv);
        Assert.Null(store.LatestHeight);
        Assert.Null(store.ChainId);

        var saved = Enumerable.Range(0, 3).Select(i => samples.Next(transactions: i * 2)).ToList();
        foreach (var (block, commit, receipts) in saved) store.Save(block, commit, receipts);

        Assert.Equal(new Height(3), store.LatestHeight);
        Assert.Equal(new ChainId("chain-a"), store.ChainId);
        foreach (var (block, commit, receipts) in saved)
        {
            Assert.Equal(block, store.LoadBlock(block.Height));
            Assert.Equal(block.Header, store.LoadHeader(block.Height));
            Assert.Equal(commit, store.LoadCommit(block.Height));
            Assert.Equal(receipts, store.LoadReceipts(block.Height));
            for (int i = 0; i < receipts.Length; i++)
            {
                Assert.Equal(receipts[i], store.LoadReceipt(block.Height, i));
                Assert.Equal((block.Height, i), store.FindTransaction(block.Transactions[i].Hash));
            }
            Assert.Null(store.LoadReceipt(block.Height, receipts.Length));
        }
        Assert.Null(store.LoadBlock(new Height(4)));
        Assert.Empty(store.LoadReceipts(new Height(4)));
        Assert.Null(store.FindTransaction(new Hash32(new byte[32])));
    }

    [Fact]
    public void The_chain_survives_reopen_and_keeps_growing()
    {
        var path = _directory.Sub("db");
        using var samples = new ChainSamples("chain-a", 2);
        var first = samples.Next(3);
        using (var kv = RocksDbStore.Open(path))
            new BlockStore(kv).Save(first.Block, first.Commit, first.Receipts);

        using (var kv = RocksDbStore.Open(path))
        {
            var store = new BlockStore(kv);
            Assert.Equal(new Height(1), store.LatestHeight);
            Assert.Equal(new ChainId("chain-a"), store.ChainId);
            Assert.Equal(first.Block, store.LoadBlock(new Height(1)));
            Assert.Equal((new Height(1), 2), store.FindTransaction(first.Block.Transactions[2].Hash));
            var second = samples.Next(1);
            store.Save(second.Block, second.Commit, second.Receipts);
            Assert.Equal(second.Commit, store.LoadCommit(new Height(2)));
        }
    }

    [Fact]
    public void A_height_gap_is_refused_and_nothing_is_written()
    {
        using var samples = new ChainSamples("chain-a", 3);
        using var kv = new InMemoryStore();
        var store = new BlockStore(kv);
        var b1 = samples.Next(1);
        var b2 = samples.Next(1);
        var b3 = samples.Next(1);

        var early = Assert.Throws<BlockStoreException>(() => store.Save(b2.Block, b2.Commit, b2.Receipts));
        Assert.Contains("next height is 1", early.Message);
        store.Save(b1.Block, b1.Commit, b1.Receipts);
        var before = Dump(kv);
        var gap = Assert.Throws<BlockStoreException>(() => store.Save(b3.Block, b3.Commit, b3.Receipts));
        Assert.Contains("next height is 2", gap.Message);
        Assert.Throws<BlockStoreException>(() => store.Save(b1.Block, b1.Commit, b1.Receipts));
        Assert.Equal(before, Dump(kv));
        Assert.Equal(new Height(1), store.LatestHeight);
    }

    [Fact]
    public void A_block_of_another_chain_is_refused_and_nothing_is_written()
    {
        using var chainA = new ChainSamples("chain-a", 4);
        using var chainB = new ChainSamples("chain-b", 4);
        using var kv = new InMemoryStore();
        var store = new BlockStore(kv);
        var a1 = chainA.Next(1);
        store.Save(a1.Block, a1.Commit, a1.Receipts);
        chainB.Next(1);
        var b2 = chainB.Next(1);
        var before = Dump(kv);
        var refused = Assert.Throws<BlockStoreException>(() => store.Save(b2.Block, b2.Commit, b2.Receipts));
        Assert.Contains("chain-b", refused.Message);
        Assert.Contains("chain-a", refused.Message);
        Assert.Equal(before, Dump(kv));
    }

    [Fact]
    public void Mismatched_commit_or_receipts_are_refused()
    {
        using var samples = new ChainSamples("chain-a", 5);
        using var kv = new InMemoryStore();
        var store = new BlockStore(kv);
        var b1 = samples.Next(2);
        var b2 = samples.Next(2);
        Assert.Throws<BlockStoreException>(() => store.Save(b1.Block, b2.Commit, b1.Receipts));
        Assert.Throws<BlockStoreException>(() => store.Save(b1.Block, b1.Commit, b1.Receipts.Reverse().ToArray()));
        Assert.Throws<BlockStoreException>(() => store.Save(b1.Block, b1.Commit, b1.Receipts[..1]));
        Assert.Empty(Dump(kv));
    }

    [Fact]
    public void A_damaged_value_is_reported_as_corruption_naming_column_and_key()
    {
        var path = _directory.Sub("db");
        using var samples = new ChainSamples("chain-a", 6);
        using var kv = RocksDbStore.Open(path);
        var store = new BlockStore(kv);
        var b1 = samples.Next(2);
        store.Save(b1.Block, b1.Commit, b1.Receipts);

        var stored = kv.Get(Column.Blocks, Keys.Height(1))!;
        stored[^1] ^= 0xff;
        kv.Write(new StoreBatch()
            .Put(Column.Blocks, Keys.Height(1), stored)
            .Put(Column.Receipts, Keys.HeightIndex(1, 1), [0x93, 0x01])
            .Put(Column.TxIndex, b1.Block.Transactions[0].Hash.Bytes, [1, 2, 3]));

        var block = Assert.Throws<StoreCorruptedException>(() => store.LoadBlock(new Height(1)));
        Assert.Equal(Column.Blocks, block.Column);
        Assert.Equal(Keys.Height(1), block.Key);
        Assert.Contains("blocks", block.Message);
        Assert.Contains(Convert.ToHexStringLower(Keys.Height(1)), block.Message);

        var receipts = Assert.Throws<StoreCorruptedException>(() => store.LoadReceipts(new Height(1)));
        Assert.Equal(Column.Receipts, receipts.Column);
        Assert.Throws<StoreCorruptedException>(() => store.FindTransaction(b1.Block.Transactions[0].Hash));
        Assert.Equal(b1.Commit, store.LoadCommit(new Height(1)));
    }

    [Fact]
    public void A_damaged_latest_height_record_is_refused_on_open()
    {
        using var kv = new InMemoryStore();
        kv.Write(new StoreBatch().Put(Column.Meta, BlockStore.LatestHeightKey, [1, 2, 3]));
        var refused = Assert.Throws<StoreCorruptedException>(() => new BlockStore(kv));
        Assert.Equal(Column.Meta, refused.Column);
    }

    private static List<string> Dump(IKeyValueReader reader) =>
        Columns.All.SelectMany(c => reader.Iterate(c).Select(e => $"{c}:{Convert.ToHexString(e.Key)}={Convert.ToHexString(e.Value)}")).ToList();
}
