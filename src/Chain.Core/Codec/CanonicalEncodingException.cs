namespace Chain.Core.Codec;

/// <summary>Why a byte string was refused as the canonical encoding of a protocol object.</summary>
public enum DecodeError
{
    /// <summary>The input ended in the middle of a value.</summary>
    Truncated,
    /// <summary>Bytes remain after the object.</summary>
    TrailingBytes,
    /// <summary>An array has more or fewer items than the object's layout.</summary>
    WrongArity,
    /// <summary>A value of another MessagePack type stands where the layout expects this one.</summary>
    WrongType,
    /// <summary>A value is encoded in a wider or different format than the one canonical form.</summary>
    NonCanonical,
    /// <summary>A size or count limit is exceeded.</summary>
    LimitExceeded,
    /// <summary>The value is well-formed but not allowed (unknown kind tag, bad chain id, invalid UTF-8...).</summary>
    InvalidValue,
}

/// <summary>A refused encoding: what kind of object, what went wrong, and at which byte offset.</summary>
public sealed class CanonicalEncodingException : FormatException
{
    public CanonicalEncodingException(DecodeError error, string objectKind, long offset, string detail, Exception? inner = null)
        : base($"invalid {objectKind} encoding: {detail} (at byte {offset}; {error})", inner)
    {
        Error = error;
        ObjectKind = objectKind;
        Offset = offset;
        Detail = detail;
    }

    public DecodeError Error { get; }
    public string ObjectKind { get; }
    public long Offset { get; }
    public string Detail { get; }
}
