using System.Buffers.Binary;
using RocksDbSharp;

namespace Chain.Storage;

/// <summary>Tuning knobs for <see cref="RocksDbStore"/>; the defaults suit a validator node.</summary>
public sealed record RocksDbStoreOptions
{
    /// <summary>One block cache shared by every column family, so the memory bound is in one place.</summary>
    public ulong BlockCacheBytes { get; init; } = 256UL << 20;

    /// <summary>Upper bound on open SST files (file descriptors).</summary>
    public int MaxOpenFiles { get; init; } = 1024;

    /// <summary>Memtable size per column family before it is flushed to disk.</summary>
    public ulong WriteBufferBytes { get; init; } = 32UL << 20;
}

/// <summary>
/// <see cref="IKeyValueStore"/> on RocksDB: one column family per <see cref="Column"/>, batches written
/// as one WAL record (atomic across families), synced writes, snapshots from RocksDB snapshots.
/// The directory is locked while open; a second opener gets <see cref="StoreInUseException"/>.
/// Layout and tuning are described in docs/storage.md.
/// </summary>
public sealed class RocksDbStore : IKeyValueStore
{
    /// <summary>The schema this code writes. Bump it whenever a key layout or value encoding changes.</summary>
    public const uint CurrentSchemaVersion = 1;

    private static readonly byte[] SchemaVersionKeyBytes = "schema_version"u8.ToArray();

    private readonly RocksDb _db;
    private readonly ColumnFamilyHandle[] _handles;
    private readonly WriteOptions _syncWrite = new WriteOptions().SetSync(true);
    private readonly WriteOptions _bufferedWrite = new WriteOptions().SetSync(false);
    private readonly ReadOptions _read = new();
    private readonly Reader _reader;
    private readonly UseGate _gate = new(nameof(RocksDbStore));
    // Iterators and snapshots still open when the store is disposed; they are freed before the database.
    private readonly HashSet<object> _openResources = [];
    // Options objects are referenced here so the finalizers of the wrappers cannot run while RocksDB uses them.
    private readonly object[] _keepAlive;

    private RocksDbStore(string path, RocksDb db, ColumnFamilyHandle[] handles, object[] keepAlive)
    {
        Path = path;
        _db = db;
        _handles = handles;
        _keepAlive = keepAlive;
        _reader = new Reader(this, _read, snapshot: null);
    }

    /// <summary>The Meta key holding the schema version (4 bytes, big-endian). Reserved: do not write it.</summary>
    public static ReadOnlySpan<byte> SchemaVersionKey => SchemaVersionKeyBytes;

    /// <summary>The store's directory, as an absolute path.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens (creating if needed) the store in <paramref name="path"/>. RocksDB replays its write-ahead log
    /// on open, so after a crash the store holds exactly the batches whose write completed; a torn last
    /// record is dropped whole. Throws <see cref="StoreInUseException"/> if the directory is locked,
    /// <see cref="SchemaVersionException"/> for a schema this code does not know, and
    /// <see cref="StoreCorruptedException"/> when RocksDB finds damage.
    /// </summary>
    public static RocksDbStore Open(string path, RocksDbStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new RocksDbStoreOptions();
        path = System.IO.Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException($"cannot create the store directory '{path}': {e.Message}", e);
        }

        var cache = Cache.CreateLru(options.BlockCacheBytes);
        var dbOptions = new DbOptions()
            .SetCreateIfMissing(true)
            .SetCreateMissingColumnFamilies(true)
            .SetParanoidChecks(true)
            // Replay the WAL up to the first torn record: a crash mid-write loses that one batch, whole,
            // while AbsoluteConsistency would refuse to open after an ordinary power cut.
            .SetWalRecoveryMode(Recovery.PointInTime)
            .SetMaxOpenFiles(options.MaxOpenFiles)
            .SetKeepLogFileNum(4)
            .SetInfoLogLevel(InfoLogLevel.Warn);

        var keepAlive = new List<object> { cache, dbOptions };
        var families = new ColumnFamilies();
        foreach (var column in Columns.All)
        {
            var (familyOptions, tableOptions) = FamilyOptions(column, cache, options);
            keepAlive.Add(familyOptions);
            keepAlive.Add(tableOptions);
            families.Add(Columns.Name(column), familyOptions);
        }
        // RocksDB refuses to open without every existing family, so families from a newer schema are
        // opened with defaults; the schema version check below then gives the real answer.
        if (RocksDb.TryListColumnFamilies(dbOptions, path, out var existing))
        {
            var known = Columns.All.Select(Columns.Name).Append(ColumnFamilies.DefaultName).ToHashSet(StringComparer.Ordinal);
            foreach (var name in existing.Where(n => !known.Contains(n)))
                families.Add(name, new ColumnFamilyOptions());
        }

        RocksDb db;
        try
        {
            db = RocksDb.Open(dbOptions, path, families);
        }
        catch (RocksDbException e)
        {
            throw Translate(e, path, "open");
        }

        var handles = Columns.All.Select(c => db.GetColumnFamily(Columns.Name(c))).ToArray();
        var store = new RocksDbStore(path, db, handles, keepAlive.ToArray());
        try
        {
            store.CheckFiles();
            store.CheckSchema();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public byte[]? Get(Column column, ReadOnlySpan<byte> key) => _reader.Get(column, key);

    public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value) =>
        _reader.TryGet(column, key, decode, out value);

    public bool Contains(Column column, ReadOnlySpan<byte> key) => _reader.Contains(column, key);

    public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null) =>
        _reader.Iterate(column, from, to);

    public (byte[] Key, byte[] Value)? Last(Column column) => _reader.Last(column);

    public void Write(StoreBatch batch, bool sync = true)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _gate.Enter();
        try
        {
            // One native WriteBatch is one WAL record: RocksDB applies it to all families or to none.
            using var native = new WriteBatch();
            foreach (var op in batch.Operations)
            {
                var handle = _handles[(int)op.Column];
                if (op.Value is null) native.Delete((ReadOnlySpan<byte>)op.Key, handle);
                else native.Put((ReadOnlySpan<byte>)op.Key, (ReadOnlySpan<byte>)op.Value, handle);
            }
            _db.Write(native, sync ? _syncWrite : _bufferedWrite);
        }
        catch (RocksDbException e)
        {
            throw Translate(e, Path, "write");
        }
        finally
        {
            _gate.Exit();
        }
    }

    public IStoreSnapshot Snapshot()
    {
        _gate.Enter();
        try
        {
            var native = _db.CreateSnapshot();
            var snapshot = new StoreSnapshot(this, native);
            lock (_openResources) _openResources.Add(snapshot);
            return snapshot;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Closes the database and releases its lock. Waits for calls in flight; safe to call twice or concurrently.</summary>
    public void Dispose()
    {
        if (!_gate.Close()) return;
        lock (_openResources)
        {
            foreach (var resource in _openResources)
            {
                if (resource is StoreSnapshot snapshot) snapshot.ReleaseNative();
                else ((Iterator)resource).Dispose();
            }
            _openResources.Clear();
        }
        _db.Dispose();
        GC.KeepAlive(_keepAlive);
    }

    private static (ColumnFamilyOptions, BlockBasedTableOptions) FamilyOptions(Column column, Cache cache, RocksDbStoreOptions options)
    {
        var table = new BlockBasedTableOptions()
            .SetBlockCache(cache)
            .SetCacheIndexAndFilterBlocks(true)
            .SetPinL0FilterAndIndexBlocksInCache(true)
            .SetFormatVersion(5);
        var family = new ColumnFamilyOptions()
            .SetWriteBufferSize(options.WriteBufferBytes)
            .SetLevelCompactionDynamicLevelBytes(true);
        switch (column)
        {
            case Column.Blocks:
                // Large values read whole and rarely after sync: big blocks mean a smaller index, and
                // zstd trades a little CPU on a cold path for disk space on the biggest table.
                table.SetBlockSize(64 * 1024);
                family.SetCompression(Compression.Zstd);
                break;
            case Column.TxIndex:
            case Column.State:
                // Point lookups by random hash keys dominate: a bloom filter (10 bits/key, ~1% false
                // positives) skips SST files that lack the key, and small blocks read less per hit.
                // (OptimizeForPointLookup is not used: it would replace the shared block cache.)
                table.SetBlockSize(4 * 1024)
                    .SetFilterPolicy(BloomFilterPolicy.Create(10, false))
                    .SetWholeKeyFiltering(true);
                family.SetCompression(Compression.Lz4);
                break;
            case Column.Meta:
                // A handful of tiny records: no compression to spend CPU on.
                family.SetCompression(Compression.No);
                break;
            default:
                // Headers, commits, receipts: read by height, mostly hashes and signatures that barely
                // compress, so cheap LZ4 (RocksDB keeps a block raw when compression does not pay).
                table.SetBlockSize(16 * 1024);
                family.SetCompression(Compression.Lz4);
                break;
        }
        family.SetBlockBasedTableFactory(table);
        return (family, table);
    }

    // Integrity at open: every SST file the manifest lists must be on disk with exactly the size the manifest
    // recorded (RocksDB's paranoid checks do not look at every table file at open, so a truncated SST would
    // otherwise be found only when a read or compaction reaches it). Block checksums are verified on every read.
    private void CheckFiles()
    {
        List<LiveFileMetadata> live;
        try
        {
            live = _db.GetLiveFilesMetadata(false);
        }
        catch (RocksDbException e)
        {
            throw Translate(e, Path, "open");
        }
        foreach (var entry in live)
        {
            var meta = entry.FileMetadata;
            var file = System.IO.Path.Combine(Path, meta.FileName.TrimStart('/'));
            var info = new FileInfo(file);
            if (!info.Exists)
                throw new StoreCorruptedException($"the store at '{Path}' is damaged: table file '{file}' listed in its manifest is missing; restore the data directory from a backup or sync a fresh one");
            if ((ulong)info.Length != meta.FileSize)
                throw new StoreCorruptedException($"the store at '{Path}' is damaged: table file '{file}' is {info.Length} bytes but its manifest recorded {meta.FileSize}; restore the data directory from a backup or sync a fresh one");
        }
    }

    // Writes the schema version into a new store; refuses a store written under another schema.
    private void CheckSchema()
    {
        var stored = Get(Column.Meta, SchemaVersionKey);
        if (stored is null)
        {
            foreach (var column in Columns.All)
            {
                if (Last(column) is not null)
                    throw new StoreCorruptedException($"the store at '{Path}' holds data but no schema version");
            }
            var version = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(version, CurrentSchemaVersion);
            Write(new StoreBatch(1, 64).Put(Column.Meta, SchemaVersionKey, version), sync: true);
            return;
        }
        if (stored.Length != 4)
            throw new StoreCorruptedException(Column.Meta, SchemaVersionKey, $"schema version is {stored.Length} bytes, expected 4");
        uint found = BinaryPrimitives.ReadUInt32BigEndian(stored);
        if (found != CurrentSchemaVersion) throw new SchemaVersionException(Path, found, CurrentSchemaVersion);
    }

    private static StorageException Translate(RocksDbException e, string path, string operation)
    {
        var message = e.Message;
        if (operation == "open" && message.Contains("lock", StringComparison.OrdinalIgnoreCase))
            return new StoreInUseException(path, e);
        if (message.Contains("Corruption", StringComparison.OrdinalIgnoreCase))
            return new StoreCorruptedException($"RocksDB reports corruption in the store at '{path}' during {operation}: {message}", e);
        return new StorageException($"RocksDB {operation} failed for the store at '{path}': {message}", e);
    }

    private ColumnFamilyHandle Handle(Column column)
    {
        Columns.Validate(column);
        return _handles[(int)column];
    }

    /// <summary>Reads through the live database or one snapshot; every native call runs inside the gates.</summary>
    private sealed class Reader(RocksDbStore store, ReadOptions read, StoreSnapshot? snapshot) : IKeyValueReader
    {
        public byte[]? Get(Column column, ReadOnlySpan<byte> key)
        {
            var handle = store.Handle(column);
            Enter();
            try
            {
                return store._db.Get(key, handle, read);
            }
            catch (RocksDbException e)
            {
                throw Translate(e, store.Path, "read");
            }
            finally
            {
                Exit();
            }
        }

        public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value)
        {
            ArgumentNullException.ThrowIfNull(decode);
            var handle = store.Handle(column);
            // The binding hands the deserializer RocksDB's pinned buffer: no managed copy of the value.
            var adapter = new DecoderAdapter<T>(decode);
            Enter();
            try
            {
                value = store._db.Get(key, adapter, handle, read);
            }
            catch (RocksDbException e)
            {
                throw Translate(e, store.Path, "read");
            }
            finally
            {
                Exit();
            }
            if (!adapter.Found) value = default!;
            return adapter.Found;
        }

        public bool Contains(Column column, ReadOnlySpan<byte> key)
        {
            var handle = store.Handle(column);
            Enter();
            try
            {
                return store._db.HasKey(key, handle, read);
            }
            catch (RocksDbException e)
            {
                throw Translate(e, store.Path, "read");
            }
            finally
            {
                Exit();
            }
        }

        public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null)
        {
            var handle = store.Handle(column);
            // Checked now rather than on first MoveNext, so misuse fails where it happens.
            Enter();
            Exit();
            return Enumerate(handle, from?.ToArray(), to?.ToArray());
        }

        public (byte[] Key, byte[] Value)? Last(Column column)
        {
            var handle = store.Handle(column);
            var options = NewIteratorOptions(upperBound: null);
            Enter();
            try
            {
                using var iterator = store._db.NewIterator(handle, options);
                iterator.SeekToLast();
                return iterator.Valid() ? (iterator.Key(), iterator.Value()) : null;
            }
            catch (RocksDbException e)
            {
                throw Translate(e, store.Path, "read");
            }
            finally
            {
                Exit();
                GC.KeepAlive(options);
            }
        }

        private IEnumerable<(byte[] Key, byte[] Value)> Enumerate(ColumnFamilyHandle handle, byte[]? from, byte[]? to)
        {
            // The upper bound lets RocksDB stop at the range end instead of scanning into the next keys.
            var options = NewIteratorOptions(to);
            Iterator iterator;
            Enter();
            try
            {
                iterator = store._db.NewIterator(handle, options);
                lock (store._openResources) store._openResources.Add(iterator);
                if (from is null) iterator.SeekToFirst();
                else iterator.Seek(from);
            }
            finally
            {
                Exit();
            }
            try
            {
                while (true)
                {
                    (byte[] Key, byte[] Value) entry;
                    Enter();
                    try
                    {
                        if (!iterator.Valid()) yield break;
                        entry = (iterator.Key(), iterator.Value());
                        iterator.Next();
                    }
                    finally
                    {
                        Exit();
                    }
                    yield return entry;
                }
            }
            finally
            {
                // The store may already have freed it in Dispose; whoever removes it from the set frees it.
                bool owned;
                lock (store._openResources) owned = store._openResources.Remove(iterator);
                if (owned) iterator.Dispose();
                GC.KeepAlive(options);
            }
        }

        private ReadOptions NewIteratorOptions(byte[]? upperBound)
        {
            var options = new ReadOptions();
            if (snapshot is not null) options.SetSnapshot(snapshot.Native);
            if (upperBound is not null) options.SetIterateUpperBound(upperBound);
            return options;
        }

        private void Enter()
        {
            store._gate.Enter();
            if (snapshot is null) return;
            try
            {
                snapshot.Gate.Enter();
            }
            catch
            {
                store._gate.Exit();
                throw;
            }
        }

        private void Exit()
        {
            snapshot?.Gate.Exit();
            store._gate.Exit();
        }
    }

    private sealed class DecoderAdapter<T>(ValueDecoder<T> decode) : ISpanDeserializer<T>
    {
        public bool Found { get; private set; }

        public T Deserialize(ReadOnlySpan<byte> buffer)
        {
            Found = true;
            return decode(buffer);
        }
    }

    private sealed class StoreSnapshot : IStoreSnapshot
    {
        private readonly RocksDbStore _store;
        private readonly Reader _reader;
        private Snapshot? _native;

        public StoreSnapshot(RocksDbStore store, Snapshot native)
        {
            _store = store;
            _native = native;
            var read = new ReadOptions().SetSnapshot(native);
            _reader = new Reader(store, read, this);
        }

        public UseGate Gate { get; } = new(nameof(IStoreSnapshot));

        public Snapshot Native => _native ?? throw new ObjectDisposedException(nameof(IStoreSnapshot));

        public byte[]? Get(Column column, ReadOnlySpan<byte> key) => _reader.Get(column, key);

        public bool TryGet<T>(Column column, ReadOnlySpan<byte> key, ValueDecoder<T> decode, out T value) =>
            _reader.TryGet(column, key, decode, out value);

        public bool Contains(Column column, ReadOnlySpan<byte> key) => _reader.Contains(column, key);

        public IEnumerable<(byte[] Key, byte[] Value)> Iterate(Column column, byte[]? from = null, byte[]? to = null) =>
            _reader.Iterate(column, from, to);

        public (byte[] Key, byte[] Value)? Last(Column column) => _reader.Last(column);

        public void Dispose()
        {
            if (!Gate.Close()) return;
            bool owned;
            lock (_store._openResources) owned = _store._openResources.Remove(this);
            // Not owned: the store was disposed first and already released it.
            if (owned) ReleaseNative();
        }

        // Called with the store's resource set locked, by exactly one owner.
        public void ReleaseNative()
        {
            Gate.Close();
            _native?.Dispose();
            _native = null;
        }
    }
}
