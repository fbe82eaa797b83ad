using System.Text;
using Chain.Inference.Kernels;

namespace Chain.Inference.Tests.Kernels;

/// <summary>
/// Official ONNX backend node cases (../shared/onnx-conformance or $ONNX_CONFORMANCE_DIR) run through
/// the kernels. A private minimal protobuf walk reads the one node, its attributes and the TensorProto
/// inputs/outputs; it is not an ONNX reader (that lives elsewhere) and knows only the fields used here.
/// </summary>
public class OnnxConformanceTests
{
    public static TheoryData<string> Cases => new(
        "test_matmulinteger", "test_convinteger_without_padding",
        "test_qlinearmatmul_2D_int8_float32", "test_qlinearmatmul_2D_uint8_float32", "test_qlinearmatmul_3D_uint8_float32",
        "test_qlinearconv", "test_quantizelinear", "test_quantizelinear_axis", "test_dequantizelinear", "test_dequantizelinear_axis",
        "test_clip_default_int8_inbounds", "test_clip_default_int8_max", "test_clip_default_int8_min",
        "test_maxpool_2d_uint8", "test_flatten_axis1", "test_flatten_default_axis",
        "test_reshape_negative_dim", "test_reshape_reordered_all_dims");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Kernel_reproduces_the_official_expected_output(string name)
    {
        var root = Chain.Inference.Conformance.ConformanceRunner.Locate()
            ?? throw new InvalidOperationException("ONNX conformance cases not found: expected ../shared/onnx-conformance beside the repository or $ONNX_CONFORMANCE_DIR");
        var dir = Path.Combine(root, name);
        var (node, graphInputs) = ReadModel(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
        foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").Order())
        {
            var byName = new Dictionary<string, Tensor>();
            for (var i = 0; i < graphInputs.Count; i++)
                byName[graphInputs[i]] = ReadTensor(File.ReadAllBytes(Path.Combine(set, $"input_{i}.pb")));
            var inputs = node.Inputs.Select(n => n.Length == 0 ? null : byName[n]).ToArray();
            var expected = ReadTensor(File.ReadAllBytes(Path.Combine(set, "output_0.pb")));
            foreach (var path in KernelTestUtil.SupportedPaths)
            {
                var actual = KernelTestUtil.Run(path, () => Execute(node, inputs));
                KernelTestUtil.SameBytes(expected, actual, $"{name} on {path}");
            }
        }
    }

    private static Tensor Execute(Node node, Tensor?[] x)
    {
        Tensor? In(int i) => i < x.Length ? x[i] : null;
        int[] Ints(string key) => node.Ints.TryGetValue(key, out var v) ? v.Select(l => (int)l).ToArray() : [];
        long Int(string key, long dflt) => node.Int.TryGetValue(key, out var v) ? v : dflt;
        return node.OpType switch
        {
            "MatMulInteger" => CanonicalOps.MatMulInteger(x[0]!, x[1]!, In(2), In(3)),
            "ConvInteger" => CanonicalOps.ConvInteger(x[0]!, x[1]!, In(2), In(3), Ints("pads"), Ints("strides"), Ints("dilations"), (int)Int("group", 1)),
            "QLinearMatMul" => CanonicalOps.QLinearMatMul(x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5]!, x[6]!, x[7]!),
            "QLinearConv" => CanonicalOps.QLinearConv(x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5]!, x[6]!, x[7]!, In(8),
                Ints("pads"), Ints("strides"), Ints("dilations"), (int)Int("group", 1)),
            "QuantizeLinear" => CanonicalOps.QuantizeLinear(x[0]!, x[1]!, In(2), (int)Int("axis", 1)),
            "DequantizeLinear" => CanonicalOps.DequantizeLinear(x[0]!, x[1]!, In(2), (int)Int("axis", 1)),
            "Clip" => CanonicalOps.Clip(x[0]!, In(1), In(2)),
            "MaxPool" => CanonicalOps.MaxPool(x[0]!, Ints("kernel_shape"), Ints("pads"), Ints("strides"), Ints("dilations"), Int("ceil_mode", 0) != 0),
            "Flatten" => CanonicalOps.Flatten(x[0]!, (int)Int("axis", 1)),
            "Reshape" => CanonicalOps.Reshape(x[0]!, x[1]!, Int("allowzero", 0) != 0),
            _ => throw new InvalidOperationException($"no kernel wired for {node.OpType}"),
        };
    }

    private sealed record Node(string OpType, string[] Inputs, Dictionary<string, long> Int, Dictionary<string, long[]> Ints);

    // --- minimal protobuf wire-format walk ---

    private readonly record struct Field(int Number, int WireType, ulong Value, ReadOnlyMemory<byte> Bytes);

    private static IEnumerable<Field> Fields(ReadOnlyMemory<byte> buffer)
    {
        var pos = 0;
        while (pos < buffer.Length)
        {
            var key = Varint(buffer.Span, ref pos);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: yield return new Field(number, 0, Varint(buffer.Span, ref pos), default); break;
                case 1: yield return new Field(number, 1, BitConverter.ToUInt64(buffer.Span.Slice(pos, 8)), default); pos += 8; break;
                case 5: yield return new Field(number, 5, BitConverter.ToUInt32(buffer.Span.Slice(pos, 4)), default); pos += 4; break;
                case 2:
                    var len = (int)Varint(buffer.Span, ref pos);
                    yield return new Field(number, 2, 0, buffer.Slice(pos, len));
                    pos += len;
                    break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
        }
    }

    private static ulong Varint(ReadOnlySpan<byte> s, ref int pos)
    {
        ulong v = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = s[pos++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }

    /// <summary>Repeated varint field values, packed or not.</summary>
    private static IEnumerable<ulong> Varints(Field f)
    {
        if (f.WireType == 0) { yield return f.Value; yield break; }
        var pos = 0;
        while (pos < f.Bytes.Length) yield return Varint(f.Bytes.Span, ref pos);
    }

    private static string Str(Field f) => Encoding.UTF8.GetString(f.Bytes.Span);

    private static (Node Node, List<string> Inputs) ReadModel(byte[] model)
    {
        var graph = Fields(model).First(f => f.Number == 7).Bytes; // ModelProto.graph
        var nodes = Fields(graph).Where(f => f.Number == 1).ToList(); // GraphProto.node
        Assert.Single(nodes);
        var inputs = Fields(graph).Where(f => f.Number == 11) // GraphProto.input → ValueInfoProto.name
            .Select(f => Str(Fields(f.Bytes).First(g => g.Number == 1))).ToList();
        string op = "";
        var ins = new List<string>();
        var ints = new Dictionary<string, long>();
        var lists = new Dictionary<string, long[]>();
        foreach (var f in Fields(nodes[0].Bytes))
        {
            if (f.Number == 1) ins.Add(Str(f));
            else if (f.Number == 4) op = Str(f);
            else if (f.Number == 5) // AttributeProto: name 1, i 3, ints 8
            {
                var attr = Fields(f.Bytes).ToList();
                var attrName = Str(attr.First(a => a.Number == 1));
                foreach (var a in attr.Where(a => a.Number == 3)) ints[attrName] = (long)a.Value;
                var values = attr.Where(a => a.Number == 8).SelectMany(Varints).Select(v => (long)v).ToArray();
                if (values.Length > 0) lists[attrName] = values;
            }
        }
        return (new Node(op, ins.ToArray(), ints, lists), inputs);
    }

    private static Tensor ReadTensor(byte[] proto)
    {
        var dims = new List<int>();
        var type = TensorElementType.Float;
        byte[]? raw = null;
        var floats = new List<float>();
        var int32s = new List<long>();
        var int64s = new List<long>();
        foreach (var f in Fields(proto))
        {
            switch (f.Number)
            {
                case 1: dims.AddRange(Varints(f).Select(v => (int)(long)v)); break;
                case 2: type = (TensorElementType)f.Value; break;
                case 4:
                    if (f.WireType == 5) floats.Add(BitConverter.UInt32BitsToSingle((uint)f.Value));
                    else for (var i = 0; i < f.Bytes.Length; i += 4) floats.Add(BitConverter.ToSingle(f.Bytes.Span.Slice(i, 4)));
                    break;
                case 5: int32s.AddRange(Varints(f).Select(v => (long)v)); break;
                case 7: int64s.AddRange(Varints(f).Select(v => (long)v)); break;
                case 9: raw = f.Bytes.ToArray(); break;
            }
        }
        if (raw is null)
        {
            var size = TensorElementTypes.SizeOf(type);
            if (type == TensorElementType.Float) raw = floats.SelectMany(BitConverter.GetBytes).ToArray();
            else if (type == TensorElementType.Int64) raw = int64s.SelectMany(BitConverter.GetBytes).ToArray();
            else raw = int32s.SelectMany(v => BitConverter.GetBytes(v).Take(size)).ToArray(); // int32_data holds the narrow types
        }
        return Tensor.Create(type, dims.ToArray(), raw);
    }
}
