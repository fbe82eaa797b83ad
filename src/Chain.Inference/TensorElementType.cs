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
}
