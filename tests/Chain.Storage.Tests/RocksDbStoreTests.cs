using System.Buffers.Binary;
using System.Text;

namespace Chain.Storage.Tests;

public sealed class RocksDbStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void Data_survives_close_and_reopen()
    {
        var path = _directory.Sub("db");
        using (var store = RocksDbStore.Open(path))
        {
            store.Write(new StoreBatch().Put(Column.Blocks, Keys.Height(1), B("one")).Put(Column.TxIndex, B("tx"), B("loc")));
            store.Write(new StoreBatch().Put(Column.Blocks, Keys.Height(2), B("two")).Delete(Column.TxIndex, B("tx")), sync: false);
        }
        using (var reopened = RocksDbStore.Open(path))
        {
            Assert.Equal(B("one"), reopened.Get(Column.Blocks, Keys.Height(1)));
            Assert.Equal(B("two"), reopened.Get(Column.Blocks, Keys.Height(2)));
            Assert.False(reopened.Contains(Column.TxIndex, B("tx")));
            Assert.Equal(Keys.Height(2), reopened.Last(Column.Blocks)!.Value.Key);
        }
    }

    [Fact]
    public void Second_open_of_a_live_store_is_refused_naming_the_path()
    {
        var path = _directory.Sub("db");
        using (RocksDbStore.Open(path))
        {
            var refused = Assert.Throws<StoreInUseException>(() => RocksDbStore.Open(path));
            Assert.Equal(Path.GetFullPath(path), refused.Path);
            Assert.Contains(Path.GetFullPath(path), refused.Message);
        }
        // Dispose released the lock.
        using var again = RocksDbStore.Open(path);
        Assert.NotNull(again.Get(Column.Meta, RocksDbStore.SchemaVersionKey));
    }

    [Fact]
    public void A_new_store_records_the_current_schema_version()
    {
        using var store = RocksDbStore.Open(_directory.Sub("db"));
        var stored = store.Get(Column.Meta, RocksDbStore.SchemaVersionKey);
        Assert.Equal(RocksDbStore.CurrentSchemaVersion, BinaryPrimitives.ReadUInt32BigEndian(stored));
    }

    [Theory]
    [InlineData(RocksDbStore.CurrentSchemaVersion + 1)]
    [InlineData(0u)]
    public void Another_schema_version_is_refused(uint version)
    {
        var path = _directory.Sub("db");
        using (var store = RocksDbStore.Open(path))
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, version);
            store.Write(new StoreBatch().Put(Column.Meta, RocksDbStore.SchemaVersionKey, bytes).Put(Column.State, B("k"), B("v")));
        }
        var refused = Assert.Throws<SchemaVersionException>(() => RocksDbStore.Open(path));
        Assert.Equal(version, refused.Found);
        Assert.Contains(Path.GetFullPath(path), refused.Message);
        // The refused open released the lock and left the data alone.
        Assert.Throws<SchemaVersionException>(() => RocksDbStore.Open(path));
    }

    [Fact]
    public void A_damaged_schema_record_or_missing_version_is_corruption()
    {
        var path = _directory.Sub("db");
        using (var store = RocksDbStore.Open(path))
            store.Write(new StoreBatch().Put(Column.Meta, RocksDbStore.SchemaVersionKey, [1, 2, 3]));
        var damaged = Assert.Throws<StoreCorruptedException>(() => RocksDbStore.Open(path));
        Assert.Equal(Column.Meta, damaged.Column);

        var unversioned = _directory.Sub("unversioned");
        using (var store = RocksDbStore.Open(unversioned))
            store.Write(new StoreBatch().Delete(Column.Meta, RocksDbStore.SchemaVersionKey).Put(Column.Blocks, Keys.Height(1), B("b")));
        Assert.Throws<StoreCorruptedException>(() => RocksDbStore.Open(unversioned));
    }

    [Fact]
    public void Open_creates_missing_parent_directories()
    {
        var path = Path.Combine(_directory.Path, "a", "b", "c");
        using var store = RocksDbStore.Open(path);
        Assert.True(File.Exists(Path.Combine(path, "CURRENT")));
        Assert.Equal(Path.GetFullPath(path), store.Path);
    }

    [Fact]
    public void Snapshots_left_open_are_released_by_store_dispose()
    {
        var path = _directory.Sub("db");
        var store = RocksDbStore.Open(path);
        var snapshot = store.Snapshot();
        var cursor = store.Iterate(Column.Meta).GetEnumerator();
        Assert.True(cursor.MoveNext());
        store.Dispose();
        snapshot.Dispose();
        cursor.Dispose();
        using var reopened = RocksDbStore.Open(path);
        Assert.NotNull(reopened.Get(Column.Meta, RocksDbStore.SchemaVersionKey));
    }

    [Fact]
    public void A_truncated_table_file_is_refused_at_open_naming_the_file()
    {
        var path = _directory.Sub("truncated");
        // A small memtable, so the writes reach SST files on disk.
        var options = new RocksDbStoreOptions { WriteBufferBytes = 64 << 10 };
        using (var store = RocksDbStore.Open(path, options))
        {
            for (int i = 0; i < 64; i++)
            {
                var batch = new StoreBatch(64, 1 << 20);
                for (int j = 0; j < 32; j++) batch.Put(Column.Blocks, BitConverter.GetBytes(i * 32 + j), new byte[512]);
                store.Write(batch);
            }
        }
        var sst = new DirectoryInfo(path).GetFiles("*.sst").OrderByDescending(f => f.Length).First();
        using (var stream = new FileStream(sst.FullName, FileMode.Open, FileAccess.Write))
            stream.SetLength(sst.Length / 2);

        var refused = Assert.Throws<StoreCorruptedException>(() => RocksDbStore.Open(path, options));
        Assert.Contains(sst.Name, refused.Message);

        // Refused whole, lock released: the next attempt is refused the same way, not "in use".
        Assert.Throws<StoreCorruptedException>(() => RocksDbStore.Open(path, options));
    }
}
