using System.Buffers.Binary;

namespace Chain.Storage;

/// <summary>
/// Key encodings. RocksDB orders keys byte-lexicographically, so integers are written big-endian:
/// then key order is numeric order and range scans over heights need no decoding.
/// </summary>
public static class Keys
{
    /// <summary>The 8-byte big-endian key for a height.</summary>
    public static byte[] Height(ulong height)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(key, height);
        return key;
    }

    /// <summary>Reads a key written by <see cref="Height"/>.</summary>
    public static ulong ReadHeight(ReadOnlySpan<byte> key)
    {
        if (key.Length < 8) throw new ArgumentException($"a height key is 8 bytes, got {key.Length}", nameof(key));
        return BinaryPrimitives.ReadUInt64BigEndian(key);
    }

    /// <summary>A 12-byte key (height, index): orders by height, then by position inside the block.</summary>
    public static byte[] HeightIndex(ulong height, uint index)
    {
        var key = new byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(key, height);
        BinaryPrimitives.WriteUInt32BigEndian(key.AsSpan(8), index);
        return key;
    }

    /// <summary>Reads a key written by <see cref="HeightIndex"/>.</summary>
    public static (ulong Height, uint Index) ReadHeightIndex(ReadOnlySpan<byte> key)
    {
        if (key.Length != 12) throw new ArgumentException($"a (height, index) key is 12 bytes, got {key.Length}", nameof(key));
        return (BinaryPrimitives.ReadUInt64BigEndian(key), BinaryPrimitives.ReadUInt32BigEndian(key[8..]));
    }

    /// <summary><paramref name="prefix"/> followed by <paramref name="suffix"/>, as one new array.</summary>
    public static byte[] Concat(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> suffix)
    {
        var key = new byte[prefix.Length + suffix.Length];
        prefix.CopyTo(key);
        suffix.CopyTo(key.AsSpan(prefix.Length));
        return key;
    }

    /// <summary>
    /// The smallest key greater than every key that starts with <paramref name="prefix"/>, or null when
    /// there is none (the prefix is empty or all 0xff), meaning "to the end of the column".
    /// </summary>
    public static byte[]? PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        for (int i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] == 0xff) continue;
            var end = prefix[..(i + 1)].ToArray();
            end[i]++;
            return end;
        }
        return null;
    }

    /// <summary>Byte-lexicographic order, the order RocksDB's default comparator uses.</summary>
    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    /// <summary><see cref="Compare"/> as an <see cref="IComparer{T}"/> over arrays.</summary>
    public static IComparer<byte[]> Comparer { get; } = Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b));
}
