using Chain.Inference.Kernels;

namespace Chain.Inference.Tests.Kernels;

internal static class KernelTestUtil
{
    /// <summary>Every GEMM path this machine can run (scalar always).</summary>
    public static IEnumerable<GemmPath> SupportedPaths =>
        Enum.GetValues<GemmPath>().Where(KernelOptions.IsSupported);

    public static T Run<T>(GemmPath path, Func<T> f)
    {
        using (KernelOptions.Use(path)) return f();
    }

    public static Tensor U8(int[] shape, params byte[] v) => Tensor.Create<byte>(TensorElementType.UInt8, shape, v);
    public static Tensor S8(int[] shape, params sbyte[] v) => Tensor.Create<sbyte>(TensorElementType.Int8, shape, v);
    public static Tensor I32(int[] shape, params int[] v) => Tensor.Create<int>(TensorElementType.Int32, shape, v);
    public static Tensor I64(int[] shape, params long[] v) => Tensor.Create<long>(TensorElementType.Int64, shape, v);
    public static Tensor F32(int[] shape, params float[] v) => Tensor.Create<float>(TensorElementType.Float, shape, v);
    public static Tensor ScalarF(float v) => F32([], v);

    public static Tensor Random8(Random rng, TensorElementType type, int[] shape, int lo = -128, int hi = 255)
    {
        var count = shape.Aggregate(1, (a, b) => a * b);
        var data = new byte[count];
        var (min, max) = type == TensorElementType.UInt8 ? (Math.Max(lo, 0), Math.Min(hi, 255)) : (Math.Max(lo, -128), Math.Min(hi, 127));
        for (var i = 0; i < count; i++) data[i] = unchecked((byte)rng.Next(min, max + 1));
        return Tensor.Create(type, shape, data);
    }

    /// <summary>Value of element i of a uint8/int8 tensor.</summary>
    public static int At(Tensor t, long i) => t.ElementType == TensorElementType.Int8 ? (sbyte)t.Data[(int)i] : t.Data[(int)i];

    public static void SameBytes(Tensor expected, Tensor actual, string context = "")
    {
        Assert.True(expected.ElementType == actual.ElementType, $"type {expected} vs {actual} {context}");
        Assert.True(expected.ShapeEquals(actual.Shape), $"shape {expected.ShapeText} vs {actual.ShapeText} {context}");
        if (!expected.Data.SequenceEqual(actual.Data))
        {
            var i = 0;
            while (expected.Data[i] == actual.Data[i]) i++;
            Assert.Fail($"bytes differ first at byte {i} {context}");
        }
    }
}
