using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Chain.Core.Crypto;
using MessagePack;

namespace Chain.Core.Codec;

/// <summary>
/// Writers for the fixed-size value types. MessagePackWriter copies the bytes at once, so handing it
/// a span over the caller's value is safe; the compiler cannot see that, hence the unsafe view.
/// </summary>
public static class CanonicalWriter
{
    public static void Write(this ref MessagePackWriter writer, in Hash32 value) =>
        writer.Write(View(in value, Hash32.Size));

    public static void Write(this ref MessagePackWriter writer, in Address value) =>
        writer.Write(View(in value, Address.Size));

    public static void Write(this ref MessagePackWriter writer, in PublicKey value) =>
        writer.Write(View(in value, PublicKey.Size));

    public static void Write(this ref MessagePackWriter writer, in Signature value) =>
        writer.Write(View(in value, Signature.Size));

    /// <summary>Writes nil for null, else the hash.</summary>
    public static void WriteOptional(this ref MessagePackWriter writer, Hash32? value)
    {
        if (value is { } h) writer.Write(in h);
        else writer.WriteNil();
    }

    private static ReadOnlySpan<byte> View<T>(scoped in T value, int size) where T : struct
    {
        System.Diagnostics.Debug.Assert(Unsafe.SizeOf<T>() == size);
        return MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<T, byte>(ref Unsafe.AsRef(in value)), size);
    }
}
