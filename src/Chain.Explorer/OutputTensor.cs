using System.Buffers.Binary;
using Chain.Core.Codec;
using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Explorer;

/// <summary>
/// A receipt's output (or a request's input): the canonical tensor encoding decoded strictly, its little-endian elements
/// read as integers, dequantized and ranked when the model records its float interface (<see cref="QuantizationMetadata"/>).
/// Display only: what consensus commits to is the bytes and their hash.
/// </summary>
internal sealed record OutputTensor(TensorElementType Type, IReadOnlyList<int> Shape, long[] Values, double[]? Dequantized, IReadOnlyList<string>? Labels)
{
    /// <summary>The tensor, or null with <paramref name="reason"/> when the bytes do not fit the signature.</summary>
    public static OutputTensor? TryDecode(ReadOnlyMemory<byte> encoded, QuantizationMetadata? metadata, out string reason)
    {
        if (!Canonical.TryDecode<Tensor>(encoded, out var tensor, out var error) || tensor is null)
        {
            reason = $"not a canonical tensor ({error?.Message})";
            return null;
        }
        var type = tensor.ElementType;
        var shape = tensor.Shape.ToArray();
        var bytes = tensor.Data;
        int size = TensorElementTypes.SizeOf(type);
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (size == 0 || !TensorElementTypes.IsInteger(type))
        {
            reason = $"element type {TensorElementTypes.Name(type)} is not an integer type the explorer reads";
            return null;
        }
        if (count * size != bytes.Length)
        {
            reason = $"{bytes.Length} bytes do not hold {count} {TensorElementTypes.Name(type)} elements";
            return null;
        }
        var values = new long[count];
        for (int i = 0; i < count; i++)
        {
            var e = bytes.Slice(i * size, size);
            values[i] = type switch
            {
                TensorElementType.Int8 => (sbyte)e[0],
                TensorElementType.UInt8 or TensorElementType.Bool => e[0],
                TensorElementType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(e),
                TensorElementType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(e),
                TensorElementType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(e),
                TensorElementType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(e),
                TensorElementType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(e),
                _ => (long)BinaryPrimitives.ReadUInt64LittleEndian(e),
            };
        }
        double[]? real = null;
        if (metadata is { Outputs.Count: 1 } && metadata.Outputs[0] is var q && q.Type == type)
            real = values.Select(v => (v - q.ZeroPoint) * (double)q.Scale).ToArray();
        var labels = metadata?.Labels is { } l && l.Count == count ? l : null;
        reason = "";
        return new OutputTensor(type, shape, values, real, labels);
    }

    /// <summary>The k largest elements (ties: lower index first), ranked by the quantized value, which orders as the real one.</summary>
    public IReadOnlyList<(int Index, long Value, double? Real, string? Label)> TopK(int k) =>
        Values.Select((v, i) => (Index: i, Value: v))
            .OrderByDescending(p => p.Value).ThenBy(p => p.Index).Take(k)
            .Select(p => (p.Index, p.Value, Dequantized?[p.Index], Labels?[p.Index]))
            .ToList();
}
