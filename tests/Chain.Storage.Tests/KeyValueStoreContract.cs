using System.Text;

namespace Chain.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IKeyValueStore"/> must share; run once per implementation so the
/// in-memory twin used by other tests cannot drift from RocksDB.
/// </summary>
public abstract class KeyValueStoreContract : IDisposable
{
    /// <summary>A new, empty store; the subclass disposes whatever backs it.</summary>
    protected abstract IKeyValueStore CreateStore();

    public virtual void Dispose() => GC.SuppressFinalize(this);

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    // Hex text compares ordinally exactly as the bytes compare lexicographically: an independent oracle.
    private static string Hex(byte[] b) => Convert.ToHexString(b);

    [Fact]
    public void Put_get_delete_and_columns_are_separate()
    {
        using var store = CreateStore();
        Assert.Null(store.Get(Column.State, B("a")));
        store.Write(new StoreBatch().Put(Column.State, B("a"), B("1")).Put(Column.Blocks, B("a"), B("2")));
        Assert.Equal(B("1"), store.Get(Column.State, B("a")));
        Assert.Equal(B("2"), store.Get(Column.Blocks, B("a")));
        Assert.True(store.Contains(Column.State, B("a")));
        Assert.False(store.Contains(Column.Headers, B("a")));

        store.Write(new StoreBatch().Delete(Column.State, B("a")));
        Assert.Null(store.Get(Column.State, B("a")));
        Assert.False(store.Contains(Column.State, B("a")));
        Assert.Equal(B("2"), store.Get(Column.Blocks, B("a")));
    }

    [Fact]
    public void Later_operations_in_a_batch_win_and_empty_values_are_not_absent()
    {
        using var store = CreateStore();
        store.Write(new StoreBatch()
            .Put(Column.Meta, B("k"), B("first"))
            .Delete(Column.Meta, B("k"))
            .Put(Column.Meta, B("k"), B("last"))
            .Put(Column.Meta, B("empty"), []), sync: false);
        Assert.Equal(B("last"), store.Get(Column.Meta, B("k")));
        Assert.Equal(Array.Empty<byte>(), store.Get(Column.Meta, B("empty")));
        Assert.True(store.Contains(Column.Meta, B("empty")));
    }

    [Fact]
    public void TryGet_decodes_in_place_and_reports_absence()
    {
        using var store = CreateStore();
        store.Write(new StoreBatch().Put(Column.TxIndex, B("tx"), [1, 2, 3, 4]));
        Assert.True(store.TryGet(Column.TxIndex, B("tx"), v => v.Length * 10 + v[3], out int decoded));
        Assert.Equal(44, decoded);
        Assert.False(store.TryGet(Column.TxIndex, B("nope"), v => v.Length, out int missing));
        Assert.Equal(0, missing);
    }

    [Fact]
    public void Iteration_is_byte_lexicographic()
    {
        using var store = CreateStore();
        var random = new Random(1234);
        var expected = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var batch = new StoreBatch();
        for (int i = 0; i < 300; i++)
        {
            // Short keys over a small alphabet force shared prefixes, 0x00 and 0xff edges.
            var key = new byte[random.Next(0, 5)];
            for (int j = 0; j < key.Length; j++) key[j] = (byte)(random.Next(4) switch { 0 => 0x00, 1 => 0xff, 2 => 0x7f, _ => 0x80 });
            var value = new byte[random.Next(0, 20)];
            random.NextBytes(value);
            expected[Hex(key)] = value;
            batch.Put(Column.State, key, value);
        }
        store.Write(batch);

        var actual = store.Iterate(Column.State).ToList();
        Assert.Equal(expected.Keys, actual.Select(e => Hex(e.Key)));
        Assert.Equal(expected.Values, actual.Select(e => e.Value));
    }

    [Fact]
    public void Height_keys_iterate_in_numeric_order()
    {
        using var store = CreateStore();
        ulong[] heights = [256, 1, ulong.MaxValue, 255, 65536, 2];
        var batch = new StoreBatch();
        foreach (var h in heights) batch.Put(Column.Headers, Keys.Height(h), Keys.Height(h));
        store.Write(batch);
        Assert.Equal(heights.Order(), store.Iterate(Column.Headers).Select(e => Keys.ReadHeight(e.Key)));
        Assert.Equal(ulong.MaxValue, Keys.ReadHeight(store.Last(Column.Headers)!.Value.Key));
    }

    [Fact]
    public void Range_iteration_includes_from_and_excludes_to()
    {
        using var store = CreateStore();
        var random = new Random(99);
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        var batch = new StoreBatch();
        for (int i = 0; i < 200; i++)
        {
            var key = new byte[random.Next(1, 4)];
            random.NextBytes(key);
            keys.Add(Hex(key));
            batch.Put(Column.Receipts, key, [(byte)i]);
        }
        store.Write(batch);

        for (int trial = 0; trial < 50; trial++)
        {
            byte[]? from = random.Next(5) == 0 ? null : RandomKey(random);
            byte[]? to = random.Next(5) == 0 ? null : RandomKey(random);
            // Bounds that are stored keys test inclusivity at both ends.
            if (trial % 3 == 0 && from is not null) from = Convert.FromHexString(keys.ElementAt(random.Next(keys.Count)));
            if (trial % 4 == 0 && to is not null) to = Convert.FromHexString(keys.ElementAt(random.Next(keys.Count)));
            var expected = keys.Where(k =>
                (from is null || string.CompareOrdinal(k, Hex(from)) >= 0) &&
                (to is null || string.CompareOrdinal(k, Hex(to)) < 0));
            Assert.Equal(expected, store.Iterate(Column.Receipts, from, to).Select(e => Hex(e.Key)));
        }
    }

    private static byte[] RandomKey(Random random)
    {
        var key = new byte[random.Next(0, 3)];
        random.NextBytes(key);
        return key;
    }

    [Fact]
    public void Prefix_iteration_stops_at_the_prefix_end_even_after_0xff()
    {
        using var store = CreateStore();
        byte[][] keys = [[0x01], [0x01, 0xff], [0x01, 0xff, 0x00], [0x01, 0xff, 0xff], [0x02], [0x02, 0x00], [0xff], [0xff, 0xff, 0x01]];
        var batch = new StoreBatch();
        foreach (var k in keys) batch.Put(Column.State, k, k);
        store.Write(batch);

        Assert.Equal(["01FF", "01FF00", "01FFFF"], store.IteratePrefix(Column.State, [0x01, 0xff]).Select(e => Hex(e.Key)));
        Assert.Equal(["01", "01FF", "01FF00", "01FFFF"], store.IteratePrefix(Column.State, [0x01]).Select(e => Hex(e.Key)));
        Assert.Equal(["FF", "FFFF01"], store.IteratePrefix(Column.State, [0xff]).Select(e => Hex(e.Key)));
        Assert.Equal(keys.Length, store.IteratePrefix(Column.State, []).Count());
        Assert.Empty(store.IteratePrefix(Column.State, [0x03]));
    }

    [Fact]
    public void Last_is_the_greatest_key_of_the_column()
    {
        using var store = CreateStore();
        Assert.Null(store.Last(Column.Commits));
        store.Write(new StoreBatch().Put(Column.Commits, [0x05], B("five")).Put(Column.Commits, [0x05, 0x00], B("five-zero")).Put(Column.Commits, [0x01], B("one")).Put(Column.Meta, [0xff], B("other column")));
        var last = store.Last(Column.Commits);
        Assert.Equal([0x05, 0x00], last!.Value.Key);
        Assert.Equal(B("five-zero"), last.Value.Value);
        store.Write(new StoreBatch().Delete(Column.Commits, [0x05, 0x00]));
        Assert.Equal([0x05], store.Last(Column.Commits)!.Value.Key);
    }

    [Fact]
    public void Snapshot_does_not_see_later_writes()
    {
        using var store = CreateStore();
        store.Write(new StoreBatch().Put(Column.State, B("a"), B("old")).Put(Column.State, B("b"), B("doomed")));
        using (var snapshot = store.Snapshot())
        {
            store.Write(new StoreBatch().Put(Column.State, B("a"), B("new")).Delete(Column.State, B("b")).Put(Column.State, B("c"), B("born")));

            Assert.Equal(B("old"), snapshot.Get(Column.State, B("a")));
            Assert.True(snapshot.Contains(Column.State, B("b")));
            Assert.False(snapshot.Contains(Column.State, B("c")));
            Assert.Equal(["a", "b"], snapshot.Iterate(Column.State).Select(e => Encoding.ASCII.GetString(e.Key)));
            Assert.Equal(B("b"), snapshot.Last(Column.State)!.Value.Key);
            Assert.True(snapshot.TryGet(Column.State, B("a"), v => Encoding.ASCII.GetString(v), out var text));
            Assert.Equal("old", text);

            Assert.Equal(B("new"), store.Get(Column.State, B("a")));
            Assert.Equal(["a", "c"], store.Iterate(Column.State).Select(e => Encoding.ASCII.GetString(e.Key)));
        }
    }

    [Fact]
    public void Disposed_snapshot_refuses_reads_and_store_keeps_working()
    {
        using var store = CreateStore();
        store.Write(new StoreBatch().Put(Column.State, B("a"), B("1")));
        var snapshot = store.Snapshot();
        using var cursor = snapshot.Iterate(Column.State).GetEnumerator();
        snapshot.Dispose();
        snapshot.Dispose();
        Assert.Throws<ObjectDisposedException>(() => snapshot.Get(Column.State, B("a")));
        Assert.Throws<ObjectDisposedException>(() => snapshot.Iterate(Column.State));
        Assert.Throws<ObjectDisposedException>(() => cursor.MoveNext());
        Assert.Equal(B("1"), store.Get(Column.State, B("a")));
    }

    [Fact]
    public async Task Readers_see_each_batch_whole_or_not_at_all()
    {
        using var store = CreateStore();
        const int Keys = 16;
        const int Batches = 100;
        var writer = Task.Run(() =>
        {
            for (int round = 1; round <= Batches; round++)
            {
                var batch = new StoreBatch();
                // Spread over several columns: atomicity must hold across column families too.
                for (int k = 0; k < Keys; k++) batch.Put((Column)(k % 7), [(byte)k], BitConverter.GetBytes(round));
                store.Write(batch, sync: false);
            }
        });

        int lastSeen = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (lastSeen < Batches)
        {
            Assert.True(DateTime.UtcNow < deadline, "writer did not finish in time");
            using var snapshot = store.Snapshot();
            var rounds = Enumerable.Range(0, Keys)
                .Select(k => snapshot.Get((Column)(k % 7), [(byte)k]) is { } v ? BitConverter.ToInt32(v) : 0)
                .Distinct().ToList();
            Assert.Single(rounds);
            Assert.True(rounds[0] >= lastSeen, "a snapshot went back in time");
            lastSeen = rounds[0];
            if (writer.IsFaulted) await writer;
        }
        await writer;
    }

    [Fact]
    public void Batch_limits_are_refused_before_anything_changes()
    {
        using var store = CreateStore();
        var byOps = new StoreBatch(maxOperations: 2, maxBytes: 1000).Put(Column.State, B("a"), B("1")).Delete(Column.State, B("b"));
        var full = Assert.Throws<BatchLimitException>(() => byOps.Put(Column.State, B("c"), B("3")));
        Assert.Contains("2 operations", full.Message);
        Assert.Equal(2, byOps.Count);
        Assert.Equal(3, byOps.ByteCount);

        var byBytes = new StoreBatch(maxOperations: 100, maxBytes: 10).Put(Column.State, B("key"), B("value"));
        Assert.Throws<BatchLimitException>(() => byBytes.Put(Column.State, B("k2"), B("v2")));
        Assert.Equal(1, byBytes.Count);
        Assert.Equal(8, byBytes.ByteCount);
        byBytes.Put(Column.State, B("k"), B("v"));
        Assert.Equal(10, byBytes.ByteCount);

        Assert.Throws<ArgumentOutOfRangeException>(() => new StoreBatch().Put((Column)99, B("k"), B("v")));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StoreBatch(maxOperations: 0));

        store.Write(byBytes);
        Assert.Equal(["k", "key"], store.Iterate(Column.State).Select(e => Encoding.ASCII.GetString(e.Key)));
    }

    [Fact]
    public void Every_call_after_dispose_is_refused()
    {
        var store = CreateStore();
        store.Write(new StoreBatch().Put(Column.Meta, B("a"), B("1")).Put(Column.Meta, B("b"), B("2")));
        var snapshot = store.Snapshot();
        using var cursor = store.Iterate(Column.Meta).GetEnumerator();
        Assert.True(cursor.MoveNext());

        store.Dispose();
        store.Dispose();

        Assert.Throws<ObjectDisposedException>(() => store.Get(Column.Meta, B("a")));
        Assert.Throws<ObjectDisposedException>(() => store.Contains(Column.Meta, B("a")));
        Assert.Throws<ObjectDisposedException>(() => store.TryGet(Column.Meta, B("a"), v => v.Length, out _));
        Assert.Throws<ObjectDisposedException>(() => store.Iterate(Column.Meta));
        Assert.Throws<ObjectDisposedException>(() => store.Last(Column.Meta));
        Assert.Throws<ObjectDisposedException>(() => store.Write(new StoreBatch()));
        Assert.Throws<ObjectDisposedException>(() => store.Snapshot());
        Assert.Throws<ObjectDisposedException>(() => snapshot.Get(Column.Meta, B("a")));
        Assert.Throws<ObjectDisposedException>(() => cursor.MoveNext());
        snapshot.Dispose();
    }

    [Fact]
    public void Concurrent_dispose_is_safe()
    {
        var store = CreateStore();
        store.Write(new StoreBatch().Put(Column.Meta, B("a"), B("1")));
        Parallel.For(0, 8, _ => store.Dispose());
        Assert.Throws<ObjectDisposedException>(() => store.Get(Column.Meta, B("a")));
    }
}

public sealed class InMemoryStoreContractTests : KeyValueStoreContract
{
    protected override IKeyValueStore CreateStore() => new InMemoryStore();
}

public sealed class RocksDbStoreContractTests : KeyValueStoreContract
{
    private readonly TempDirectory _directory = new();
    private int _stores;

    protected override IKeyValueStore CreateStore() => RocksDbStore.Open(_directory.Sub($"db{_stores++}"));

    public override void Dispose()
    {
        _directory.Dispose();
        base.Dispose();
    }
}
