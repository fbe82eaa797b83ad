using System.Buffers.Binary;
using Chain.Core;
using Chain.Core.Codec;
using MessagePack;

namespace Chain.Consensus.Storage;

/// <summary>One WAL record: an engine input at a height, with the clock reading it was handled at. Encoding: <c>[height, nowMs, event]</c>.</summary>
public sealed class WalEntry(Height height, ulong nowMs, ConsensusEvent ev) : CanonicalObject<WalEntry>, ICanonicalObject<WalEntry>
{
    public Height Height { get; } = height;
    public ulong NowMs { get; } = nowMs;
    public ConsensusEvent Event { get; } = ev;

    public static string KindName => "wal entry";
    public static int MaxEncodedSize => ConsensusEvent.MaxEncodedSize + 32;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Height.Value);
        writer.Write(NowMs);
        Event.WriteTo(ref writer);
    }

    public static WalEntry ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "wal entry");
        var h = new Height(reader.ReadUInt64("height"));
        ulong now = reader.ReadUInt64("now");
        return new WalEntry(h, now, ConsensusEvent.ReadFrom(ref reader));
    }
}

/// <summary>The WAL holds damage that is not a torn tail: it needs an operator, not a guess.</summary>
public sealed class WalCorruptedException(string message) : Exception(message);

/// <summary>
/// The consensus write-ahead log. Record: <c>length: u32 LE || crc32c(payload): u32 LE || payload</c>,
/// payload = canonical <see cref="WalEntry"/>. Inputs are appended before the engine sees them; own signed
/// messages are appended and synced before they are broadcast. On open, a partial or checksum-failing
/// final record (a write torn by a crash) is cut off; damage followed by further records is an error.
/// </summary>
public sealed class ConsensusWal
{
    public const int HeaderSize = 8;
    private readonly IFileSystem _fs;
    private readonly string _path;

    private ConsensusWal(IFileSystem fs, string path)
    {
        _fs = fs;
        _path = path;
    }

    public string Path => _path;

    public static ConsensusWal Open(IFileSystem fs, string path, out List<WalEntry> entries, out long truncatedBytes)
    {
        entries = new List<WalEntry>();
        truncatedBytes = 0;
        var data = fs.ReadAll(path) ?? [];
        long offset = 0;
        while (offset < data.Length)
        {
            long remaining = data.Length - offset;
            if (remaining < HeaderSize) break; // torn header
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)offset));
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)offset + 4));
            if (len == 0 || len > WalEntry.MaxEncodedSize || len > remaining - HeaderSize) break; // torn or garbled length: the tail
            var payload = data.AsMemory((int)offset + HeaderSize, (int)len);
            long end = offset + HeaderSize + len;
            if (Crc32C.Compute(payload.Span) != crc)
            {
                if (end == data.Length) break; // the last record was torn
                throw new WalCorruptedException($"{path}: checksum mismatch in the record at byte {offset}, with {data.Length - end} bytes after it");
            }
            if (!Canonical.TryDecode<WalEntry>(payload, out var entry, out var error))
                throw new WalCorruptedException($"{path}: record at byte {offset} has a good checksum but does not decode: {error!.Message}");
            entries.Add(entry!);
            offset = end;
        }
        if (offset < data.Length)
        {
            truncatedBytes = data.Length - offset;
            fs.Truncate(path, offset);
        }
        return new ConsensusWal(fs, path);
    }

    public static byte[] Frame(WalEntry entry)
    {
        var payload = entry.Encoded.Span;
        var record = new byte[HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), Crc32C.Compute(payload));
        payload.CopyTo(record.AsSpan(HeaderSize));
        return record;
    }

    public void Append(WalEntry entry) => _fs.Append(_path, Frame(entry));

    public void Sync() => _fs.Sync(_path);

    /// <summary>Atomically replaces the log with <paramref name="keep"/> (drops finished heights).</summary>
    public void Reset(IEnumerable<WalEntry> keep)
    {
        var buffer = new MemoryStream();
        foreach (var e in keep) buffer.Write(Frame(e));
        _fs.WriteAtomic(_path, buffer.ToArray());
    }
}
