using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Chain.Core;

/// <summary>
/// A 32-byte hash held by value (four machine words), so hashes live on the stack and in arrays
/// without allocation. Byte order is the order of the digest; comparisons are lexicographic over bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct Hash32 : IEquatable<Hash32>, IComparable<Hash32>
{
    public const int Size = 32;

    private readonly ulong _w0, _w1, _w2, _w3;

    public static Hash32 Zero => default;

    public Hash32(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new ArgumentException($"a Hash32 is {Size} bytes, got {bytes.Length}", nameof(bytes));
        this = MemoryMarshal.Read<Hash32>(bytes);
    }

    /// <summary>The 32 bytes, without copying.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => MemoryMarshal.AsBytes(new ReadOnlySpan<Hash32>(in this));

    public bool IsZero => (_w0 | _w1 | _w2 | _w3) == 0;

    public void CopyTo(Span<byte> destination) => Bytes.CopyTo(destination);

    public byte[] ToArray() => Bytes.ToArray();

    public bool Equals(Hash32 other) =>
        _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    public override bool Equals(object? obj) => obj is Hash32 other && Equals(other);

    // The digest is already uniformly distributed: any 8 bytes are a good hash code.
    public override int GetHashCode() => (int)_w0 ^ (int)(_w0 >> 32);

    public int CompareTo(Hash32 other)
    {
        // Big-endian word comparison equals lexicographic byte comparison.
        int c = Compare(_w0, other._w0);
        if (c != 0) return c;
        c = Compare(_w1, other._w1);
        if (c != 0) return c;
        c = Compare(_w2, other._w2);
        return c != 0 ? c : Compare(_w3, other._w3);

        static int Compare(ulong a, ulong b) =>
            BitConverter.IsLittleEndian
                ? BinaryPrimitives.ReverseEndianness(a).CompareTo(BinaryPrimitives.ReverseEndianness(b))
                : a.CompareTo(b);
    }

    public static bool operator ==(Hash32 a, Hash32 b) => a.Equals(b);
    public static bool operator !=(Hash32 a, Hash32 b) => !a.Equals(b);
    public static bool operator <(Hash32 a, Hash32 b) => a.CompareTo(b) < 0;
    public static bool operator >(Hash32 a, Hash32 b) => a.CompareTo(b) > 0;
    public static bool operator <=(Hash32 a, Hash32 b) => a.CompareTo(b) <= 0;
    public static bool operator >=(Hash32 a, Hash32 b) => a.CompareTo(b) >= 0;

    /// <summary>Lower-case hex, 64 characters.</summary>
    public override string ToString() => Convert.ToHexStringLower(Bytes);

    public static Hash32 Parse(string hex) =>
        TryParse(hex, out var h) ? h : throw new FormatException($"not a 64-character hex hash: '{hex}'");

    public static bool TryParse(string? hex, out Hash32 hash)
    {
        hash = default;
        if (hex is null || hex.Length != Size * 2) return false;
        Span<byte> buffer = stackalloc byte[Size];
        if (Convert.FromHexString(hex, buffer, out _, out int written) != System.Buffers.OperationStatus.Done || written != Size)
            return false;
        hash = new Hash32(buffer);
        return true;
    }
}
