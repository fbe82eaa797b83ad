using System.Runtime.InteropServices;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Inference;

/// <summary>
/// A dense tensor: element type, static shape, and the elements as raw little-endian bytes in
/// row-major order. Immutable once built (the data array is owned), so its canonical encoding and
/// hash can be cached. Canonical encoding: [dtype u8, [dim u32 ...], data bin] (docs/inference-semantics.md).
/// </summary>
public sealed class Tensor : CanonicalObject<Tensor>, ICanonicalObject<Tensor>
{
    public const int MaxRank = 8;

    private readonly int[] _shape;
    private readonly Memory<byte> _data;

    static Tensor()
    {
        // Raw data is reinterpreted in place; the protocol is little-endian and so must the host be.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Chain requires a little-endian host.");
    }

    private Tensor(TensorElementType elementType, int[] shape, Memory<byte> data, bool isView = false)
    {
        ElementType = elementType;
        _shape = shape;
        _data = data;
        IsView = isView;
    }

    /// <summary>Builds a tensor, copying shape and data; throws <see cref="ArgumentException"/> on any inconsistency.</summary>
    public static Tensor Create(TensorElementType elementType, ReadOnlySpan<int> shape, ReadOnlySpan<byte> data)
    {
        var count = CheckShape(elementType, shape);
        if ((long)data.Length != count * TensorElementTypes.SizeOf(elementType))
            throw new ArgumentException(
                $"tensor data is {data.Length} bytes but shape [{string.Join(",", shape.ToArray())}] of {TensorElementTypes.Name(elementType)} needs {count * TensorElementTypes.SizeOf(elementType)}");
        return new Tensor(elementType, shape.ToArray(), data.ToArray());
    }

    /// <summary>Builds a tensor from typed elements (copied).</summary>
    public static Tensor Create<T>(TensorElementType elementType, ReadOnlySpan<int> shape, ReadOnlySpan<T> elements)
        where T : unmanaged =>
        Marshal.SizeOf<T>() != TensorElementTypes.SizeOf(elementType)
            ? throw new ArgumentException($"{typeof(T).Name} does not match {TensorElementTypes.Name(elementType)}")
            : Create(elementType, shape, MemoryMarshal.AsBytes(elements));

    /// <summary>A zero-filled tensor.</summary>
    public static Tensor Zeros(TensorElementType elementType, ReadOnlySpan<int> shape)
    {
        var count = CheckShape(elementType, shape);
        return new Tensor(elementType, shape.ToArray(), new byte[count * TensorElementTypes.SizeOf(elementType)]);
    }

    /// <summary>Takes ownership of <paramref name="data"/> without copying (callers must not keep writing to it).</summary>
    internal static Tensor Wrap(TensorElementType elementType, int[] shape, byte[] data)
    {
        var count = CheckShape(elementType, shape);
        if (data.Length != count * TensorElementTypes.SizeOf(elementType))
            throw new ArgumentException("tensor data length does not match its shape");
        return new Tensor(elementType, shape, data);
    }

    /// <summary>
    /// A tensor over memory it does not own: a slot of the canonical executor's arena, overwritten by later
    /// nodes and runs. Views never leave the executor (outputs are copied out), and their hash is never cached.
    /// </summary>
    internal static Tensor View(TensorElementType elementType, int[] shape, Memory<byte> data)
    {
        var count = CheckShape(elementType, shape);
        if (data.Length != count * TensorElementTypes.SizeOf(elementType))
            throw new ArgumentException("tensor view length does not match its shape");
        return new Tensor(elementType, shape, data, isView: true);
    }

    /// <summary>True for an arena view (see <see cref="View"/>): its bytes change after the node that reads it.</summary>
    internal bool IsView { get; }

    /// <summary>An owned copy (of a view, or of anything).</summary>
    public Tensor Copy() => new(ElementType, _shape.ToArray(), _data.ToArray());

    private static long CheckShape(TensorElementType elementType, ReadOnlySpan<int> shape)
    {
        if (!TensorElementTypes.IsKnown(elementType))
            throw new ArgumentException($"unknown tensor element type {(byte)elementType}");
        if (shape.Length > MaxRank)
            throw new ArgumentException($"tensor rank {shape.Length} exceeds the limit of {MaxRank}");
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor dimension {d} is negative");
            count *= d;
            if (count * TensorElementTypes.SizeOf(elementType) > ProtocolLimits.MaxTensorBytes * 64L)
                throw new ArgumentException("tensor is larger than any tensor the executor accepts");
        }
        return count;
    }

    public TensorElementType ElementType { get; }
    public ReadOnlySpan<int> Shape => _shape;
    public int Rank => _shape.Length;
    public long ElementCount => _data.Length / TensorElementTypes.SizeOf(ElementType);
    public ReadOnlySpan<byte> Data => _data.Span;

    /// <summary>The bytes of an output the calling kernel has just created and is still filling.</summary>
    internal Span<byte> WritableData => _data.Span;

    /// <summary>The elements reinterpreted as <typeparamref name="T"/>, which must match the element size.</summary>
    public ReadOnlySpan<T> Elements<T>() where T : unmanaged =>
        Marshal.SizeOf<T>() != TensorElementTypes.SizeOf(ElementType)
            ? throw new InvalidOperationException($"{typeof(T).Name} does not match {TensorElementTypes.Name(ElementType)}")
            : MemoryMarshal.Cast<byte, T>(_data.Span);

    /// <summary>Hash of the canonical encoding under the "tensor" domain: the input and output hashes in receipts.</summary>
    public Hash32 Hash => DomainHash.Compute(HashDomain.Tensor, IsView ? Canonical.Encode(this) : Encoded.Span);

    public bool ShapeEquals(ReadOnlySpan<int> shape) => _shape.AsSpan().SequenceEqual(shape);

    public string ShapeText => "[" + string.Join(",", _shape) + "]";

    public override string ToString() => $"{TensorElementTypes.Name(ElementType)}{ShapeText}";

    public static string KindName => "tensor";

    /// <summary>Standalone canonical tensors are bounded by the protocol's tensor limit.</summary>
    public static int MaxEncodedSize => ProtocolLimits.MaxTensorBytes + 64;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write((byte)ElementType);
        writer.WriteArrayHeader(_shape.Length);
        foreach (var d in _shape) writer.Write((uint)d);
        writer.Write(_data.Span);
    }

    public static Tensor ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "tensor");
        var type = (TensorElementType)reader.ReadByte("element type");
        if (!TensorElementTypes.IsKnown(type))
            throw reader.Error(DecodeError.InvalidValue, $"unknown element type {(byte)type}");
        var rank = reader.ReadArrayCount("shape", MaxRank);
        var shape = new int[rank];
        long count = 1;
        for (var i = 0; i < rank; i++)
        {
            var d = reader.ReadUInt32("dimension");
            if (d > ProtocolLimits.MaxTensorBytes)
                throw reader.Error(DecodeError.LimitExceeded, $"dimension {d} exceeds {ProtocolLimits.MaxTensorBytes}");
            shape[i] = (int)d;
            count *= d;
            if (count > ProtocolLimits.MaxTensorBytes)
                throw reader.Error(DecodeError.LimitExceeded, "tensor has more elements than the protocol allows");
        }
        var expected = (int)count * TensorElementTypes.SizeOf(type);
        var data = reader.ReadBytes("data", ProtocolLimits.MaxTensorBytes);
        if (data.Length != expected)
            throw reader.Error(DecodeError.InvalidValue, $"data is {data.Length} bytes, shape needs {expected}");
        return new Tensor(type, shape, data);
    }
}
