using Chain.Inference.Kernels;
using static Chain.Inference.Tests.Kernels.KernelTestUtil;

namespace Chain.Inference.Tests.Kernels;

public class ElementwiseAndShapeTests
{
    [Fact]
    public void Add_and_Mul_wrap_in_the_element_type_and_broadcast()
    {
        Assert.Equal(new sbyte[] { -128, 0, -128 }, CanonicalOps.Add(S8([3], 127, -1, 127), S8([1], 1)).Elements<sbyte>().ToArray());
        Assert.Equal(new sbyte[] { -128, 0, -2 }, CanonicalOps.Add(S8([3], 127, -1, 127), S8([3], 1, 1, 127)).Elements<sbyte>().ToArray());
        var add = CanonicalOps.Add(U8([2, 1], 10, 250), U8([3], 1, 5, 6));
        Assert.Equal(new[] { 2, 3 }, add.Shape.ToArray());
        Assert.Equal(new byte[] { 11, 15, 16, 251, 255, 0 }, add.Data.ToArray());
        Assert.Equal(new[] { int.MinValue, 6 }, CanonicalOps.Mul(I32([2], 1 << 30, 3), I32([2], 2, 2)).Elements<int>().ToArray());
        var mul = CanonicalOps.Mul(I64([2, 1, 2], 1, 2, 3, 4), I64([3, 1], 1, 10, 100));
        Assert.Equal(new[] { 2, 3, 2 }, mul.Shape.ToArray());
        Assert.Equal(new long[] { 1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400 }, mul.Elements<long>().ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Add(U8([2], 1, 2), S8([2], 1, 2)));
        Assert.Throws<InferenceException>(() => CanonicalOps.Add(U8([2], 1, 2), U8([3], 1, 2, 3)));
        Assert.Throws<InferenceException>(() => CanonicalOps.Add(F32([1], 1f), F32([1], 1f)));
    }

    [Fact]
    public void Max_is_variadic_with_joint_broadcasting()
    {
        var m = CanonicalOps.Max(S8([3], -5, 0, 9), S8([1], 1), S8([2, 1], -100, 4));
        Assert.Equal(new[] { 2, 3 }, m.Shape.ToArray());
        Assert.Equal(new sbyte[] { 1, 1, 9, 4, 4, 9 }, m.Elements<sbyte>().ToArray());
        var u64 = Tensor.Create<ulong>(TensorElementType.UInt64, [2], [ulong.MaxValue, 1]);
        Assert.Equal(ulong.MaxValue, CanonicalOps.Max(u64, Tensor.Create<ulong>(TensorElementType.UInt64, [1], [2])).Elements<ulong>()[0]);
    }

    [Fact]
    public void Clip_and_Relu()
    {
        var x = S8([5], -128, -3, 0, 5, 127);
        Assert.Equal(new sbyte[] { -2, -2, 0, 5, 6 }, CanonicalOps.Clip(x, S8([], -2), S8([], 6)).Elements<sbyte>().ToArray());
        Assert.Equal(new sbyte[] { -128, -3, 0, 3, 3 }, CanonicalOps.Clip(x, null, S8([], 3)).Elements<sbyte>().ToArray());
        Assert.Equal(new sbyte[] { 1, 1, 1, 1, 1 }, CanonicalOps.Clip(x, S8([], 4), S8([], 1)).Elements<sbyte>().ToArray()); // min > max → max
        Assert.Equal(new sbyte[] { 0, 0, 0, 5, 127 }, CanonicalOps.Relu(x).Elements<sbyte>().ToArray());
        Assert.Equal(new[] { 0, 7 }, CanonicalOps.Relu(I32([2], int.MinValue, 7)).Elements<int>().ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Clip(x, U8([], 1)));
        Assert.Throws<InferenceException>(() => CanonicalOps.Relu(U8([1], 1)));
    }

    [Fact]
    public void Cast_truncates_two_complement()
    {
        var x = I32([5], 300, -1, -129, 128, 0);
        Assert.Equal(new byte[] { 44, 255, 127, 128, 0 }, CanonicalOps.Cast(x, TensorElementType.UInt8).Data.ToArray());
        Assert.Equal(new sbyte[] { 44, -1, 127, -128, 0 }, CanonicalOps.Cast(x, TensorElementType.Int8).Elements<sbyte>().ToArray());
        Assert.Equal(new long[] { 255, 0 }, CanonicalOps.Cast(U8([2], 255, 0), TensorElementType.Int64).Elements<long>().ToArray());
        Assert.Equal(new long[] { -1, 0 }, CanonicalOps.Cast(S8([2], -1, 0), TensorElementType.Int64).Elements<long>().ToArray());
        Assert.Equal(new ulong[] { ulong.MaxValue }, CanonicalOps.Cast(S8([1], -1), TensorElementType.UInt64).Elements<ulong>().ToArray());
        Assert.Equal(new byte[] { 1, 1, 1, 1, 0 }, CanonicalOps.Cast(x, TensorElementType.Bool).Data.ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Cast(x, TensorElementType.Float));
    }

    [Fact]
    public void MaxPool_floor_ceil_pads_and_dilation()
    {
        var x = S8([1, 1, 4, 4], -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16);
        var y = CanonicalOps.MaxPool(x, [2, 2], [], [2, 2], [], false);
        Assert.Equal(new sbyte[] { -1, -3, -9, -11 }, y.Elements<sbyte>().ToArray());
        // Padding never wins even though every value is negative.
        var p = CanonicalOps.MaxPool(x, [2, 2], [1, 1, 1, 1], [2, 2], [], false);
        Assert.Equal(new[] { 1, 1, 3, 3 }, p.Shape.ToArray());
        Assert.Equal(new sbyte[] { -1, -2, -4, -5, -6, -8, -13, -14, -16 }, p.Elements<sbyte>().ToArray());
        var five = U8([1, 1, 5, 5], Enumerable.Range(0, 25).Select(v => (byte)v).ToArray());
        Assert.Equal(new[] { 1, 1, 2, 2 }, CanonicalOps.MaxPool(five, [2, 2], [], [2, 2], [], false).Shape.ToArray());
        var c = CanonicalOps.MaxPool(five, [2, 2], [], [2, 2], [], true);
        Assert.Equal(new byte[] { 6, 8, 9, 16, 18, 19, 21, 23, 24 }, c.Data.ToArray());
        // ceil_mode never starts a window in the end padding: in 4, k 2, s 2, pad end 1 → 2 not 3.
        Assert.Equal(new[] { 1, 1, 2, 2 }, CanonicalOps.MaxPool(x, [2, 2], [0, 0, 1, 1], [2, 2], [], true).Shape.ToArray());
        var d = CanonicalOps.MaxPool(five, [2, 2], [], [], [2, 2], false);
        Assert.Equal(new[] { 1, 1, 3, 3 }, d.Shape.ToArray());
        Assert.Equal(12, d.Data[0]);
        Assert.Throws<InferenceException>(() => CanonicalOps.MaxPool(x, [2], [], [], [], false));
    }

    [Fact]
    public void Reshape_zero_minus_one_and_allowzero()
    {
        var x = U8([2, 3, 4], new byte[24]);
        Assert.Equal(new[] { 2, 12 }, CanonicalOps.Reshape(x, I64([2], 0, -1)).Shape.ToArray());
        Assert.Equal(new[] { 4, 3, 2 }, CanonicalOps.Reshape(x, I64([3], 4, 0, -1)).Shape.ToArray());
        Assert.Equal(new[] { 0, 5 }, CanonicalOps.Reshape(U8([0, 5], []), I64([2], 0, 5), allowZero: true).Shape.ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Reshape(x, I64([2], -1, -1)));
        Assert.Throws<InferenceException>(() => CanonicalOps.Reshape(x, I64([2], 5, -1)));
        Assert.Throws<InferenceException>(() => CanonicalOps.Reshape(x, I64([2], 0, 0), allowZero: true));
        Assert.Throws<InferenceException>(() => CanonicalOps.Reshape(U8([0, 5], []), I64([2], 0, -1), allowZero: true));
    }

    [Fact]
    public void Flatten_transpose_concat_gather_argmax()
    {
        var x = S8([2, 3, 2], Enumerable.Range(0, 12).Select(v => (sbyte)v).ToArray());
        Assert.Equal(new[] { 6, 2 }, CanonicalOps.Flatten(x, 2).Shape.ToArray());
        Assert.Equal(new[] { 1, 12 }, CanonicalOps.Flatten(x, 0).Shape.ToArray());
        Assert.Equal(new[] { 2, 6 }, CanonicalOps.Flatten(x, -2).Shape.ToArray());
        Assert.Equal(new[] { 12, 1 }, CanonicalOps.Flatten(x, 3).Shape.ToArray());

        var t = CanonicalOps.Transpose(x, [2, 0, 1]);
        Assert.Equal(new[] { 2, 2, 3 }, t.Shape.ToArray());
        Assert.Equal(new sbyte[] { 0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11 }, t.Elements<sbyte>().ToArray());
        Assert.Equal(new[] { 2, 3, 2 }, CanonicalOps.Transpose(x).Shape.ToArray());
        Assert.Equal(new sbyte[] { 0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11 }, CanonicalOps.Transpose(x).Elements<sbyte>().ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Transpose(x, [0, 0, 1]));

        var c = CanonicalOps.Concat([I32([1, 2], 1, 2), I32([2, 2], 3, 4, 5, 6)], 0);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, c.Elements<int>().ToArray());
        var c1 = CanonicalOps.Concat([I32([2, 1], 1, 2), I32([2, 2], 3, 4, 5, 6)], -1);
        Assert.Equal(new[] { 1, 3, 4, 2, 5, 6 }, c1.Elements<int>().ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Concat([I32([2, 1], 1, 2), I32([3, 1], 3, 4, 5)], 1));

        var g = CanonicalOps.Gather(x, I64([2], -1, 0), 1);
        Assert.Equal(new[] { 2, 2, 2 }, g.Shape.ToArray());
        Assert.Equal(new sbyte[] { 4, 5, 0, 1, 10, 11, 6, 7 }, g.Elements<sbyte>().ToArray());
        Assert.Equal(new[] { 3, 2 }, CanonicalOps.Gather(x, I32([], 1), 0).Shape.ToArray());
        Assert.Throws<InferenceException>(() => CanonicalOps.Gather(x, I64([1], 3), 1));

        var am = S8([2, 3], 5, 9, 9, -1, -1, -7);
        Assert.Equal(new long[] { 1, 0 }, CanonicalOps.ArgMax(am, 1, keepDims: false).Elements<long>().ToArray());
        var last = CanonicalOps.ArgMax(am, -1, keepDims: true, selectLastIndex: true);
        Assert.Equal(new[] { 2, 1 }, last.Shape.ToArray());
        Assert.Equal(new long[] { 2, 1 }, last.Elements<long>().ToArray());
        Assert.Equal(new long[] { 0, 0, 0 }, CanonicalOps.ArgMax(am, 0).Elements<long>().ToArray());
    }
}
