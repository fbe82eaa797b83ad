namespace Chain.Inference;

/// <summary>
/// Element types, numbered as ONNX's TensorProto.DataType so the number on the wire is the ONNX one.
/// Consensus tensors use only the integer types; Float exists for the determinism lab's contrast model
/// and for reading float initializers (scales) out of ONNX files.
/// </summary>
public enum TensorElementType : byte
{
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    Bool = 9,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
}

public static class TensorElementTypes
{
    /// <summary>Bytes per element, or 0 for a number this project does not know.</summary>
    public static int SizeOf(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 => 2,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Int64 or TensorElementType.UInt64 or TensorElementType.Double => 8,
        _ => 0,
    };

    public static bool IsKnown(TensorElementType type) => SizeOf(type) != 0;

    /// <summary>Integer types: the only ones whose arithmetic may enter consensus.</summary>
    public static bool IsInteger(TensorElementType type) => type is
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.UInt16 or TensorElementType.Int16 or
        TensorElementType.Int32 or TensorElementType.Int64 or TensorElementType.UInt32 or TensorElementType.UInt64;

    public static string Name(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.Int16 => "int16",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        TensorElementType.Bool => "bool",
        TensorElementType.Double => "float64",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.UInt64 => "uint64",
        _ => $"dtype({(byte)type})",
    };

    /// <summary>Parses a name as <see cref="Name"/> writes it (also "float" and "double"); false when unknown.</summary>
    public static bool TryParse(string name, out TensorElementType type)
    {
        foreach (var t in Enum.GetValues<TensorElementType>())
        {
            if (Name(t) == name) { type = t; return true; }
        }
        (var ok, type) = name switch
        {
            "float" => (true, TensorElementType.Float),
            "double" => (true, TensorElementType.Double),
            _ => (false, default),
        };
        return ok;
    }

    /// <summary>The value range of an integer type (64-bit limits as the nearest doubles).</summary>
    public static (double Min, double Max) Range(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 => (byte.MinValue, byte.MaxValue),
        TensorElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        TensorElementType.UInt16 => (ushort.MinValue, ushort.MaxValue),
        TensorElementType.Int16 => (short.MinValue, short.MaxValue),
        TensorElementType.Int32 => (int.MinValue, int.MaxValue),
        TensorElementType.UInt32 => (uint.MinValue, uint.MaxValue),
        TensorElementType.Int64 => (long.MinValue, long.MaxValue),
        TensorElementType.UInt64 => (ulong.MinValue, ulong.MaxValue),
        TensorElementType.Bool => (0, 1),
        _ => throw new ArgumentException($"{Name(type)} is not an integer type"),
    };
}
