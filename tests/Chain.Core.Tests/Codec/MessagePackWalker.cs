using MessagePack;

namespace Chain.Core.Tests.Codec;

/// <summary>
/// Walks an encoding and lists where each value starts, so tests can malleate every integer and
/// every array header of any object without knowing its layout.
/// </summary>
internal static class MessagePackWalker
{
    public sealed record Node(long Offset, long Length, MessagePackType Type, int ArrayCount, long ArrayEnd);

    public static List<Node> Walk(byte[] bytes)
    {
        var nodes = new List<Node>();
        var reader = new MessagePackReader(bytes);
        WalkValue(ref reader, nodes);
        return nodes;
    }

    private static void WalkValue(ref MessagePackReader reader, List<Node> nodes)
    {
        long start = reader.Consumed;
        var type = reader.NextMessagePackType;
        if (type == MessagePackType.Array)
        {
            int count = reader.ReadArrayHeader();
            int index = nodes.Count;
            nodes.Add(new Node(start, reader.Consumed - start, type, count, 0));
            for (int i = 0; i < count; i++) WalkValue(ref reader, nodes);
            nodes[index] = nodes[index] with { ArrayEnd = reader.Consumed };
            return;
        }
        reader.Skip();
        nodes.Add(new Node(start, reader.Consumed - start, type, 0, 0));
    }

    /// <summary>Encodes <paramref name="value"/> in a wider format than canonical (same value).</summary>
    public static byte[] WidenedInteger(ulong value, byte canonicalCode)
    {
        // Pick the next wider unsigned format; for uint64 use the signed int64 format is impossible for
        // values above long.MaxValue, so those are the one case without a wider form.
        return canonicalCode switch
        {
            <= 0x7f => [0xcc, (byte)value],
            0xcc => [0xcd, 0, (byte)value],
            0xcd => [0xce, 0, 0, (byte)(value >> 8), (byte)value],
            0xce => [0xcf, 0, 0, 0, 0, (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value],
            _ => [],
        };
    }

    public static ulong ReadUInt(byte[] bytes, long offset)
    {
        var reader = new MessagePackReader(bytes.AsMemory((int)offset));
        return reader.ReadUInt64();
    }

    public static byte[] Splice(byte[] bytes, long offset, long removeLength, ReadOnlySpan<byte> insert)
    {
        var result = new byte[bytes.Length - removeLength + insert.Length];
        bytes.AsSpan(0, (int)offset).CopyTo(result);
        insert.CopyTo(result.AsSpan((int)offset));
        bytes.AsSpan((int)(offset + removeLength)).CopyTo(result.AsSpan((int)offset + insert.Length));
        return result;
    }

    /// <summary>The header for an array of <paramref name="count"/> items, in canonical form.</summary>
    public static byte[] ArrayHeader(int count) =>
        count <= 15 ? [(byte)(0x90 | count)] : count <= ushort.MaxValue ? [0xdc, (byte)(count >> 8), (byte)count]
            : [0xdd, (byte)(count >> 24), (byte)(count >> 16), (byte)(count >> 8), (byte)count];
}
