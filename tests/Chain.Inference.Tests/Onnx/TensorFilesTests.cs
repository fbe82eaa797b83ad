using System.Text;
using Chain.Inference.Onnx;
using Xunit;

namespace Chain.Inference.Tests.Onnx;

public class TensorFilesTests
{
    private static readonly Tensor Floats = Tensor.Create<float>(TensorElementType.Float, [2, 3], [0f, -1.5f, 2.25f, 1e-3f, 3f, -0f]);

    [Fact]
    public void Npy_round_trips_float32_and_integers()
    {
        Assert.Equal(Floats.Data.ToArray(), TensorFiles.ParseNpy(TensorFiles.ToNpy(Floats)).Data.ToArray());
        var ints = Tensor.Create<sbyte>(TensorElementType.Int8, [4], [-128, -1, 0, 127]);
        var back = TensorFiles.ParseNpy(TensorFiles.ToNpy(ints));
        Assert.Equal(TensorElementType.Int8, back.ElementType);
        Assert.Equal([4], back.Shape.ToArray());
        Assert.Equal(ints.Data.ToArray(), back.Data.ToArray());
        // Data starts on a 64-byte boundary, as numpy writes it.
        Assert.Equal(0, (TensorFiles.ToNpy(ints).Length - 4) % 64);
    }

    [Fact]
    public void Npy_float64_is_narrowed_and_bad_files_are_refused_with_a_reason()
    {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        header += new string(' ', (64 - (10 + header.Length + 1) % 64) % 64) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(Encoding.Latin1.GetBytes(header));
        bytes.AddRange(BitConverter.GetBytes(0.1));
        bytes.AddRange(BitConverter.GetBytes(-2.0));
        var t = TensorFiles.ParseNpy(bytes.ToArray());
        Assert.Equal([0.1f, -2f], t.Elements<float>().ToArray());

        var fortran = bytes.ToArray();
        Replace(fortran, "False", "True ");
        Assert.Contains("fortran_order", Assert.Throws<FormatException>(() => TensorFiles.ParseNpy(fortran)).Message);
        Assert.Contains("magic", Assert.Throws<FormatException>(() => TensorFiles.ParseNpy("not numpy"u8)).Message);
        var truncated = bytes.Take(bytes.Count - 3).ToArray();
        Assert.Contains("needs 16", Assert.Throws<FormatException>(() => TensorFiles.ParseNpy(truncated)).Message);
    }

    private static void Replace(byte[] bytes, string from, string to)
    {
        var at = Encoding.Latin1.GetString(bytes).IndexOf(from, StringComparison.Ordinal);
        Encoding.Latin1.GetBytes(to).CopyTo(bytes, at);
    }

    [Fact]
    public void TensorProto_and_json_forms_read_the_same_tensor()
    {
        var pb = OnnxTensorProto.ToBytes(new OnnxTensor("x", Floats));
        Assert.Equal(Floats.Data.ToArray(), TensorFiles.ParseTensorProto(pb).Data.ToArray());
        var nested = TensorFiles.ParseJson("[[0, -1.5, 2.25], [0.001, 3, -0.0]]");
        Assert.Equal([2, 3], nested.Shape.ToArray());
        Assert.Equal(Floats.Data.ToArray(), nested.Data.ToArray());
        var typed = TensorFiles.ParseJson("{\"dtype\":\"int8\",\"shape\":[3],\"data\":[-128,0,127]}");
        Assert.Equal([-128, 0, 127], typed.Elements<sbyte>().ToArray().Select(v => (int)v));
        Assert.Contains("outside int8", Assert.Throws<FormatException>(() => TensorFiles.ParseJson("{\"dtype\":\"int8\",\"shape\":[1],\"data\":[128]}")).Message);
        Assert.Contains("rectangular", Assert.Throws<FormatException>(() => TensorFiles.ParseJson("[[1,2],[3]]")).Message);
        Assert.Contains("needs 4", Assert.Throws<FormatException>(() => TensorFiles.ParseJson("{\"shape\":[2,2],\"data\":[1]}")).Message);
    }

    [Fact]
    public void Read_picks_the_format_by_extension_and_names_the_file_in_errors()
    {
        var dir = Directory.CreateTempSubdirectory("tensorfiles");
        try
        {
            File.WriteAllBytes(Path.Combine(dir.FullName, "b.npy"), TensorFiles.ToNpy(Floats));
            File.WriteAllBytes(Path.Combine(dir.FullName, "a.pb"), OnnxTensorProto.ToBytes(new OnnxTensor("x", Floats)));
            File.WriteAllText(Path.Combine(dir.FullName, "c.json"), "[1, 2]");
            File.WriteAllText(Path.Combine(dir.FullName, "d.txt"), "ignored");
            var files = TensorFiles.List(dir.FullName);
            Assert.Equal(["a.pb", "b.npy", "c.json"], files.Select(Path.GetFileName));
            Assert.Equal(Floats.Data.ToArray(), TensorFiles.Read(files[0]).Data.ToArray());
            Assert.Equal(Floats.Data.ToArray(), TensorFiles.Read(files[1]).Data.ToArray());
            File.WriteAllText(Path.Combine(dir.FullName, "bad.json"), "{");
            var e = Assert.Throws<FormatException>(() => TensorFiles.Read(Path.Combine(dir.FullName, "bad.json")));
            Assert.StartsWith(Path.Combine(dir.FullName, "bad.json"), e.Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
