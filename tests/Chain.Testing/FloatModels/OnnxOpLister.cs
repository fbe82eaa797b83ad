namespace Chain.Testing.FloatModels;

/// <summary>
/// Lists a model's node op types straight from the protobuf bytes (ModelProto.graph.node.op_type), so Constant
/// nodes count too (<see cref="Chain.Inference.Onnx.OnnxModel.Parse"/> folds them into initializers).
/// </summary>
internal static class OnnxOpLister
{
    public static IReadOnlyList<string> OpTypes(ReadOnlySpan<byte> model)
    {
        var ops = new List<string>();
        foreach (var (field, graph) in Fields(model))
            if (field == 7)
                foreach (var (gf, node) in Fields(graph))
                    if (gf == 1)
                        foreach (var (nf, value) in Fields(node))
                            if (nf == 4)
                            {
                                var op = System.Text.Encoding.UTF8.GetString(value);
                                if (!ops.Contains(op)) ops.Add(op);
                            }
        return ops;
    }

    /// <summary>The length-delimited fields of one message (other wire types skipped).</summary>
    private static List<(int Field, byte[] Value)> Fields(ReadOnlySpan<byte> b)
    {
        var result = new List<(int, byte[])>();
        var p = 0;
        while (p < b.Length)
        {
            var key = Varint(b, ref p);
            var field = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case 0: Varint(b, ref p); break;
                case 1: p += 8; break;
                case 5: p += 4; break;
                case 2:
                    var length = (int)Varint(b, ref p);
                    result.Add((field, b.Slice(p, length).ToArray()));
                    p += length;
                    break;
                default: throw new FormatException($"wire type {key & 7} at byte {p}");
            }
        }
        return result;
    }

    private static ulong Varint(ReadOnlySpan<byte> b, ref int p)
    {
        ulong v = 0;
        for (var shift = 0; ; shift += 7)
        {
            var x = b[p++];
            v |= (ulong)(x & 0x7F) << shift;
            if ((x & 0x80) == 0) return v;
        }
    }
}
