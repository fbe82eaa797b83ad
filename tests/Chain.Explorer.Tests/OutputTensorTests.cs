using Chain.Core.Codec;
using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Explorer.Tests;

/// <summary>Reading a receipt's output for people: decoded strictly, dequantized and labelled from the model's metadata.</summary>
public sealed class OutputTensorTests
{
    private static readonly QuantizationMetadata Metadata = new(
        [new QuantizedTensorInfo("in", TensorElementType.Int8, 1f, 0, -128f, 127f)],
        [new QuantizedTensorInfo("out", TensorElementType.Int8, 0.5f, -2, -63f, 64.5f)],
        ["cat", "dog", "bird"]);

    private static byte[] Int8Tensor(params sbyte[] values) =>
        Canonical.Encode(Tensor.Create(TensorElementType.Int8, [1, values.Length], values.Select(v => (byte)v).ToArray()));

    [Fact]
    public void Dequantizes_and_ranks_with_labels()
    {
        var output = OutputTensor.TryDecode(Int8Tensor(-2, 40, -128), Metadata, out var reason);
        Assert.NotNull(output);
        Assert.Equal("", reason);
        Assert.Equal([1, 3], output.Shape);
        Assert.Equal([-2L, 40L, -128L], output.Values);
        Assert.Equal([0.0, 21.0, -63.0], output.Dequantized!);
        var top = output.TopK(2);
        Assert.Equal((1, 40L, (double?)21.0, "dog"), top[0]);
        Assert.Equal((0, -2L, (double?)0.0, "cat"), top[1]);
    }

    [Fact]
    public void Without_metadata_values_stay_integers_and_ties_keep_index_order()
    {
        var output = OutputTensor.TryDecode(Int8Tensor(5, 7, 7), null, out _)!;
        Assert.Null(output.Dequantized);
        Assert.Null(output.Labels);
        Assert.Equal([1, 2, 0], output.TopK(3).Select(t => t.Index));
    }

    [Fact]
    public void Labels_that_do_not_fit_the_output_are_not_shown()
    {
        var output = OutputTensor.TryDecode(Int8Tensor(1, 2), Metadata, out _)!;
        Assert.Null(output.Labels); // three labels for two classes: not this output's
    }

    [Fact]
    public void Bytes_that_are_not_a_canonical_tensor_are_refused_with_a_reason()
    {
        var encoded = Int8Tensor(1, 2, 3);
        Assert.Null(OutputTensor.TryDecode(encoded.Concat(new byte[] { 0 }).ToArray(), null, out var reason));
        Assert.StartsWith("not a canonical tensor", reason);
    }
}
