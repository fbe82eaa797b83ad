using MessagePack;

namespace Chain.Core.Codec;

/// <summary>
/// Base for immutable protocol objects: caches the canonical encoding (computed once) and defines
/// equality as equality of encodings, which is the only equality consensus cares about.
/// Subclasses must be immutable, or the cache would go stale.
/// </summary>
public abstract class CanonicalObject<TSelf> : IEquatable<TSelf>
    where TSelf : CanonicalObject<TSelf>, ICanonicalObject<TSelf>
{
    private byte[]? _encoded;

    /// <summary>The canonical encoding of this object.</summary>
    public ReadOnlyMemory<byte> Encoded => _encoded ??= Canonical.Encode((TSelf)this);

    public abstract void WriteTo(ref MessagePackWriter writer);

    public bool Equals(TSelf? other) =>
        other is not null && (ReferenceEquals(this, other) || Encoded.Span.SequenceEqual(other.Encoded.Span));

    public override bool Equals(object? obj) => obj is TSelf other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Encoded.Span);
        return hash.ToHashCode();
    }
}
