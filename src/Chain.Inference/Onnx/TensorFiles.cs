using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Chain.Inference.Onnx;

/// <summary>
/// Tensors in the file formats users have: NumPy <c>.npy</c> (format 1.0–3.0, little-endian or byte-sized
/// elements, C order), a serialized ONNX <c>TensorProto</c> (<c>.pb</c>, as in the ONNX test data), and JSON:
/// <c>{"dtype":"float32","shape":[1,4],"data":[…]}</c> (dtype optional, float32 by default) or nested arrays of
/// numbers (float32). Every failure is a <see cref="FormatException"/> with a one-line reason.
/// </summary>
public static class TensorFiles
{
    /// <summary>Largest tensor file read (a transaction carries at most 1 MiB of integer data; float inputs are 4× that).</summary>
    public const long MaxFileBytes = 64L << 20;

    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a tensor file, choosing the format by extension (.npy, .pb, .json), else by content.</summary>
    public static Tensor Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FormatException($"no such file: {path}");
        if (info.Length > MaxFileBytes) throw new FormatException($"{path} is {info.Length} bytes, more than the {MaxFileBytes >> 20} MiB a tensor file may be");
        var bytes = File.ReadAllBytes(path);
        try
        {
            return Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".npy" => ParseNpy(bytes),
                ".pb" => ParseTensorProto(bytes),
                ".json" => ParseJson(Encoding.UTF8.GetString(bytes)),
                _ => bytes.AsSpan().StartsWith(NpyMagic) ? ParseNpy(bytes)
                    : bytes.Length > 0 && (bytes[0] == (byte)'{' || bytes[0] == (byte)'[') ? ParseJson(Encoding.UTF8.GetString(bytes))
                    : ParseTensorProto(bytes),
            };
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}");
        }
    }

    /// <summary>Every tensor file (.npy, .pb, .json) directly in <paramref name="directory"/>, in ordinal name order.</summary>
    public static IReadOnlyList<string> List(string directory)
    {
        if (!Directory.Exists(directory)) throw new FormatException($"no such directory: {directory}");
        return Directory.EnumerateFiles(directory)
            .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".npy" or ".pb" or ".json")
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
    }

    public static Tensor ParseTensorProto(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return OnnxTensorProto.Parse(bytes).Value;
        }
        catch (Protobuf.OnnxFormatException e)
        {
            throw new FormatException($"not a TensorProto: {e.Message}");
        }
    }

    public static Tensor ParseNpy(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.StartsWith(NpyMagic) || bytes.Length < 10) throw new FormatException("not a .npy file (no \\x93NUMPY magic)");
        int major = bytes[6], headerLen, start;
        switch (major)
        {
            case 1: headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]); start = 10; break;
            case 2 or 3:
                if (bytes.Length < 12) throw new FormatException(".npy header is truncated");
                var len = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
                if (len > 1 << 20) throw new FormatException($".npy header of {len} bytes is too long");
                headerLen = (int)len; start = 12; break;
            default: throw new FormatException($".npy format version {major} is not supported");
        }
        if (start + headerLen > bytes.Length) throw new FormatException(".npy header is truncated");
        var header = Encoding.Latin1.GetString(bytes.Slice(start, headerLen));
        var descr = HeaderValue(header, "descr").Trim('\'', '"');
        var fortran = HeaderValue(header, "fortran_order");
        if (fortran != "False") throw new FormatException($".npy fortran_order {fortran} is not supported (save with C order)");
        var shapeText = HeaderValue(header, "shape").Trim('(', ')');
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : throw new FormatException($".npy shape ({shapeText}) is not a tuple of sizes"))
            .ToArray();
        var (type, size, isF64) = descr switch
        {
            "<f4" => (TensorElementType.Float, 4, false),
            "<f8" => (TensorElementType.Float, 8, true),
            "|i1" or "<i1" => (TensorElementType.Int8, 1, false),
            "|u1" or "<u1" => (TensorElementType.UInt8, 1, false),
            "<i2" => (TensorElementType.Int16, 2, false),
            "<u2" => (TensorElementType.UInt16, 2, false),
            "<i4" => (TensorElementType.Int32, 4, false),
            "<i8" => (TensorElementType.Int64, 8, false),
            "|b1" => (TensorElementType.Bool, 1, false),
            _ => throw new FormatException($".npy dtype '{descr}' is not supported (little-endian float32/64 or integers)"),
        };
        long count = 1;
        foreach (var d in shape) count = checked(count * d);
        var data = bytes[(start + headerLen)..];
        if (data.Length != count * size) throw new FormatException($".npy data is {data.Length} bytes, shape ({shapeText}) of {descr} needs {count * size}");
        if (!isF64) return Create(type, shape, data);
        // float64 files (numpy's default) are narrowed to float32, each value rounded to nearest.
        var floats = new float[count];
        for (var i = 0; i < floats.Length; i++) floats[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(data[(i * 8)..]);
        return Create(TensorElementType.Float, shape, MemoryMarshal.AsBytes(floats.AsSpan()));
    }

    private static Tensor Create(TensorElementType type, int[] shape, ReadOnlySpan<byte> data)
    {
        try
        {
            return Tensor.Create(type, shape, data);
        }
        catch (ArgumentException e)
        {
            throw new FormatException(e.Message);
        }
    }

    private static string HeaderValue(string header, string key)
    {
        var at = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (at < 0) throw new FormatException($".npy header has no '{key}'");
        var colon = header.IndexOf(':', at);
        if (colon < 0) throw new FormatException($".npy header '{key}' has no value");
        var rest = header[(colon + 1)..].TrimStart();
        var end = rest.StartsWith('(') ? rest.IndexOf(')') + 1 : rest.IndexOfAny([',', '}']);
        if (end <= 0) throw new FormatException($".npy header '{key}' is malformed");
        return rest[..end].Trim();
    }

    /// <summary>Writes a tensor as .npy (format 1.0, C order); float32, integers and bool.</summary>
    public static byte[] ToNpy(Tensor tensor)
    {
        var descr = tensor.ElementType switch
        {
            TensorElementType.Float => "<f4",
            TensorElementType.Int8 => "|i1",
            TensorElementType.UInt8 => "|u1",
            TensorElementType.Int16 => "<i2",
            TensorElementType.UInt16 => "<u2",
            TensorElementType.Int32 => "<i4",
            TensorElementType.Int64 => "<i8",
            TensorElementType.Bool => "|b1",
            var t => throw new ArgumentException($"cannot write {TensorElementTypes.Name(t)} as .npy"),
        };
        var dims = tensor.Shape.ToArray();
        var shape = dims.Length == 1 ? $"({dims[0]},)" : $"({string.Join(", ", dims)})";
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Pad with spaces so the data starts on a 64-byte boundary, newline-terminated (the format's rule).
        var total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        var result = new byte[10 + header.Length + tensor.Data.Length];
        NpyMagic.CopyTo(result);
        result[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)header.Length);
        Encoding.Latin1.GetBytes(header, result.AsSpan(10));
        tensor.Data.CopyTo(result.AsSpan(10 + header.Length));
        return result;
    }

    public static Tensor ParseJson(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = Tensor.MaxRank + 2 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"not JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                var shape = new List<int>();
                for (var e = root; e.ValueKind == JsonValueKind.Array; e = e.GetArrayLength() > 0 ? e[0] : default)
                {
                    shape.Add(e.GetArrayLength());
                    if (e.GetArrayLength() == 0) break;
                }
                var values = new List<double>();
                Flatten(root, 0, shape, values);
                return FromNumbers(TensorElementType.Float, [.. shape], values);
            }
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || !root.TryGetProperty("shape", out var shapeEl))
                throw new FormatException("JSON tensor must be nested arrays or an object with \"shape\" and \"data\"");
            var dtype = root.TryGetProperty("dtype", out var d) ? d.GetString() ?? "float32" : "float32";
            var type = TensorElementTypes.TryParse(dtype, out var t) ? t : throw new FormatException($"dtype '{dtype}' is not known");
            var dims = shapeEl.EnumerateArray().Select(x => x.TryGetInt32(out var v) && v >= 0 ? v : throw new FormatException("shape must be non-negative integers")).ToArray();
            if (data.ValueKind != JsonValueKind.Array) throw new FormatException("\"data\" must be an array of numbers");
            var flat = new List<double>();
            foreach (var x in data.EnumerateArray())
                flat.Add(x.ValueKind == JsonValueKind.Number ? x.GetDouble() : throw new FormatException("\"data\" must hold numbers only"));
            return FromNumbers(type, dims, flat);
        }
    }

    private static void Flatten(JsonElement e, int depth, List<int> shape, List<double> values)
    {
        if (depth == shape.Count)
        {
            if (e.ValueKind != JsonValueKind.Number) throw new FormatException("nested arrays must be rectangular and hold numbers");
            values.Add(e.GetDouble());
            return;
        }
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != shape[depth]) throw new FormatException("nested arrays must be rectangular");
        foreach (var c in e.EnumerateArray()) Flatten(c, depth + 1, shape, values);
    }

    private static Tensor FromNumbers(TensorElementType type, int[] shape, List<double> values)
    {
        long count = 1;
        foreach (var d in shape) count = checked(count * d);
        if (values.Count != count) throw new FormatException($"{values.Count} values for shape [{string.Join(",", shape)}] which needs {count}");
        var size = TensorElementTypes.SizeOf(type);
        var bytes = new byte[count * size];
        for (var i = 0; i < values.Count; i++)
        {
            var v = values[i];
            if (type == TensorElementType.Float)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), (float)v);
                continue;
            }
            if (!(TensorElementTypes.IsInteger(type) || type == TensorElementType.Bool) || v != Math.Floor(v)) throw new FormatException($"value {v} is not a {dtypeName(type)}");
            var (lo, hi) = TensorElementTypes.Range(type);
            if (v < lo || v > hi) throw new FormatException($"value {v} is outside {dtypeName(type)}");
            var q = (long)v;
            for (var b = 0; b < size; b++) bytes[i * size + b] = unchecked((byte)(q >> (8 * b)));
        }
        return Create(type, shape, bytes);

        static string dtypeName(TensorElementType t) => TensorElementTypes.Name(t);
    }
}
