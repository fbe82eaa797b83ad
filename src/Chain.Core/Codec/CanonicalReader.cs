using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Chain.Core.Crypto;
using MessagePack;

namespace Chain.Core.Codec;

/// <summary>
/// A strict reader over one contiguous buffer. Every read checks that the value's MessagePack
/// format byte is the one the canonical writer would choose for that value (smallest format,
/// unsigned for non-negative integers), that types match, and that sizes stay within limits.
/// Errors carry the object kind and the byte offset.
/// </summary>
public ref struct CanonicalReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlyMemory<byte> _buffer;
    private readonly string _kind;
    private MessagePackReader _reader;

    public CanonicalReader(ReadOnlyMemory<byte> buffer, string objectKind)
    {
        _buffer = buffer;
        _kind = objectKind;
        _reader = new MessagePackReader(buffer);
    }

    public readonly long Offset => _reader.Consumed;
    public readonly bool End => _reader.End;
    public readonly string ObjectKind => _kind;

    public readonly CanonicalEncodingException Error(DecodeError error, string detail, long? offset = null) =>
        new(error, _kind, offset ?? Offset, detail);

    /// <summary>Reads an array header and requires exactly <paramref name="expected"/> items.</summary>
    public void ReadArrayHeader(int expected, string what)
    {
        long at = Offset;
        int count = ReadArrayCount(what, int.MaxValue);
        if (count != expected)
            throw Error(DecodeError.WrongArity, $"{what} has {count} item(s), expected {expected}", at);
    }

    /// <summary>Reads an array header for a list and requires at most <paramref name="max"/> items.</summary>
    public int ReadArrayCount(string what, int max)
    {
        long at = Offset;
        Require(MessagePackType.Array, what);
        byte code = PeekCode();
        int count = Guard(ref this, static (ref MessagePackReader r) => r.ReadArrayHeader(), what);
        byte canonical = count <= 15 ? (byte)(0x90 | count) : count <= ushort.MaxValue ? (byte)0xdc : (byte)0xdd;
        if (code != canonical)
            throw Error(DecodeError.NonCanonical, $"{what}: array header 0x{code:x2} is not the smallest form for {count} items (0x{canonical:x2})", at);
        if (count > max)
            throw Error(DecodeError.LimitExceeded, $"{what} has {count} items, limit {max}", at);
        // Each item takes at least one byte: a count larger than what is left is a lie.
        if (count > _buffer.Length - Offset)
            throw Error(DecodeError.Truncated, $"{what} declares {count} items but only {_buffer.Length - Offset} bytes remain", at);
        return count;
    }

    public ulong ReadUInt64(string what)
    {
        long at = Offset;
        byte code = PeekCode();
        if (code is >= 0xe0 or 0xd0 or 0xd1 or 0xd2 or 0xd3)
        {
            // A signed format: negative values are refused, non-negative ones are over-wide.
            long signed = Guard(ref this, static (ref MessagePackReader r) => r.ReadInt64(), what);
            if (signed < 0)
                throw Error(DecodeError.InvalidValue, $"{what}: negative value {signed} where an unsigned integer is required", at);
            throw Error(DecodeError.NonCanonical, $"{what}: non-negative value {signed} in signed format 0x{code:x2}", at);
        }
        Require(MessagePackType.Integer, what);
        ulong value = Guard(ref this, static (ref MessagePackReader r) => r.ReadUInt64(), what);
        byte canonical = value <= 0x7f ? (byte)value : value <= byte.MaxValue ? (byte)0xcc
            : value <= ushort.MaxValue ? (byte)0xcd : value <= uint.MaxValue ? (byte)0xce : (byte)0xcf;
        if (code != canonical)
            throw Error(DecodeError.NonCanonical, $"{what}: integer {value} is over-wide (format 0x{code:x2}, canonical 0x{canonical:x2})", at);
        return value;
    }

    public uint ReadUInt32(string what)
    {
        long at = Offset;
        ulong value = ReadUInt64(what);
        if (value > uint.MaxValue) throw Error(DecodeError.InvalidValue, $"{what}: {value} does not fit in 32 bits", at);
        return (uint)value;
    }

    public ushort ReadUInt16(string what)
    {
        long at = Offset;
        ulong value = ReadUInt64(what);
        if (value > ushort.MaxValue) throw Error(DecodeError.InvalidValue, $"{what}: {value} does not fit in 16 bits", at);
        return (ushort)value;
    }

    public byte ReadByte(string what)
    {
        long at = Offset;
        ulong value = ReadUInt64(what);
        if (value > byte.MaxValue) throw Error(DecodeError.InvalidValue, $"{what}: {value} does not fit in 8 bits", at);
        return (byte)value;
    }

    public bool ReadBoolean(string what)
    {
        Require(MessagePackType.Boolean, what);
        return Guard(ref this, static (ref MessagePackReader r) => r.ReadBoolean(), what);
    }

    /// <summary>True (and consumes it) when the next value is nil.</summary>
    public bool TryReadNil()
    {
        if (_reader.End) throw Error(DecodeError.Truncated, "input ends where a value is expected");
        return _reader.TryReadNil();
    }

    /// <summary>Reads a binary value of at most <paramref name="maxLength"/> bytes (a copy).</summary>
    public byte[] ReadBytes(string what, int maxLength) => ReadBinarySpan(what, maxLength, exactLength: -1).ToArray();

    /// <summary>Reads a binary value of at most <paramref name="maxLength"/> bytes without copying: a slice of the input, for a constructor that copies it once.</summary>
    public ReadOnlySpan<byte> ReadBytesSpan(string what, int maxLength) => ReadBinarySpan(what, maxLength, exactLength: -1);

    /// <summary>Reads a binary value of exactly <paramref name="length"/> bytes, without copying.</summary>
    public ReadOnlySpan<byte> ReadFixedBytes(string what, int length) => ReadBinarySpan(what, length, exactLength: length);

    public Hash32 ReadHash32(string what) => new(ReadFixedBytes(what, Hash32.Size));

    public Address ReadAddress(string what) => new(ReadFixedBytes(what, Address.Size));

    public PublicKey ReadPublicKey(string what) => new(ReadFixedBytes(what, PublicKey.Size));

    public Signature ReadSignature(string what) => new(ReadFixedBytes(what, Signature.Size));

    public string ReadString(string what, int maxBytes)
    {
        long at = Offset;
        Require(MessagePackType.String, what);
        byte code = PeekCode();
        RequireDeclaredLengthFits(code, what);
        ReadOnlySequence<byte> seq = Guard(ref this, static (ref MessagePackReader r) => r.ReadStringSequence() ?? default, what);
        long length = seq.Length;
        byte canonical = length <= 31 ? (byte)(0xa0 | length) : length <= byte.MaxValue ? (byte)0xd9
            : length <= ushort.MaxValue ? (byte)0xda : (byte)0xdb;
        if (code != canonical)
            throw Error(DecodeError.NonCanonical, $"{what}: string header 0x{code:x2} is not the smallest form for {length} bytes (0x{canonical:x2})", at);
        if (length > maxBytes)
            throw Error(DecodeError.LimitExceeded, $"{what}: string of {length} bytes exceeds the limit of {maxBytes}", at);
        try
        {
            return StrictUtf8.GetString(seq.IsSingleSegment ? seq.FirstSpan : seq.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw Error(DecodeError.InvalidValue, $"{what}: string is not valid UTF-8", at);
        }
    }

    public ChainId ReadChainId(string what)
    {
        long at = Offset;
        string value = ReadString(what, ChainId.MaxLength);
        if (!ChainId.IsValid(value, out var reason))
            throw Error(DecodeError.InvalidValue, $"{what}: invalid chain id '{value}': {reason}", at);
        return new ChainId(value);
    }

    private ReadOnlySpan<byte> ReadBinarySpan(string what, int maxLength, int exactLength)
    {
        long at = Offset;
        Require(MessagePackType.Binary, what);
        byte code = PeekCode();
        RequireDeclaredLengthFits(code, what);
        ReadOnlySequence<byte> seq = Guard(ref this, static (ref MessagePackReader r) => r.ReadBytes() ?? default, what);
        long length = seq.Length;
        byte canonical = length <= byte.MaxValue ? (byte)0xc4 : length <= ushort.MaxValue ? (byte)0xc5 : (byte)0xc6;
        if (code != canonical)
            throw Error(DecodeError.NonCanonical, $"{what}: binary header 0x{code:x2} is not the smallest form for {length} bytes (0x{canonical:x2})", at);
        if (exactLength >= 0 && length != exactLength)
            throw Error(DecodeError.InvalidValue, $"{what}: {length} bytes, expected exactly {exactLength}", at);
        if (length > maxLength)
            throw Error(DecodeError.LimitExceeded, $"{what}: {length} bytes exceeds the limit of {maxLength}", at);
        // The buffer is contiguous, so the sequence is a slice of it.
        int start = checked((int)(Offset - length));
        return _buffer.Span.Slice(start, (int)length);
    }

    /// <summary>
    /// Decodes the length that the str/bin header at the current position declares and refuses one that runs
    /// past the end of the input, before the library sees it. MessagePack-CSharp reads str32/bin32 lengths as
    /// signed 32-bit integers, so a length of 2^31 or more comes out negative, slips past its own bounds check
    /// and fails inside ReadOnlySequence.Slice with an ArgumentOutOfRangeException instead of a decode error.
    /// </summary>
    private readonly void RequireDeclaredLengthFits(byte code, string what)
    {
        long at = Offset;
        ReadOnlySpan<byte> rest = _buffer.Span[checked((int)at)..];
        int headerSize = code switch
        {
            >= 0xa0 and <= 0xbf => 1, // fixstr
            0xc4 or 0xd9 => 2,        // bin8, str8
            0xc5 or 0xda => 3,        // bin16, str16
            0xc6 or 0xdb => 5,        // bin32, str32
            _ => throw Error(DecodeError.WrongType, $"{what}: 0x{code:x2} is not a string or binary header", at),
        };
        if (rest.Length < headerSize)
            throw Error(DecodeError.Truncated, $"input ends inside the header of {what}", at);
        ulong length = headerSize switch
        {
            1 => (ulong)(code & 0x1f),
            2 => rest[1],
            3 => BinaryPrimitives.ReadUInt16BigEndian(rest[1..]),
            _ => BinaryPrimitives.ReadUInt32BigEndian(rest[1..]),
        };
        ulong available = (ulong)(rest.Length - headerSize);
        if (length > available)
            throw Error(DecodeError.Truncated, $"{what} declares {length} bytes but only {available} remain", at);
    }

    private readonly byte PeekCode()
    {
        if (_reader.End) throw Error(DecodeError.Truncated, "input ends where a value is expected");
        return _reader.NextCode;
    }

    private readonly void Require(MessagePackType expected, string what)
    {
        if (_reader.End) throw Error(DecodeError.Truncated, $"input ends where {what} is expected");
        var actual = _reader.NextMessagePackType;
        if (actual != expected)
            throw Error(DecodeError.WrongType, $"{what}: expected {Describe(expected)}, found {Describe(actual)} (0x{_reader.NextCode:x2})");
    }

    private static string Describe(MessagePackType type) => type switch
    {
        MessagePackType.Integer => "an integer",
        MessagePackType.Nil => "nil",
        MessagePackType.Boolean => "a boolean",
        MessagePackType.Float => "a float",
        MessagePackType.String => "a string",
        MessagePackType.Binary => "binary bytes",
        MessagePackType.Array => "an array",
        MessagePackType.Map => "a map",
        MessagePackType.Extension => "an extension",
        _ => "an unknown type",
    };

    private delegate T ReadFunc<T>(ref MessagePackReader reader);

    // Turns the library's exceptions into ours, with offset and object kind.
    private static T Guard<T>(ref CanonicalReader self, ReadFunc<T> read, string what)
    {
        long at = self.Offset;
        try
        {
            return read(ref self._reader);
        }
        catch (EndOfStreamException e)
        {
            throw new CanonicalEncodingException(DecodeError.Truncated, self._kind, at, $"input ends inside {what}", e);
        }
        catch (MessagePackSerializationException e)
        {
            throw new CanonicalEncodingException(DecodeError.WrongType, self._kind, at, $"{what}: {e.Message}", e);
        }
        catch (OverflowException e)
        {
            throw new CanonicalEncodingException(DecodeError.InvalidValue, self._kind, at, $"{what}: value out of range", e);
        }
        catch (ArgumentException e)
        {
            // Defence in depth: the library validating its own slicing of a malformed header (see
            // RequireDeclaredLengthFits) must still surface as a decode error, never as an argument error.
            throw new CanonicalEncodingException(DecodeError.InvalidValue, self._kind, at, $"{what}: malformed value header", e);
        }
    }
}
