using System.Buffers;
using MessagePack;

namespace Chain.Core.Codec;

/// <summary>Entry points for canonical encoding and strict decoding of protocol objects.</summary>
public static class Canonical
{
    [ThreadStatic] private static ArrayBufferWriter<byte>? _scratch;

    [ThreadStatic] private static bool _scratchInUse;

    public static byte[] Encode<T>(T value) where T : ICanonicalObject<T>
    {
        var buffer = Rent(out bool pooled);
        try
        {
            var writer = new MessagePackWriter(buffer);
            value.WriteTo(ref writer);
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            if (pooled) _scratchInUse = false;
        }
    }

    /// <summary>Writes with a caller-owned writer (for building larger messages without copies).</summary>
    public static void Encode<T>(T value, IBufferWriter<byte> output) where T : ICanonicalObject<T>
    {
        var writer = new MessagePackWriter(output);
        value.WriteTo(ref writer);
        writer.Flush();
    }

    /// <summary>
    /// Decodes <paramref name="bytes"/> as exactly one <typeparamref name="T"/> and refuses anything but
    /// its canonical encoding: size over the limit, truncation, wrong types, over-wide formats,
    /// wrong arity, trailing bytes, and finally any difference between the input and the re-encoding.
    /// </summary>
    public static T Decode<T>(ReadOnlyMemory<byte> bytes) where T : ICanonicalObject<T>
    {
        if (bytes.Length > T.MaxEncodedSize)
            throw new CanonicalEncodingException(DecodeError.LimitExceeded, T.KindName, 0,
                $"{bytes.Length} bytes exceeds the limit of {T.MaxEncodedSize}");
        if (bytes.IsEmpty)
            throw new CanonicalEncodingException(DecodeError.Truncated, T.KindName, 0, "empty input");

        var reader = new CanonicalReader(bytes, T.KindName);
        T value = T.ReadFrom(ref reader);
        if (!reader.End)
            throw new CanonicalEncodingException(DecodeError.TrailingBytes, T.KindName, reader.Offset,
                $"{bytes.Length - reader.Offset} trailing byte(s) after the object");

        // Belt and braces: the field-level checks should already make this impossible to fail.
        var buffer = Rent(out bool pooled);
        try
        {
            var writer = new MessagePackWriter(buffer);
            value.WriteTo(ref writer);
            writer.Flush();
            var reencoded = buffer.WrittenSpan;
            if (!reencoded.SequenceEqual(bytes.Span))
            {
                int at = reencoded.CommonPrefixLength(bytes.Span);
                throw new CanonicalEncodingException(DecodeError.NonCanonical, T.KindName, at,
                    "bytes do not round-trip to the canonical encoding");
            }
        }
        finally
        {
            if (pooled) _scratchInUse = false;
        }
        return value;
    }

    /// <summary>Like <see cref="Decode{T}"/> but reports failure instead of throwing.</summary>
    public static bool TryDecode<T>(ReadOnlyMemory<byte> bytes, out T? value, out CanonicalEncodingException? error)
        where T : ICanonicalObject<T>
    {
        try
        {
            value = Decode<T>(bytes);
            error = null;
            return true;
        }
        catch (CanonicalEncodingException e)
        {
            value = default;
            error = e;
            return false;
        }
    }

    // One scratch buffer per thread; a nested use (an object whose WriteTo encodes another) gets a fresh one.
    private static ArrayBufferWriter<byte> Rent(out bool pooled)
    {
        if (_scratchInUse)
        {
            pooled = false;
            return new ArrayBufferWriter<byte>(256);
        }
        _scratchInUse = pooled = true;
        var buffer = _scratch ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        // Do not let one huge block pin memory for the thread's lifetime.
        if (buffer.Capacity > 4 << 20) buffer = _scratch = new ArrayBufferWriter<byte>(1024);
        return buffer;
    }
}
