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
        var bytes = File.ReadAllBytes(Path.Combine(Tests.Admission.Conformance.Directory(), "test_qlinearconv", "model.onnx"));
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

public class RandomGraphTests
{
    /// <summary>Admitted ops with their (min, max) input counts, so most graphs get past the arity checks.</summary>
    private static readonly (string Op, int Min, int Max)[] Ops =
    [
        ("MatMulInteger", 2, 4), ("QLinearMatMul", 8, 8), ("ConvInteger", 2, 4), ("QLinearConv", 8, 9), ("QuantizeLinear", 2, 3),
        ("DequantizeLinear", 2, 3), ("Add", 2, 2), ("Mul", 2, 2), ("Max", 1, 3), ("Clip", 1, 3), ("Relu", 1, 1), ("MaxPool", 1, 1),
        ("Reshape", 2, 2), ("Flatten", 1, 1), ("Transpose", 1, 1), ("Concat", 1, 3), ("Gather", 2, 2), ("ArgMax", 1, 1), ("Cast", 1, 1),
    ];

    /// <summary>
    /// Random wiring of admitted ops with random attributes and constants: whatever the verdict, every rule
    /// must answer with a reason of its own, never the "internal" fallback that marks an unexpected exception.
    /// </summary>
    [Fact]
    public void Random_graphs_get_rule_reasons_never_internal_errors()
    {
        var rng = new Random(4242);
        var types = new[] { T.UInt8, T.Int8, T.Int32, T.Int64, T.Float };
        var admitted = 0;
        for (var iter = 0; iter < 1500; iter++)
        {
            var values = new List<string> { "x" };
            var inits = new List<Chain.Inference.Onnx.OnnxTensor>();
            for (var c = 0; c < 4; c++)
            {
                var type = types[rng.Next(types.Length)];
                var shape = Enumerable.Range(0, rng.Next(0, 5)).Select(_ => rng.Next(0, 4)).ToArray();
                var bytes = new byte[shape.Aggregate(1, (a, d) => a * d) * TensorElementTypes.SizeOf(type)];
                rng.NextBytes(bytes);
                if (type == T.Float) bytes = Tensor.Create<float>(T.Float, shape, Enumerable.Range(0, bytes.Length / 4).Select(_ => (float)rng.NextDouble()).ToArray()).Data.ToArray();
                inits.Add(Init($"c{c}", type, shape, bytes));
                values.Add($"c{c}");
            }
            var nodes = new List<Chain.Inference.Onnx.OnnxNode>();
            for (var n = 0; n < rng.Next(1, 5); n++)
            {
                var (op, min, max) = Ops[rng.Next(Ops.Length)];
                // Data inputs mostly come from x or earlier nodes; optional ones are sometimes omitted.
                var activations = values.Where(v => !v.StartsWith('c')).ToList();
                var inputs = Enumerable.Range(0, rng.Next(min, max + 1)).Select(i =>
                    i >= min && rng.Next(3) == 0 ? "" :
                    i == 0 && rng.Next(3) != 0 ? activations[rng.Next(activations.Count)] :
                    values[rng.Next(values.Count)]).ToArray();
                var attrs = new List<Chain.Inference.Onnx.OnnxAttribute>();
                // Mostly the op's own attributes (admission refuses any other); now and then a foreign one, which must be refused.
                var defined = ModelAdmission.AttributesOf("", op)!;
                bool Pick(string a) => rng.Next(3) == 0 && (defined.Contains(a) || rng.Next(10) == 0);
                foreach (var a in new[] { "axis", "keepdims", "group", "ceil_mode", "to", "allowzero" })
                    if (Pick(a)) attrs.Add(Chain.Inference.Onnx.OnnxAttribute.Of(a, (long)rng.Next(-3, 8)));
                foreach (var a in new[] { "kernel_shape", "strides", "pads", "dilations", "perm" })
                    if (Pick(a)) attrs.Add(Chain.Inference.Onnx.OnnxAttribute.Of(a, Enumerable.Range(0, rng.Next(0, 5)).Select(_ => (long)rng.Next(-1, 4)).ToArray()));
                if (rng.Next(4) == 0 && (defined.Contains("auto_pad") || rng.Next(10) == 0)) attrs.Add(Chain.Inference.Onnx.OnnxAttribute.Of("auto_pad", new[] { "VALID", "SAME_UPPER", "NOTSET", "bogus" }[rng.Next(4)]));
                var output = $"v{n}";
                nodes.Add(new(output, op, "", inputs, [output], attrs));
                values.Add(output);
            }
            var xShape = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => (long)rng.Next(1, 6)).ToArray();
            var model = Model(nodes, [Value("x", types[rng.Next(4)], xShape)], [new Chain.Inference.Onnx.OnnxValueInfo(values[^1], 0, null)], inits, opset: rng.Next(10, 22));
            var report = ModelAdmission.Check(model.ToBytes());
            Assert.DoesNotContain(report.Reasons, r => r.Code == "internal");
            if (report.Admitted) admitted++;
        }
        Assert.True(admitted >= 20, $"only {admitted} random graphs were admitted was admitted; the generator does not reach the rules");
    }
}
