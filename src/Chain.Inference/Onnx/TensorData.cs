using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Chain.Inference.Protobuf;

namespace Chain.Inference.Onnx;

/// <summary>Standalone TensorProto messages (the .pb files of the ONNX test data) and their mapping to <see cref="Tensor"/>.</summary>
public static class OnnxTensorProto
{
    /// <summary>Parses one serialized TensorProto.</summary>
    public static OnnxTensor Parse(ReadOnlySpan<byte> bytes)
    {
        var r = new ProtoReader(bytes);
        return OnnxReader.ReadTensor(ref r);
    }

    /// <summary>Serializes a tensor as a TensorProto with raw_data.</summary>
    public static byte[] ToBytes(OnnxTensor tensor) => OnnxWriter.WriteTensor(tensor).ToArray();
}

internal static class TensorData
{
    public static Tensor Build(string name, long dtype, List<long> dims, bool hasRaw, ReadOnlySpan<byte> raw,
        List<float> floats, List<double> doubles, List<long> int32s, List<long> int64s, List<long> uint64s, long offset,
        long maxElements = ProtoLimits.MaxMessageBytes)
    {
        if (dtype is < 1 or > 255 || !TensorElementTypes.IsKnown((TensorElementType)dtype))
            throw new OnnxFormatException($"tensor '{name}' has data type {dtype}, which is not supported", offset);
        var type = (TensorElementType)dtype;
        var size = TensorElementTypes.SizeOf(type);
        var shape = new int[dims.Count];
        long count = 1;
        for (var i = 0; i < dims.Count; i++)
        {
            if (dims[i] < 0 || dims[i] > int.MaxValue)
                throw new OnnxFormatException($"tensor '{name}' has dimension {dims[i]}", offset);
            shape[i] = (int)dims[i];
            count *= dims[i];
            // Data is embedded in the message, so a tensor cannot hold more elements than the input has bytes.
            if (count > maxElements)
                throw new OnnxFormatException($"tensor '{name}' declares more elements than a model can hold", offset);
        }

        var typedFields = (floats.Count > 0 ? 1 : 0) + (doubles.Count > 0 ? 1 : 0) + (int32s.Count > 0 ? 1 : 0) +
                          (int64s.Count > 0 ? 1 : 0) + (uint64s.Count > 0 ? 1 : 0);
        if (typedFields + (hasRaw ? 1 : 0) > 1)
            throw new OnnxFormatException($"tensor '{name}' has data in more than one field", offset);

        byte[] data;
        if (hasRaw)
        {
            if (raw.Length != count * size)
                throw new OnnxFormatException($"tensor '{name}' raw_data is {raw.Length} bytes but shape needs {count * size}", offset);
            data = raw.ToArray();
        }
        else
        {
            // Count check before allocating, so dims alone cannot make the reader allocate.
            var (have, field) = type switch
            {
                TensorElementType.Float => (floats.Count, "float_data"),
                TensorElementType.Double => (doubles.Count, "double_data"),
                TensorElementType.Int64 => (int64s.Count, "int64_data"),
                TensorElementType.UInt64 or TensorElementType.UInt32 => (uint64s.Count, "uint64_data"),
                _ => (int32s.Count, "int32_data"),
            };
            Check(name, have, count, field, offset);
            data = new byte[count * size];
            switch (type)
            {
                case TensorElementType.Float:
                    MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(floats)).CopyTo(data);
                    break;
                case TensorElementType.Double:
                    MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(doubles)).CopyTo(data);
                    break;
                case TensorElementType.Int64:
                    MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(int64s)).CopyTo(data);
                    break;
                case TensorElementType.UInt64 or TensorElementType.UInt32:
                    for (var i = 0; i < count; i++)
                    {
                        var v = (ulong)uint64s[i];
                        if (type == TensorElementType.UInt32 && v > uint.MaxValue)
                            throw new OnnxFormatException($"tensor '{name}' uint64_data value {v} does not fit uint32", offset);
                        if (size == 4) BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(i * 4), (uint)v);
                        else BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(i * 8), v);
                    }
                    break;
                default:
                    // ONNX stores every integer type of 32 bits or fewer (and bool) in int32_data.
                    var (min, max) = Range(type);
                    for (var i = 0; i < count; i++)
                    {
                        var v = int32s[i];
                        if (v < min || v > max)
                            throw new OnnxFormatException($"tensor '{name}' int32_data value {v} is out of range for {TensorElementTypes.Name(type)}", offset);
                        switch (size)
                        {
                            case 1: data[i] = (byte)v; break;
                            case 2: BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(i * 2), (short)v); break;
                            default: BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(i * 4), (int)v); break;
                        }
                    }
                    break;
            }
        }
        try
        {
            return Tensor.Create(type, shape, data);
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException($"tensor '{name}': {e.Message}", offset);
        }
    }

    private static void Check(string name, int have, long need, string field, long offset)
    {
        if (have != need)
            throw new OnnxFormatException($"tensor '{name}' {field} has {have} values but shape needs {need}", offset);
    }

    private static (long Min, long Max) Range(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 => (0, 255),
        TensorElementType.Int8 => (-128, 127),
        TensorElementType.UInt16 => (0, 65535),
        TensorElementType.Int16 => (-32768, 32767),
        TensorElementType.Bool => (0, 1),
        _ => (int.MinValue, int.MaxValue),
    };
}
