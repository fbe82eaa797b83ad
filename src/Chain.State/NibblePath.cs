using Chain.Core;

namespace Chain.State;

/// <summary>
/// A path from the root: the first <see cref="Length"/> nibbles (4-bit digits, high nibble of each byte first)
/// of a 256-bit key. Immutable; <see cref="Append"/> makes a new path.
/// </summary>
internal readonly struct NibblePath
{
    public const int MaxLength = 64;

    private readonly byte[]? _bytes; // 32 bytes, nibbles beyond Length are zero

    private NibblePath(byte[] bytes, int length)
    {
        _bytes = bytes;
        Length = length;
    }

    public static NibblePath Root => default;

    public int Length { get; }

    public int this[int index] => Nibble(_bytes!, index);

    public static int Nibble(ReadOnlySpan<byte> key, int index) =>
        (index & 1) == 0 ? key[index >> 1] >> 4 : key[index >> 1] & 0x0f;

    public static int Nibble(in Hash32 key, int index) => Nibble(key.Bytes, index);

    public NibblePath Append(int nibble)
    {
        if (Length >= MaxLength) throw new InvalidOperationException("a nibble path has at most 64 nibbles");
        var bytes = new byte[Hash32.Size];
        if (_bytes is not null) _bytes.CopyTo(bytes, 0);
        int i = Length >> 1;
        bytes[i] = (Length & 1) == 0 ? (byte)(nibble << 4) : (byte)(bytes[i] | nibble);
        return new NibblePath(bytes, Length + 1);
    }

    /// <summary>The packed nibbles: ceil(Length/2) bytes, an odd path's last low nibble zero.</summary>
    public ReadOnlySpan<byte> Packed => _bytes is null ? [] : _bytes.AsSpan(0, (Length + 1) >> 1);

    /// <summary>True when this path is a prefix of <paramref name="key"/>.</summary>
    public bool IsPrefixOf(in Hash32 key)
    {
        var k = key.Bytes;
        for (int i = 0; i < Length; i++)
            if (this[i] != Nibble(k, i)) return false;
        return true;
    }

    public override string ToString()
    {
        var chars = new char[Length];
        for (int i = 0; i < Length; i++) chars[i] = "0123456789abcdef"[this[i]];
        return new string(chars);
    }
}
