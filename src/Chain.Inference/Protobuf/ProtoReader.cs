using System.Buffers.Binary;
using System.Text;

namespace Chain.Inference.Protobuf;

/// <summary>
/// A forward-only reader over one protobuf message. Offsets in errors are absolute (relative to the
/// outermost input), so a report points at the exact byte. Every length is checked against what is
/// left before it is used, and nested readers carry the depth so recursion is bounded.
/// </summary>
public ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly long _base;
    private readonly int _maxDepth;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data) : this(data, ProtoLimits.MaxMessageBytes, ProtoLimits.MaxDepth)
    {
    }

    /// <summary>
    /// A reader with other size and depth limits: offline tooling (float models before quantization) only;
    /// consensus reading always uses the <see cref="ProtoLimits"/> defaults of the public constructor.
    /// </summary>
    internal ProtoReader(ReadOnlySpan<byte> data, int maxBytes, int maxDepth) : this(data, 0, 0, maxDepth)
    {
        if (data.Length > maxBytes)
            throw new OnnxFormatException($"input is {data.Length} bytes, more than the limit of {maxBytes}", 0);
    }

    private ProtoReader(ReadOnlySpan<byte> data, long baseOffset, int depth, int maxDepth)
    {
        _data = data;
        _base = baseOffset;
        _pos = 0;
        Depth = depth;
        _maxDepth = maxDepth;
    }

    public int Depth { get; }

    /// <summary>Absolute offset of the next byte.</summary>
    public readonly long Offset => _base + _pos;

    public readonly bool AtEnd => _pos >= _data.Length;

    public readonly OnnxFormatException Error(string message) => new(message, Offset);

    /// <summary>Reads the next field key; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out WireType wireType)
    {
        if (AtEnd)
        {
            field = 0;
            wireType = 0;
            return false;
        }
        var at = Offset;
        var key = ReadVarint();
        if (key > uint.MaxValue) throw new OnnxFormatException($"field key {key} is out of range", at);
        field = (int)(key >> 3);
        wireType = (WireType)(key & 7);
        if (field == 0) throw new OnnxFormatException("field number 0 is not valid", at);
        if (wireType is WireType.StartGroup or WireType.EndGroup)
            throw new OnnxFormatException($"field {field} uses the deprecated group encoding", at);
        if ((int)wireType > 5) throw new OnnxFormatException($"field {field} has unknown wire type {(int)wireType}", at);
        return true;
    }

    public ulong ReadVarint()
    {
        var start = Offset;
        ulong value = 0;
        for (var i = 0; i < 10; i++)
        {
            if (_pos >= _data.Length) throw new OnnxFormatException("truncated varint", start);
            var b = _data[_pos++];
            // The tenth byte may only carry the top bit of a 64-bit value.
            if (i == 9 && b >= 0x80) throw new OnnxFormatException("varint is longer than 10 bytes", start);
            if (i == 9 && b > 1) throw new OnnxFormatException("varint overflows 64 bits", start);
            value |= (ulong)(b & 0x7f) << (7 * i);
            if (b < 0x80) return value;
        }
        throw new InvalidOperationException("unreachable: the tenth byte always ends the loop");
    }

    /// <summary>An int64/int32 field: protobuf encodes negatives as 10-byte two's complement.</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>An int32 field; values outside int32 are refused rather than truncated.</summary>
    public int ReadInt32()
    {
        var at = Offset;
        var v = ReadInt64();
        if (v is < int.MinValue or > int.MaxValue) throw new OnnxFormatException($"int32 field holds {v}", at);
        return (int)v;
    }

    public uint ReadFixed32()
    {
        if (_data.Length - _pos < 4) throw Error("truncated fixed32");
        var v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
        _pos += 4;
        return v;
    }

    public ulong ReadFixed64()
    {
        if (_data.Length - _pos < 8) throw Error("truncated fixed64");
        var v = BinaryPrimitives.ReadUInt64LittleEndian(_data[_pos..]);
        _pos += 8;
        return v;
    }

    public float ReadFloat() => BitConverter.UInt32BitsToSingle(ReadFixed32());

    /// <summary>The payload of a length-delimited field; <paramref name="payloadOffset"/> is its absolute start.</summary>
    public ReadOnlySpan<byte> ReadBytes(out long payloadOffset)
    {
        var at = Offset;
        var len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos))
            throw new OnnxFormatException($"length {len} runs past the end of the enclosing message ({_data.Length - _pos} bytes left)", at);
        payloadOffset = Offset;
        var span = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return span;
    }

    public ReadOnlySpan<byte> ReadBytes() => ReadBytes(out _);

    public string ReadString(string what)
    {
        var bytes = ReadBytes(out var at);
        if (bytes.Length > ProtoLimits.MaxStringBytes)
            throw new OnnxFormatException($"{what} is {bytes.Length} bytes, more than the limit of {ProtoLimits.MaxStringBytes}", at);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new OnnxFormatException($"{what} is not valid UTF-8", at);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>A nested message, one level deeper.</summary>
    public ProtoReader ReadMessage(string what)
    {
        var at = Offset;
        if (Depth + 1 > _maxDepth)
            throw new OnnxFormatException($"{what} is nested deeper than {_maxDepth} levels", at);
        var bytes = ReadBytes(out var payload);
        return new ProtoReader(bytes, payload, Depth + 1, _maxDepth);
    }

    /// <summary>Skips a field this reader does not use.</summary>
    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: ReadFixed64(); break;
            case WireType.Fixed32: ReadFixed32(); break;
            case WireType.LengthDelimited: ReadBytes(); break;
            default: throw Error($"cannot skip wire type {(int)wireType}");
        }
    }

    /// <summary>Fails unless the field arrived with the expected wire type.</summary>
    public readonly void Expect(WireType actual, WireType expected, string what)
    {
        if (actual != expected)
            throw Error($"{what} has wire type {(int)actual}, expected {(int)expected}");
    }

    /// <summary>
    /// One occurrence of a repeated varint field, packed (one length-delimited run) or unpacked (one value);
    /// both forms may be mixed, as protobuf parsers must accept.
    /// </summary>
    public void ReadRepeatedVarint(WireType wireType, List<long> into, string what, int max = ProtoLimits.MaxRepeated)
    {
        if (wireType == WireType.Varint)
        {
            CheckCount(into.Count + 1, max, what);
            into.Add(ReadInt64());
            return;
        }
        Expect(wireType, WireType.LengthDelimited, what);
        var bytes = ReadBytes(out var at);
        var inner = new ProtoReader(bytes, at, Depth, _maxDepth);
        while (!inner.AtEnd)
        {
            inner.CheckCount(into.Count + 1, max, what);
            into.Add(inner.ReadInt64());
        }
    }

    /// <summary>One occurrence of a repeated float (fixed32) field, packed or unpacked.</summary>
    public void ReadRepeatedFloat(WireType wireType, List<float> into, string what, int max = ProtoLimits.MaxRepeated)
    {
        if (wireType == WireType.Fixed32)
        {
            CheckCount(into.Count + 1, max, what);
            into.Add(ReadFloat());
            return;
        }
        Expect(wireType, WireType.LengthDelimited, what);
        var bytes = ReadBytes(out var at);
        if (bytes.Length % 4 != 0) throw new OnnxFormatException($"packed {what} is {bytes.Length} bytes, not a multiple of 4", at);
        CheckCount(into.Count + bytes.Length / 4, max, what);
        for (var i = 0; i < bytes.Length; i += 4)
            into.Add(BitConverter.UInt32BitsToSingle(BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..])));
    }

    /// <summary>One occurrence of a repeated double (fixed64) field, packed or unpacked.</summary>
    public void ReadRepeatedDouble(WireType wireType, List<double> into, string what, int max = ProtoLimits.MaxRepeated)
    {
        if (wireType == WireType.Fixed64)
        {
            CheckCount(into.Count + 1, max, what);
            into.Add(BitConverter.UInt64BitsToDouble(ReadFixed64()));
            return;
        }
        Expect(wireType, WireType.LengthDelimited, what);
        var bytes = ReadBytes(out var at);
        if (bytes.Length % 8 != 0) throw new OnnxFormatException($"packed {what} is {bytes.Length} bytes, not a multiple of 8", at);
        CheckCount(into.Count + bytes.Length / 8, max, what);
        for (var i = 0; i < bytes.Length; i += 8)
            into.Add(BitConverter.UInt64BitsToDouble(BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..])));
    }

    public readonly void CheckCount(int count, int max, string what)
    {
        if (count > max) throw Error($"more than {max} {what}");
    }
}
