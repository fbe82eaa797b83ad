using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;
using Chain.Inference.Tests.Admission;
using FsCheck.Xunit;
using static Chain.Inference.Tests.Onnx.Models;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Onnx;

public class HostileInputTests
{
    private static byte[] ValidModel() => Model(
        [
            Node("MatMulInteger", ["x", "w", "xzp"], ["acc"]),
            Node("QuantizeLinear", ["acc", "s", "zp"], ["q"]),
            Node("Reshape", ["q", "shape"], ["y"], OnnxAttribute.Of("allowzero", 0L)),
        ],
        [new OnnxValueInfo("x", (int)T.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(8)])],
        [Value("y", T.Int8, 4)],
        [Int8("w", [8, 4], Enumerable.Range(0, 32).Select(i => (sbyte)(i - 16)).ToArray()), UInt8("xzp", [], 3),
         Float("s", [], 0.5f), Int8("zp", [], 1), Int64("shape", [1], -1)]).ToBytes();

    /// <summary>Parsing either succeeds or throws <see cref="OnnxFormatException"/>; admission never throws.</summary>
    private static bool ParseOrFormatError(byte[] bytes)
    {
        try
        {
            OnnxModel.Parse(bytes);
            return true;
        }
        catch (OnnxFormatException e)
        {
            Assert.Matches(@"\(at byte \d+\)$|no graph", e.Message);
            return false;
        }
    }

    [Fact]
    public void The_valid_model_is_admitted()
    {
        var report = ModelAdmission.Check(ValidModel());
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
    }

    [Fact]
    public void Every_truncation_is_refused_cleanly()
    {
        var bytes = ValidModel();
        for (var n = 0; n < bytes.Length; n++)
        {
            var prefix = bytes.AsSpan(0, n).ToArray();
            ParseOrFormatError(prefix);
            // The writer puts opset_import last, so no strict prefix can be admitted.
            Assert.False(ModelAdmission.Check(prefix).Admitted, $"prefix of {n} bytes was admitted");
        }
    }

    [Fact]
    public void Every_truncation_of_a_conformance_model_is_refused_cleanly()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Conformance.Directory(), "test_qlinearconv", "model.onnx"));
        for (var n = 0; n < bytes.Length; n++)
        {
            var prefix = bytes.AsSpan(0, n).ToArray();
            ParseOrFormatError(prefix);
            Assert.False(ModelAdmission.Check(prefix).Admitted);
        }
    }

    [Fact]
    public void Random_byte_flips_never_escape_as_other_exceptions()
    {
        var original = ValidModel();
        var rng = new Random(20240601);
        var parsed = 0;
        for (var i = 0; i < 3000; i++)
        {
            var bytes = (byte[])original.Clone();
            var flips = rng.Next(1, 5);
            for (var f = 0; f < flips; f++) bytes[rng.Next(bytes.Length)] ^= (byte)rng.Next(1, 256);
            if (ParseOrFormatError(bytes)) parsed++;
            var report = ModelAdmission.Check(bytes);
            Assert.Equal(report.Admitted, report.Reasons.Count == 0);
        }
        // Some mutations only touch values (weights, names), so both outcomes must occur.
        Assert.InRange(parsed, 1, 2999);
    }

    [Property(Replay = "(1234567,7654321)", MaxTest = 300)]
    public bool Arbitrary_bytes_never_throw_from_admission(byte[] bytes)
    {
        ParseOrFormatError(bytes);
        return ModelAdmission.Check(bytes) is { } report && report.Admitted == (report.Reasons.Count == 0);
    }

    [Fact]
    public void Huge_length_prefix_is_refused_without_allocating()
    {
        // graph field with a length of 2^40.
        byte[] bytes = [0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        var ex = Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(bytes));
        Assert.Contains("runs past the end", ex.Message);
        Assert.Equal(1, ex.Offset);
    }

    [Fact]
    public void Node_count_is_limited_while_reading()
    {
        var node = new ProtoWriter();
        node.WriteString(4, "Relu");
        var graph = new ProtoWriter();
        for (var i = 0; i <= ProtoLimits.MaxNodes; i++) graph.WriteMessage(1, node);
        var model = new ProtoWriter();
        model.WriteMessage(7, graph);
        var ex = Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(model.ToArray()));
        Assert.Contains($"more than {ProtoLimits.MaxNodes} nodes", ex.Message);
    }

    [Fact]
    public void Cycle_is_refused_by_admission_naming_the_node()
    {
        var model = Model(
            [Node("Add", ["x", "b"], ["a"]), Node("Relu", ["a"], ["b"]), Node("Relu", ["b"], ["y"])],
            [Value("x", T.Int8, 2)], [Value("y", T.Int8, 2)]);
        var reason = Assert.Single(ModelAdmission.Check(model.ToBytes()).Reasons);
        Assert.Equal("cycle", reason.Code);
        Assert.Contains(reason.Node, new[] { "add_a", "relu_b" });
        Assert.Contains(reason.Node!, reason.Message);
    }

    [Fact]
    public void Negative_dims_in_a_tensor_are_refused()
    {
        var w = new ProtoWriter();
        w.WriteInt64(1, -1);
        w.WriteInt64(2, 2);
        Assert.Contains("dimension -1", Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(w.ToArray())).Message);
    }
}
