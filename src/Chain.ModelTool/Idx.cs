using System.Buffers.Binary;

namespace Chain.ModelTool;

/// <summary>An IDX file (the MNIST container): unsigned-byte elements and their dimensions.</summary>
public sealed record IdxFile(int[] Dimensions, byte[] Data)
{
    public long Count => Dimensions.Length == 0 ? 0 : Dimensions[0];
}

/// <summary>
/// Reads IDX files as published for MNIST: magic 0x00 0x00 type ndims, ndims big-endian u32 dimensions,
/// then exactly the product of the dimensions in elements. Only type 0x08 (u8) is accepted since that is
/// all MNIST uses; anything else, or any length mismatch, is refused with the reason.
/// </summary>
public static class IdxReader
{
    public const byte TypeUnsignedByte = 0x08;

    public static IdxFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file {path} does not exist", path);
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static IdxFile Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4) throw new InvalidDataException($"IDX file is {bytes.Length} bytes, shorter than its 4-byte magic");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"bad IDX magic: first two bytes are 0x{bytes[0]:x2} 0x{bytes[1]:x2}, expected 0x00 0x00");
        if (bytes[2] != TypeUnsignedByte)
            throw new InvalidDataException($"unsupported IDX element type 0x{bytes[2]:x2}; only 0x08 (unsigned byte) is read");
        int rank = bytes[3];
        if (rank == 0) throw new InvalidDataException("IDX file declares zero dimensions");
        var headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength)
            throw new InvalidDataException($"IDX header declares {rank} dimensions but the file ends after {bytes.Length} bytes");
        var dims = new int[rank];
        long count = 1;
        for (var i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadUInt32BigEndian(bytes.Slice(4 + 4 * i, 4));
            if (d == 0 || d > int.MaxValue) throw new InvalidDataException($"IDX dimension {i} is {d}");
            dims[i] = (int)d;
            count *= d;
            if (count > int.MaxValue) throw new InvalidDataException("IDX element count exceeds 2^31-1");
        }
        var payload = bytes.Length - headerLength;
        if (payload != count)
            throw new InvalidDataException(
                $"IDX dimensions [{string.Join(",", dims)}] need {count} data bytes but the file has {payload}");
        return new IdxFile(dims, bytes[headerLength..].ToArray());
    }

    /// <summary>Serialises u8 data as IDX (used by tests to build files, and symmetric with <see cref="Parse"/>).</summary>
    public static byte[] Write(ReadOnlySpan<int> dims, ReadOnlySpan<byte> data)
    {
        var output = new byte[4 + 4 * dims.Length + data.Length];
        output[2] = TypeUnsignedByte;
        output[3] = checked((byte)dims.Length);
        for (var i = 0; i < dims.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(4 + 4 * i), checked((uint)dims[i]));
        data.CopyTo(output.AsSpan(4 + 4 * dims.Length));
        return output;
    }
}

/// <summary>A labelled image set: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Cols"/> u8 pixels, row-major, back to back.</summary>
public sealed record MnistSet(byte[] Images, byte[] Labels, int Count, int Rows, int Cols)
{
    public int Pixels => Rows * Cols;
    public ReadOnlySpan<byte> Image(int i) => Images.AsSpan(i * Pixels, Pixels);

    public static MnistSet FromIdx(IdxFile images, IdxFile labels, int classes = 10)
    {
        if (images.Dimensions.Length != 3)
            throw new InvalidDataException($"image IDX must have 3 dimensions (count, rows, cols), has {images.Dimensions.Length}");
        if (labels.Dimensions.Length != 1)
            throw new InvalidDataException($"label IDX must have 1 dimension, has {labels.Dimensions.Length}");
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new InvalidDataException($"{images.Dimensions[0]} images but {labels.Dimensions[0]} labels");
        for (var i = 0; i < labels.Data.Length; i++)
            if (labels.Data[i] >= classes) throw new InvalidDataException($"label {i} is {labels.Data[i]}, not below {classes}");
        return new MnistSet(images.Data, labels.Data, images.Dimensions[0], images.Dimensions[1], images.Dimensions[2]);
    }

    /// <summary>Loads "train" or "t10k" from a directory holding the four uncompressed MNIST IDX files (`make mnist`).</summary>
    public static MnistSet Load(string directory, string prefix)
    {
        var set = FromIdx(
            IdxReader.Read(Path.Combine(directory, $"{prefix}-images-idx3-ubyte")),
            IdxReader.Read(Path.Combine(directory, $"{prefix}-labels-idx1-ubyte")));
        if (set.Rows != 28 || set.Cols != 28) throw new InvalidDataException($"MNIST images must be 28x28, are {set.Rows}x{set.Cols}");
        return set;
    }
}
