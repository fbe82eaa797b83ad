using Chain.Core.Hashing;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;
using Chain.Inference.Runtime;
using static Chain.Inference.Tests.Onnx.Models;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Onnx;

/// <summary>Constant nodes are folded into initializers when a model is read (docs/onnx-subset.md §2–3).</summary>
public class ConstantFoldingTests
{
    private static OnnxNode Constant(string output, OnnxAttribute value) => new("const_" + output, "Constant", "", [], [output], [value]);

    /// <summary>x int32 [2,3] → Reshape by a Constant shape → QuantizeLinear with Constant scale and zero point.</summary>
    private static OnnxModel WithConstants(OnnxAttribute shape, OnnxAttribute scale, long opset = 17) => Model(
        [
            Constant("shape", shape),
            Constant("s", scale),
            Constant("zp", OnnxAttribute.Of("value", Tensor.Create<sbyte>(T.Int8, [], [3]))),
            Node("Reshape", ["x", "shape"], ["r"]),
            Node("QuantizeLinear", ["r", "s", "zp"], ["y"]),
        ],
        [Value("x", T.Int32, 2, 3)], [Value("y", T.Int8, 3, 2)], opset: opset);

    [Fact]
    public void Constants_become_initializers_that_admission_and_the_executor_use()
    {
        var bytes = WithConstants(OnnxAttribute.Of("value_ints", [3L, -1L]), OnnxAttribute.Of("value_float", 0.5f)).ToBytes();
        var model = OnnxModel.Parse(bytes);
        Assert.Equal(["Reshape", "QuantizeLinear"], model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(["shape", "s", "zp"], model.Graph.Initializers.Select(t => t.Name));
        Assert.Equal([3L, -1L], model.Graph.FindInitializer("shape")!.Value.Elements<long>().ToArray());
        Assert.Equal(0, model.Graph.FindInitializer("s")!.Value.Rank);

        var report = ModelAdmission.Check(bytes);
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));
        // The id hashes the bytes as given, Constant nodes and all.
        Assert.Equal(DomainHash.Compute(HashDomain.Model, bytes), report.ModelId);

        using var executor = CanonicalExecutor.Load(bytes);
        var x = Tensor.Create<int>(T.Int32, [2, 3], [0, 1, 2, -3, 4, 5]);
        var y = executor.Run([new NamedTensor("x", x)])[0].Value;
        // round-half-to-even(x / 0.5) + 3
        Assert.Equal(new sbyte[] { 3, 5, 7, -3, 11, 13 }, y.Elements<sbyte>().ToArray());
        Assert.Equal([3, 2], y.Shape.ToArray());
    }

    [Fact]
    public void Folded_model_writes_back_without_constant_nodes_and_round_trips()
    {
        var original = WithConstants(OnnxAttribute.Of("value", Tensor.Create<long>(T.Int64, [2], [3, 2])),
            OnnxAttribute.Of("value_floats", [0.25f]));
        var parsed = OnnxModel.Parse(original.ToBytes());
        var rewritten = parsed.ToBytes();
        Assert.NotEqual(original.ToBytes(), rewritten);
        Assert.Equal(rewritten, OnnxModel.Parse(rewritten).ToBytes());
        Assert.Equal([1], parsed.Graph.FindInitializer("s")!.Value.Shape.ToArray());
    }

    [Fact]
    public void Value_int_is_an_int64_scalar()
    {
        var model = OnnxModel.Parse(Model([Constant("k", OnnxAttribute.Of("value_int", -7L))], [], [Value("k", T.Int64)]).ToBytes());
        var k = Assert.Single(model.Graph.Initializers).Value;
        Assert.Equal((T.Int64, 0, -7L), (k.ElementType, k.Rank, k.Elements<long>()[0]));
        Assert.Empty(model.Graph.Nodes);
    }

    [Theory]
    [InlineData("value_string", "string constant")]
    [InlineData("unknown", "not a Constant value")]
    public void Unsupported_constant_forms_are_format_errors(string attribute, string message)
    {
        var bytes = Model([Constant("c", OnnxAttribute.Of(attribute, "text"))], [], [Value("c", T.Int64)]).ToBytes();
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(bytes));
        Assert.Contains(message, e.Message);
        Assert.Contains("const_c", e.Message);
        Assert.Equal("format", Assert.Single(ModelAdmission.Check(bytes).Reasons).Code);
    }

    [Fact]
    public void Constant_needs_one_value_and_a_fresh_name()
    {
        var two = new OnnxNode("two", "Constant", "", [], ["c"], [OnnxAttribute.Of("value_int", 1L), OnnxAttribute.Of("value_float", 1f)]);
        Assert.Contains("exactly one value attribute",
            Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(Model([two], [], [Value("c", T.Int64)]).ToBytes())).Message);

        var clash = Model([Constant("x", OnnxAttribute.Of("value_int", 1L))], [Value("x", T.Int64)], [Value("x", T.Int64)]);
        Assert.Contains("already defined", Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(clash.ToBytes())).Message);
    }

    [Fact]
    public void Scalar_forms_need_opset_12()
    {
        var bytes = WithConstants(OnnxAttribute.Of("value_ints", [3L, 2L]), OnnxAttribute.Of("value_float", 0.5f), opset: 11).ToBytes();
        Assert.Contains("needs opset 12", Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(bytes)).Message);
    }

    [Fact]
    public void A_float_constant_outside_a_scale_is_still_refused_as_float()
    {
        var model = Model([Constant("f", OnnxAttribute.Of("value_floats", [1f, 2f])), Node("Relu", ["f"], ["y"])],
            [], [new OnnxValueInfo("y", 0, null)]);
        var report = ModelAdmission.Check(model.ToBytes());
        Assert.Equal("float", Assert.Single(report.Reasons).Code);
    }
}
