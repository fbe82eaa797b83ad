using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Chain.Core.Hashing;

namespace Chain.Core;

/// <summary>
/// An account address: the first 20 bytes of SHA-256("chain/v1/address" framing, Ed25519 public key).
/// See docs/protocol.md, "Addresses".
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public readonly struct Address : IEquatable<Address>, IComparable<Address>
{
    public const int Size = 20;

    private readonly ulong _w0, _w1;
    private readonly uint _w2;

    public Address(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new ArgumentException($"an Address is {Size} bytes, got {bytes.Length}", nameof(bytes));
        this = MemoryMarshal.Read<Address>(bytes);
    }

    public static Address Zero => default;

    /// <summary>Derives the address of an Ed25519 public key.</summary>
    public static Address FromPublicKey(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != 32)
            throw new ArgumentException($"an Ed25519 public key is 32 bytes, got {publicKey.Length}", nameof(publicKey));
        var digest = DomainHash.Compute(HashDomain.Address, publicKey);
        return new Address(digest.Bytes[..Size]);
    }

    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => MemoryMarshal.AsBytes(new ReadOnlySpan<Address>(in this));

    public byte[] ToArray() => Bytes.ToArray();

    public bool Equals(Address other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2;
    public override bool Equals(object? obj) => obj is Address other && Equals(other);
    public override int GetHashCode() => (int)_w0 ^ (int)(_w0 >> 32);
    public int CompareTo(Address other) => Bytes.SequenceCompareTo(other.Bytes);
    public static bool operator ==(Address a, Address b) => a.Equals(b);
    public static bool operator !=(Address a, Address b) => !a.Equals(b);

    /// <summary>Lower-case hex, 40 characters.</summary>
    public override string ToString() => Convert.ToHexStringLower(Bytes);

    public static Address Parse(string hex) =>
        TryParse(hex, out var a) ? a : throw new FormatException($"not a 40-character hex address: '{hex}'");

    public static bool TryParse(string? hex, out Address address)
    {
        address = default;
        if (hex is null || hex.Length != Size * 2) return false;
        Span<byte> buffer = stackalloc byte[Size];
        if (Convert.FromHexString(hex, buffer, out _, out int written) != System.Buffers.OperationStatus.Done || written != Size)
            return false;
        address = new Address(buffer);
        return true;
    }
}
