using Chain.Inference.Onnx;
using Chain.Inference.Protobuf;
using static Chain.Inference.Tests.Onnx.Models;

namespace Chain.Inference.Tests.Onnx;

public class OnnxModelTests
{
    private static OnnxModel Sample() => Model(
        [
            Node("MatMulInteger", ["x", "w", "", "wzp"], ["acc"]),
            new OnnxNode("", "Clip", "", ["acc", "lo", ""], ["y", ""],
                [OnnxAttribute.Of("i", 3L), OnnxAttribute.Of("f", 0.25f), OnnxAttribute.Of("s", "text"),
                 OnnxAttribute.Of("ints", [1L, -2L, 1L << 40]), OnnxAttribute.Of("floats", [1.5f, -0f]),
                 OnnxAttribute.Of("t", Tensor.Create<short>(TensorElementType.Int16, [2], new short[] { -5, 7 }))]),
        ],
        [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Symbolic("n")])],
        [Value("y", TensorElementType.Int32, 1, 2)],
        [Int8("w", [3, 2], 1, -2, 3, -4, 5, -6), Int8("wzp", [], 0), Int32("lo", [], 0)]);

    [Fact]
    public void Model_built_in_code_round_trips()
    {
        var model = Sample();
        var bytes = model.ToBytes();
        var back = OnnxModel.Parse(bytes);
        Assert.Equal(bytes, back.ToBytes());

        Assert.Equal(9, back.IrVersion);
        Assert.Equal(17, back.DefaultOpset);
        Assert.Equal("chain-tests", back.ProducerName);
        var g = back.Graph;
        Assert.Equal("test", g.Name);
        Assert.Equal(["x", "w", "", "wzp"], g.Nodes[0].Inputs);
        Assert.Null(g.Nodes[0].InputAt(2));
        Assert.Equal(["y", ""], g.Nodes[1].Outputs);
        var clip = g.Nodes[1];
        Assert.Equal(3, clip.GetInt("i", 0));
        Assert.Equal(9, clip.GetInt("missing", 9));
        Assert.Equal(0.25f, clip.GetFloat("f", 0));
        Assert.Equal("text", clip.GetString("s"));
        Assert.Equal([1L, -2L, 1L << 40], clip.GetInts("ints")!);
        Assert.Equal([1.5f, -0f], clip.Find("floats")!.AsFloats());
        Assert.Equal(new short[] { -5, 7 }, clip.GetTensor("t")!.Elements<short>().ToArray());
        Assert.Equal(new sbyte[] { 1, -2, 3, -4, 5, -6 }, g.FindInitializer("w")!.Value.Elements<sbyte>().ToArray());
        Assert.Equal(0, g.FindInitializer("wzp")!.Value.Rank);
        Assert.Equal([OnnxDim.Fixed(1), OnnxDim.Symbolic("n")], g.Inputs[0].Shape);
        Assert.Null(g.Inputs[0].StaticShape);
        Assert.Equal([1L, 2L], g.Outputs[0].StaticShape!);
    }

    [Fact]
    public void Attribute_of_the_wrong_kind_is_an_error()
    {
        var node = Sample().Graph.Nodes[1];
        Assert.Throws<OnnxFormatException>(() => node.GetInt("f", 0));
    }

    /// <summary>A TensorProto written by hand, field by field, for the typed-data fields the writer never emits.</summary>
    private static byte[] TensorProto(int dtype, long[] dims, Action<ProtoWriter> data, string name = "t")
    {
        var w = new ProtoWriter();
        foreach (var d in dims) w.WriteInt64(1, d); // unpacked dims, as old writers produce
        w.WriteInt64(2, dtype);
        data(w);
        w.WriteString(8, name);
        return w.ToArray();
    }

    [Fact]
    public void Int32_data_holds_small_integer_types()
    {
        var u8 = OnnxTensorProto.Parse(TensorProto(2, [3], w => w.WritePackedVarints(5, [0, 128, 255])));
        Assert.Equal(new byte[] { 0, 128, 255 }, u8.Value.Data.ToArray());
        var i8 = OnnxTensorProto.Parse(TensorProto(3, [2], w => { w.WriteInt64(5, -128); w.WriteInt64(5, 127); }));
        Assert.Equal(new sbyte[] { -128, 127 }, i8.Value.Elements<sbyte>().ToArray());
        var i16 = OnnxTensorProto.Parse(TensorProto(5, [1, 2], w => w.WritePackedVarints(5, [-300, 300])));
        Assert.Equal(new short[] { -300, 300 }, i16.Value.Elements<short>().ToArray());
        var ex = Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(3, [1], w => w.WriteInt64(5, 200))));
        Assert.Contains("out of range for int8", ex.Message);
    }

    [Fact]
    public void Typed_float_and_int64_data()
    {
        var f = OnnxTensorProto.Parse(TensorProto(1, [2], w => w.WritePackedFloats(4, [1.5f, -2f])));
        Assert.Equal(new[] { 1.5f, -2f }, f.Value.Elements<float>().ToArray());
        var l = OnnxTensorProto.Parse(TensorProto(7, [2], w => w.WritePackedVarints(7, [long.MinValue, 5])));
        Assert.Equal(new[] { long.MinValue, 5 }, l.Value.Elements<long>().ToArray());
        Assert.Equal("t", l.Name);
    }

    [Theory]
    [InlineData(13, "external data")]
    [InlineData(3, "segmented")]
    public void External_and_segmented_tensors_are_refused(int field, string expected)
    {
        var bytes = TensorProto(2, [1], w => w.WriteBytes(field, [0x0a, 0x00]));
        Assert.Contains(expected, Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(bytes)).Message);
    }

    [Fact]
    public void Data_that_disagrees_with_dims_is_refused()
    {
        Assert.Contains("raw_data is 3 bytes but shape needs 4",
            Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(2, [4], w => w.WriteBytes(9, [1, 2, 3])))).Message);
        Assert.Contains("int32_data has 1 values but shape needs 2",
            Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(6, [2], w => w.WriteInt64(5, 1)))).Message);
        Assert.Contains("more than one field",
            Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(6, [1], w => { w.WriteInt64(5, 1); w.WriteBytes(9, [0, 0, 0, 0]); }))).Message);
        Assert.Contains("data type 8",
            Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(8, [1], _ => { }))).Message);
        // Large dims with no data fail on the count before anything is allocated for them.
        Assert.Contains("int64_data has 0 values but shape needs 4194304",
            Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(7, [1 << 22], _ => { }))).Message);
        Assert.Contains("more elements than a model can hold",
            Assert.Throws<OnnxFormatException>(() => OnnxTensorProto.Parse(TensorProto(2, [1 << 20, 1 << 20], _ => { }))).Message);
    }

    private static byte[] ModelWithAttribute(Action<ProtoWriter> attribute)
    {
        var attr = new ProtoWriter();
        attr.WriteString(1, "body");
        attribute(attr);
        var node = new ProtoWriter();
        node.WriteString(4, "Loop");
        node.WriteMessage(5, attr);
        var graph = new ProtoWriter();
        graph.WriteMessage(1, node);
        var model = new ProtoWriter();
        model.WriteInt64(1, 9);
        model.WriteMessage(7, graph);
        return model.ToArray();
    }

    [Fact]
    public void Subgraph_attributes_are_refused()
    {
        var withGraph = ModelWithAttribute(a => { a.WriteBytes(6, []); a.WriteInt64(20, 5); });
        Assert.Contains("subgraph", Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(withGraph)).Message);
        var typeOnly = ModelWithAttribute(a => a.WriteInt64(20, 10));
        Assert.Contains("subgraphs are not supported", Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(typeOnly)).Message);
    }

    [Fact]
    public void Unknown_fields_are_skipped()
    {
        var bytes = Sample().ToBytes().ToList();
        var extra = new ProtoWriter();
        extra.WriteInt64(1000, 5);
        extra.WriteString(1001, "future");
        extra.WriteFloat(1002, 1f);
        bytes.AddRange(extra.ToArray());
        Assert.Equal(Sample().ToBytes(), OnnxModel.Parse(bytes.ToArray()).ToBytes());
    }

    [Fact]
    public void Model_without_graph_is_refused()
    {
        var w = new ProtoWriter();
        w.WriteInt64(1, 9);
        Assert.Contains("no graph", Assert.Throws<OnnxFormatException>(() => OnnxModel.Parse(w.ToArray())).Message);
    }

    [Fact]
    public void Tensor_proto_round_trips()
    {
        var t = Int8("w", [2, 2], 1, -1, 127, -128);
        var back = OnnxTensorProto.Parse(OnnxTensorProto.ToBytes(t));
        Assert.Equal("w", back.Name);
        Assert.Equal(t.Value, back.Value);
    }
}
