using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using NSec.Cryptography;

namespace Chain.Core.Crypto;

[InlineArray(32)]
internal struct Bytes32Buffer { private byte _element0; }

[InlineArray(64)]
internal struct Bytes64Buffer { private byte _element0; }

/// <summary>An Ed25519 public key (32 bytes, RFC 8032 encoding), held by value.</summary>
public readonly struct PublicKey : IEquatable<PublicKey>
{
    public const int Size = 32;
    private readonly Bytes32Buffer _bytes;

    public PublicKey(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new ArgumentException($"an Ed25519 public key is {Size} bytes, got {bytes.Length}", nameof(bytes));
        bytes.CopyTo(_bytes);
    }

    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => _bytes;

    public Address Address => Address.FromPublicKey(Bytes);

    public bool Equals(PublicKey other) => Bytes.SequenceEqual(other.Bytes);
    public override bool Equals(object? obj) => obj is PublicKey other && Equals(other);
    public override int GetHashCode() => BitConverter.ToInt32(Bytes);
    public static bool operator ==(PublicKey a, PublicKey b) => a.Equals(b);
    public static bool operator !=(PublicKey a, PublicKey b) => !a.Equals(b);
    public override string ToString() => Convert.ToHexStringLower(Bytes);

    public static PublicKey Parse(string hex)
    {
        byte[] bytes;
        try { bytes = Convert.FromHexString(hex); }
        catch (FormatException) { throw new FormatException($"public key is not hex: '{hex}'"); }
        if (bytes.Length != Size) throw new FormatException($"public key must be {Size} bytes, got {bytes.Length}");
        return new PublicKey(bytes);
    }
}

/// <summary>An Ed25519 signature (64 bytes), held by value.</summary>
public readonly struct Signature : IEquatable<Signature>
{
    public const int Size = 64;
    private readonly Bytes64Buffer _bytes;

    public Signature(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new ArgumentException($"an Ed25519 signature is {Size} bytes, got {bytes.Length}", nameof(bytes));
        bytes.CopyTo(_bytes);
    }

    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => _bytes;

    public bool Equals(Signature other) => Bytes.SequenceEqual(other.Bytes);
    public override bool Equals(object? obj) => obj is Signature other && Equals(other);
    public override int GetHashCode() => BitConverter.ToInt32(Bytes);
    public static bool operator ==(Signature a, Signature b) => a.Equals(b);
    public static bool operator !=(Signature a, Signature b) => !a.Equals(b);
    public override string ToString() => Convert.ToHexStringLower(Bytes);
}

/// <summary>
/// Ed25519 (RFC 8032, pure variant) through NSec/libsodium. Verification is strict: libsodium
/// refuses non-canonical S and small-order keys, so a signature has exactly one accepted form.
/// </summary>
public static class Ed25519
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;

    /// <summary>Bound on remembered imported keys; the whole cache is dropped when it is reached.</summary>
    private const int MaxImportedKeys = 16_384;

    // Importing a key (point decoding and validation) costs about as much as verifying, and the same
    // few keys (validators, active accounts) sign again and again. Imported keys are immutable.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<PublicKey, NSec.Cryptography.PublicKey?> Imported = new();

    public static bool Verify(in PublicKey publicKey, ReadOnlySpan<byte> message, in Signature signature)
    {
        var key = Import(publicKey);
        return key is not null && Algorithm.Verify(key, message, signature.Bytes);
    }

    private static NSec.Cryptography.PublicKey? Import(in PublicKey publicKey)
    {
        if (Imported.TryGetValue(publicKey, out var cached)) return cached;
        var key = NSec.Cryptography.PublicKey.TryImport(Algorithm, publicKey.Bytes, KeyBlobFormat.RawPublicKey, out var imported) ? imported : null;
        if (Imported.Count >= MaxImportedKeys) Imported.Clear();
        Imported.TryAdd(publicKey, key);
        return key;
    }
}

/// <summary>
/// An Ed25519 private key. The 32-byte seed is the secret; it is exportable only so that key files
/// can be written (see <see cref="KeyFile"/>).
/// </summary>
public sealed class PrivateKey : IDisposable
{
    public const int SeedSize = 32;
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private PrivateKey(Key key)
    {
        _key = key;
        PublicKey = new PublicKey(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public PublicKey PublicKey { get; }

    public Address Address => PublicKey.Address;

    /// <summary>A new key from the operating system's CSPRNG.</summary>
    public static PrivateKey Generate() =>
        new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>The key whose RFC 8032 seed is <paramref name="seed"/> (deterministic; used for key files and tests).</summary>
    public static PrivateKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SeedSize)
            throw new ArgumentException($"an Ed25519 seed is {SeedSize} bytes, got {seed.Length}", nameof(seed));
        return new(Key.Import(Algorithm, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    public Signature Sign(ReadOnlySpan<byte> message)
    {
        Span<byte> sig = stackalloc byte[Signature.Size];
        Algorithm.Sign(_key, message, sig);
        return new Signature(sig);
    }

    /// <summary>The secret seed. Callers must not log it and should clear it after use.</summary>
    public byte[] ExportSeed() => _key.Export(KeyBlobFormat.RawPrivateKey);

    public void Dispose() => _key.Dispose();
}
