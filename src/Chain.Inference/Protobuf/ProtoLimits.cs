using Chain.Core.Protocol;

namespace Chain.Inference.Protobuf;

/// <summary>
/// Hard limits applied while reading, before anything is allocated for a field, so hostile bytes
/// cannot make a validator spend memory or time beyond what a registered model may need.
/// </summary>
public static class ProtoLimits
{
    /// <summary>Largest input the reader accepts: the largest model a transaction may register.</summary>
    public const int MaxMessageBytes = ProtocolLimits.MaxModelBytes;

    /// <summary>Deepest message nesting; the subset needs 8 (model, graph, value info, type, tensor type, shape, dim).</summary>
    public const int MaxDepth = 16;

    /// <summary>Most elements in any one repeated field (nodes, initializers, ints, floats, names...).</summary>
    public const int MaxRepeated = 1 << 16;

    /// <summary>Longest name, op type, domain or string attribute.</summary>
    public const int MaxStringBytes = 4096;

    /// <summary>Most nodes in a graph.</summary>
    public const int MaxNodes = 4096;

    /// <summary>Most attributes on one node.</summary>
    public const int MaxAttributes = 64;

    /// <summary>Most metadata_props entries a model may carry (each key and value is a string, so at most <see cref="MaxStringBytes"/>).</summary>
    public const int MaxMetadataProps = 64;
}
