using System.Buffers.Binary;
using System.Text;

namespace Chain.Inference.Protobuf;

/// <summary>
/// Writes protobuf messages in field order. Nested messages are written into their own writer first,
/// so their length is known; repeated scalars are always packed, as proto3 writers do.
/// </summary>
public sealed class ProtoWriter
{
    private readonly MemoryStream _buffer = new();

    public int Length => (int)_buffer.Length;

    public byte[] ToArray() => _buffer.ToArray();

    public void WriteTag(int field, WireType wireType) => WriteVarint(((ulong)field << 3) | (ulong)wireType);

    public void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }

    public void WriteInt64(int field, long value)
    {
        WriteTag(field, WireType.Varint);
        WriteVarint((ulong)value);
    }

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireType.Fixed32);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, BitConverter.SingleToUInt32Bits(value));
        _buffer.Write(b);
    }

    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>Writes a string field only when non-empty (proto3 default elision).</summary>
    public void WriteStringIfAny(int field, string? value)
    {
        if (!string.IsNullOrEmpty(value)) WriteString(field, value);
    }

    public void WriteMessage(int field, ProtoWriter message) => WriteBytes(field, message._buffer.GetBuffer().AsSpan(0, message.Length));

    public void WritePackedVarints(int field, IReadOnlyList<long> values)
    {
        if (values.Count == 0) return;
        var inner = new ProtoWriter();
        foreach (var v in values) inner.WriteVarint((ulong)v);
        WriteMessage(field, inner);
    }

    public void WritePackedFloats(int field, IReadOnlyList<float> values)
    {
        if (values.Count == 0) return;
        var bytes = new byte[values.Count * 4];
        for (var i = 0; i < values.Count; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), BitConverter.SingleToUInt32Bits(values[i]));
        WriteBytes(field, bytes);
    }
}
