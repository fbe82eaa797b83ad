namespace Chain.Inference.Protobuf;

/// <summary>
/// The bytes are not a well-formed model in the subset this project reads. <see cref="Offset"/> is the
/// absolute byte offset in the input where the problem was found (-1 when it is not about one place).
/// </summary>
public sealed class OnnxFormatException : Exception
{
    public OnnxFormatException(string message, long offset = -1)
        : base(offset >= 0 ? $"{message} (at byte {offset})" : message)
    {
        Offset = offset;
    }

    public long Offset { get; }
}
