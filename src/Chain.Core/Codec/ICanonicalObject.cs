using MessagePack;

namespace Chain.Core.Codec;

/// <summary>
/// A protocol object with one canonical MessagePack encoding. Implementations write a fixed-arity
/// array with <see cref="WriteTo"/> and read it back with <see cref="ReadFrom"/>; the strictness
/// checks (minimal formats, exact arity, no trailing bytes, byte-exact round trip) live in
/// <see cref="Canonical"/> and <see cref="CanonicalReader"/>, so no object can forget them.
/// </summary>
public interface ICanonicalObject<TSelf> where TSelf : ICanonicalObject<TSelf>
{
    /// <summary>The name used in error messages, e.g. "transaction".</summary>
    static abstract string KindName { get; }

    /// <summary>The largest encoding accepted when this object is decoded on its own.</summary>
    static abstract int MaxEncodedSize { get; }

    void WriteTo(ref MessagePackWriter writer);

    static abstract TSelf ReadFrom(ref CanonicalReader reader);
}
