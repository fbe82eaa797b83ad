using System.Buffers.Binary;

namespace Chain.Storage.Tests;

/// <summary>
/// The batches the crash child writes and the parent checks: batch <c>n</c> puts
/// <see cref="KeysPerBatch"/> values, spread over every column, plus a Meta record naming <c>n</c>.
/// Contents are a pure function of (n, j), so the parent can tell a whole batch from a torn one.
/// </summary>
internal static class CrashWorkload
{
    public const int KeysPerBatch = 12;
    public static readonly byte[] LastBatchKey = "crash/last_batch"u8.ToArray();

    public static Column ColumnOf(int j) => (Column)(j % 6); // every column but Meta, which holds LastBatchKey

    public static byte[] Key(long batch, int j) => Keys.HeightIndex((ulong)batch, (uint)j);

    public static byte[] Value(long batch, int j)
    {
        // Sizes up to ~8 KiB make a batch span several WAL blocks (32 KiB), so kills land mid-record.
        var value = new byte[256 + (int)((batch * 7919 + j * 104729) % 8192)];
        var random = new Random(unchecked((int)(batch * 1_000_003 + j)));
        random.NextBytes(value);
        BinaryPrimitives.WriteInt64BigEndian(value, batch);
        return value;
    }

    public static StoreBatch Batch(long batch)
    {
        var result = new StoreBatch();
        for (int j = 0; j < KeysPerBatch; j++) result.Put(ColumnOf(j), Key(batch, j), Value(batch, j));
        result.Put(Column.Meta, LastBatchKey, Keys.Height((ulong)batch));
        return result;
    }
}
