using Chain.Inference.Protobuf;
using static Chain.Inference.Onnx.OnnxFields;

namespace Chain.Inference.Onnx;

/// <summary>
/// Reads the ONNX subset from protobuf bytes. Unknown fields are skipped (forward compatibility);
/// known fields that this project cannot honour (subgraphs, external data, sparse tensors, non-tensor
/// types) are refused rather than ignored, so a model never silently means something else.
/// </summary>
internal static class OnnxReader
{
    /// <summary>The consensus reader: <see cref="ProtoLimits"/> and the subset of docs/onnx-subset.md.</summary>
    public static OnnxModel ReadModel(ReadOnlySpan<byte> bytes) => ReadModel(bytes, OnnxReadMode.Consensus);

    public static OnnxModel ReadModel(ReadOnlySpan<byte> bytes, OnnxReadMode mode)
    {
        var r = mode.Tooling ? new ProtoReader(bytes, mode.MaxBytes, mode.MaxDepth) : new ProtoReader(bytes);
        long ir = 0;
        string producer = "", producerVersion = "";
        var opsets = new List<OpsetImport>();
        var metadata = new List<KeyValuePair<string, string>>();
        OnnxGraph? graph = null;
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case ModelIrVersion: r.Expect(wt, WireType.Varint, "ir_version"); ir = r.ReadInt64(); break;
                case ModelProducerName: r.Expect(wt, WireType.LengthDelimited, "producer_name"); producer = r.ReadString("producer_name"); break;
                case ModelProducerVersion: r.Expect(wt, WireType.LengthDelimited, "producer_version"); producerVersion = r.ReadString("producer_version"); break;
                case ModelGraph:
                    r.Expect(wt, WireType.LengthDelimited, "graph");
                    if (graph is not null) throw r.Error("model has more than one graph field");
                    var gr = r.ReadMessage("graph");
                    graph = ReadGraph(ref gr, mode);
                    break;
                case ModelOpsetImport:
                    r.Expect(wt, WireType.LengthDelimited, "opset_import");
                    r.CheckCount(opsets.Count + 1, 64, "opset imports");
                    var or = r.ReadMessage("opset_import");
                    opsets.Add(ReadOpset(ref or));
                    break;
                case ModelMetadataProps:
                    r.Expect(wt, WireType.LengthDelimited, "metadata_props");
                    r.CheckCount(metadata.Count + 1, ProtoLimits.MaxMetadataProps, "metadata entries");
                    var mr = r.ReadMessage("metadata_props");
                    metadata.Add(ReadEntry(ref mr));
                    break;
                case ModelFunctions:
                    throw r.Error("model-local functions are not supported");
                case ModelTrainingInfo:
                    throw r.Error("training info is not supported");
                default: r.Skip(wt); break;
            }
        }
        if (graph is null) throw new OnnxFormatException("model has no graph", bytes.Length);
        var opset = opsets.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version;
        if (mode.Tooling) graph = FoldSubgraphConstants(graph, opset);
        return new OnnxModel(ir, opsets, ConstantFolding.Fold(graph, opset), producer, producerVersion, metadata);
    }

    /// <summary>Tooling mode: Constant nodes inside If/Loop bodies become the subgraph's initializers too.</summary>
    private static OnnxGraph FoldSubgraphConstants(OnnxGraph graph, long? opset)
    {
        if (!graph.Nodes.Any(n => n.Attributes.Any(a => a.G is not null))) return graph;
        var nodes = graph.Nodes.Select(n => n.Attributes.Any(a => a.G is not null)
            ? n with { Attributes = n.Attributes.Select(a => a.G is { } g ? a with { G = ConstantFolding.Fold(FoldSubgraphConstants(g, opset), opset) } : a).ToArray() }
            : n).ToArray();
        return graph with { Nodes = nodes };
    }

    private static KeyValuePair<string, string> ReadEntry(ref ProtoReader r)
    {
        string key = "", value = "";
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case EntryKey: r.Expect(wt, WireType.LengthDelimited, "metadata key"); key = r.ReadString("metadata key"); break;
                case EntryValue: r.Expect(wt, WireType.LengthDelimited, "metadata value"); value = r.ReadString("metadata value"); break;
                default: r.Skip(wt); break;
            }
        }
        return new(key, value);
    }

    private static OpsetImport ReadOpset(ref ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case OpsetDomain: r.Expect(wt, WireType.LengthDelimited, "opset domain"); domain = r.ReadString("opset domain"); break;
                case OpsetVersion: r.Expect(wt, WireType.Varint, "opset version"); version = r.ReadInt64(); break;
                default: r.Skip(wt); break;
            }
        }
        return new OpsetImport(domain, version);
    }

    private static OnnxGraph ReadGraph(ref ProtoReader r, OnnxReadMode mode)
    {
        string name = "";
        var nodes = new List<OnnxNode>();
        var inits = new List<OnnxTensor>();
        var inputs = new List<OnnxValueInfo>();
        var outputs = new List<OnnxValueInfo>();
        var infos = new List<OnnxValueInfo>();
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case GraphNode:
                    r.Expect(wt, WireType.LengthDelimited, "node");
                    r.CheckCount(nodes.Count + 1, mode.MaxNodes, "nodes");
                    var nr = r.ReadMessage("node");
                    nodes.Add(ReadNode(ref nr, mode));
                    break;
                case GraphName: r.Expect(wt, WireType.LengthDelimited, "graph name"); name = r.ReadString("graph name"); break;
                case GraphInitializer:
                    r.Expect(wt, WireType.LengthDelimited, "initializer");
                    r.CheckCount(inits.Count + 1, mode.MaxNodes, "initializers");
                    var tr = r.ReadMessage("initializer");
                    inits.Add(ReadTensor(ref tr, mode));
                    break;
                case GraphInput or GraphOutput or GraphValueInfo:
                    r.Expect(wt, WireType.LengthDelimited, "value info");
                    var list = field == GraphInput ? inputs : field == GraphOutput ? outputs : infos;
                    r.CheckCount(list.Count + 1, mode.MaxNodes * 4, "value infos");
                    var vr = r.ReadMessage("value info");
                    list.Add(ReadValueInfo(ref vr));
                    break;
                case GraphSparseInitializer: throw r.Error("sparse initializers are not supported");
                default: r.Skip(wt); break;
            }
        }
        return new OnnxGraph(name, nodes, inits, inputs, outputs, infos);
    }

    private static OnnxNode ReadNode(ref ProtoReader r, OnnxReadMode mode)
    {
        string name = "", op = "", domain = "";
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attrs = new List<OnnxAttribute>();
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case NodeInput:
                    r.Expect(wt, WireType.LengthDelimited, "node input");
                    r.CheckCount(inputs.Count + 1, mode.MaxNodes, "node inputs");
                    inputs.Add(r.ReadString("node input"));
                    break;
                case NodeOutput:
                    r.Expect(wt, WireType.LengthDelimited, "node output");
                    r.CheckCount(outputs.Count + 1, mode.MaxNodes, "node outputs");
                    outputs.Add(r.ReadString("node output"));
                    break;
                case NodeName: r.Expect(wt, WireType.LengthDelimited, "node name"); name = r.ReadString("node name"); break;
                case NodeOpType: r.Expect(wt, WireType.LengthDelimited, "op_type"); op = r.ReadString("op_type"); break;
                case NodeDomain: r.Expect(wt, WireType.LengthDelimited, "node domain"); domain = r.ReadString("node domain"); break;
                case NodeAttribute:
                    r.Expect(wt, WireType.LengthDelimited, "attribute");
                    r.CheckCount(attrs.Count + 1, ProtoLimits.MaxAttributes, "attributes");
                    var ar = r.ReadMessage("attribute");
                    attrs.Add(ReadAttribute(ref ar, mode));
                    break;
                default: r.Skip(wt); break;
            }
        }
        if (op.Length == 0) throw r.Error($"node '{name}' has no op_type");
        return new OnnxNode(name, op, domain, inputs, outputs, attrs);
    }

    private static OnnxAttribute ReadAttribute(ref ProtoReader r, OnnxReadMode mode)
    {
        OnnxGraph? g = null;
        var start = r.Offset;
        string name = "";
        long type = 0;
        float f = 0;
        long i = 0;
        byte[]? s = null;
        Tensor? t = null;
        var floats = new List<float>();
        var ints = new List<long>();
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case AttrName: r.Expect(wt, WireType.LengthDelimited, "attribute name"); name = r.ReadString("attribute name"); break;
                case AttrF: r.Expect(wt, WireType.Fixed32, "attribute f"); f = r.ReadFloat(); break;
                case AttrI: r.Expect(wt, WireType.Varint, "attribute i"); i = r.ReadInt64(); break;
                case AttrS:
                    r.Expect(wt, WireType.LengthDelimited, "attribute s");
                    var sb = r.ReadBytes(out var at);
                    if (sb.Length > ProtoLimits.MaxStringBytes) throw new OnnxFormatException("string attribute is too long", at);
                    s = sb.ToArray();
                    break;
                case AttrT:
                    r.Expect(wt, WireType.LengthDelimited, "attribute t");
                    var tr = r.ReadMessage("attribute tensor");
                    t = ReadTensor(ref tr, mode).Value;
                    break;
                case AttrFloats: r.ReadRepeatedFloat(wt, floats, "attribute floats"); break;
                case AttrInts: r.ReadRepeatedVarint(wt, ints, "attribute ints"); break;
                case AttrType: r.Expect(wt, WireType.Varint, "attribute type"); type = r.ReadInt64(); break;
                case AttrG when mode.Tooling:
                    r.Expect(wt, WireType.LengthDelimited, "attribute g");
                    if (g is not null) throw r.Error($"attribute '{name}' has more than one graph");
                    var gr = r.ReadMessage("attribute graph");
                    g = ReadGraph(ref gr, mode);
                    break;
                case AttrG or AttrGraphs: throw r.Error($"attribute '{name}' holds a subgraph; subgraphs are not supported");
                case AttrStrings or AttrTensors or AttrTypeProto or AttrTypeProtos or AttrSparseTensor or AttrSparseTensors:
                    throw r.Error($"attribute '{name}' is of a kind that is not supported (field {field})");
                case AttrRefAttrName: throw r.Error($"attribute '{name}' references a function attribute; functions are not supported");
                default: r.Skip(wt); break;
            }
        }
        if (name.Length == 0) throw new OnnxFormatException("attribute has no name", start);
        if (mode.Tooling && type == 5)
        {
            return g is not null
                ? new OnnxAttribute(name, OnnxAttributeType.Graph, G: g)
                : throw new OnnxFormatException($"graph attribute '{name}' has no graph", start);
        }
        if (type is not (1 or 2 or 3 or 4 or 6 or 7))
            throw new OnnxFormatException(type is 5 or 10
                ? $"attribute '{name}' is a graph; subgraphs are not supported"
                : $"attribute '{name}' has type {type}, which is not supported", start);
        var kind = (OnnxAttributeType)type;
        if (kind == OnnxAttributeType.Tensor && t is null) throw new OnnxFormatException($"tensor attribute '{name}' has no tensor", start);
        if (kind == OnnxAttributeType.String && s is null) s = [];
        return new OnnxAttribute(name, kind, f, i, s, t,
            kind == OnnxAttributeType.Floats ? floats : null,
            kind == OnnxAttributeType.Ints ? ints : null);
    }

    /// <summary>Reads a TensorProto into a named <see cref="Tensor"/>.</summary>
    public static OnnxTensor ReadTensor(ref ProtoReader r) => ReadTensor(ref r, OnnxReadMode.Consensus);

    public static OnnxTensor ReadTensor(ref ProtoReader r, OnnxReadMode mode)
    {
        var start = r.Offset;
        string name = "";
        long dtype = 0;
        var dims = new List<long>();
        ReadOnlySpan<byte> raw = default;
        var hasRaw = false;
        var floats = new List<float>();
        var doubles = new List<double>();
        var int32s = new List<long>();
        var int64s = new List<long>();
        var uint64s = new List<long>();
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case TensorDims: r.ReadRepeatedVarint(wt, dims, "dims", Tensor.MaxRank); break;
                case TensorDataType: r.Expect(wt, WireType.Varint, "data_type"); dtype = r.ReadInt64(); break;
                case TensorName: r.Expect(wt, WireType.LengthDelimited, "tensor name"); name = r.ReadString("tensor name"); break;
                case TensorRawData: r.Expect(wt, WireType.LengthDelimited, "raw_data"); raw = r.ReadBytes(); hasRaw = true; break;
                case TensorFloatData: r.ReadRepeatedFloat(wt, floats, "float_data", int.MaxValue); break;
                case TensorDoubleData: r.ReadRepeatedDouble(wt, doubles, "double_data", int.MaxValue); break;
                case TensorInt32Data: r.ReadRepeatedVarint(wt, int32s, "int32_data", int.MaxValue); break;
                case TensorInt64Data: r.ReadRepeatedVarint(wt, int64s, "int64_data", int.MaxValue); break;
                case TensorUInt64Data: r.ReadRepeatedVarint(wt, uint64s, "uint64_data", int.MaxValue); break;
                case TensorSegment: throw r.Error($"tensor '{name}' is segmented; segments are not supported");
                case TensorExternalData: throw r.Error($"tensor '{name}' uses external data; only embedded data is supported");
                case TensorDataLocation:
                    r.Expect(wt, WireType.Varint, "data_location");
                    if (r.ReadInt64() != 0) throw r.Error($"tensor '{name}' has an external data location");
                    break;
                case TensorStringData: throw r.Error($"tensor '{name}' holds strings; string tensors are not supported");
                default: r.Skip(wt); break;
            }
        }
        return new OnnxTensor(name, TensorData.Build(name, dtype, dims, hasRaw, raw, floats, doubles, int32s, int64s, uint64s, start, mode.MaxBytes));
    }

    private static OnnxValueInfo ReadValueInfo(ref ProtoReader r)
    {
        string name = "";
        int elem = 0;
        List<OnnxDim>? shape = null;
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case ValueInfoName: r.Expect(wt, WireType.LengthDelimited, "value name"); name = r.ReadString("value name"); break;
                case ValueInfoType:
                    r.Expect(wt, WireType.LengthDelimited, "type");
                    var tr = r.ReadMessage("type");
                    ReadType(ref tr, name, ref elem, ref shape);
                    break;
                default: r.Skip(wt); break;
            }
        }
        return new OnnxValueInfo(name, elem, shape);
    }

    private static void ReadType(ref ProtoReader r, string name, ref int elem, ref List<OnnxDim>? shape)
    {
        while (r.TryReadTag(out var field, out var wt))
        {
            switch (field)
            {
                case TypeTensor:
                    r.Expect(wt, WireType.LengthDelimited, "tensor_type");
                    var tr = r.ReadMessage("tensor_type");
                    while (tr.TryReadTag(out var f2, out var wt2))
                    {
                        if (f2 == TensorTypeElemType) { tr.Expect(wt2, WireType.Varint, "elem_type"); elem = tr.ReadInt32(); }
                        else if (f2 == TensorTypeShape)
                        {
                            tr.Expect(wt2, WireType.LengthDelimited, "shape");
                            var sr = tr.ReadMessage("shape");
                            shape = ReadShape(ref sr);
                        }
                        else tr.Skip(wt2);
                    }
                    break;
                case TypeSequence or TypeMap or TypeSparseTensor or TypeOptional:
                    throw r.Error($"value '{name}' is not a dense tensor; only tensor types are supported");
                default: r.Skip(wt); break;
            }
        }
    }

    private static List<OnnxDim> ReadShape(ref ProtoReader r)
    {
        var dims = new List<OnnxDim>();
        while (r.TryReadTag(out var field, out var wt))
        {
            if (field != ShapeDim) { r.Skip(wt); continue; }
            r.Expect(wt, WireType.LengthDelimited, "dim");
            r.CheckCount(dims.Count + 1, Tensor.MaxRank, "dimensions");
            var dr = r.ReadMessage("dim");
            long? value = null;
            string? param = null;
            while (dr.TryReadTag(out var f2, out var wt2))
            {
                if (f2 == DimValue) { dr.Expect(wt2, WireType.Varint, "dim_value"); value = dr.ReadInt64(); param = null; }
                else if (f2 == DimParam) { dr.Expect(wt2, WireType.LengthDelimited, "dim_param"); param = dr.ReadString("dim_param"); value = null; }
                else dr.Skip(wt2);
            }
            dims.Add(new OnnxDim(value, param));
        }
        return dims;
    }
}

/// <summary>
/// How <see cref="OnnxReader"/> reads: <see cref="Consensus"/> (the subset and limits of docs/onnx-subset.md, the only mode
/// admission and execution use) or <see cref="ToolingMode"/> (offline preparation of float models: larger files, more
/// nodes, deeper nesting, graph-valued attributes of If/Loop). Everything else refused stays refused in both.
/// </summary>
internal sealed record OnnxReadMode(bool Tooling, int MaxBytes, int MaxDepth, int MaxNodes)
{
    public static OnnxReadMode Consensus { get; } = new(false, ProtoLimits.MaxMessageBytes, ProtoLimits.MaxDepth, ProtoLimits.MaxNodes);

    /// <summary>Float models up to 256 MiB (about four times their int8 form), 2^20 nodes, 64 nesting levels.</summary>
    public static OnnxReadMode ToolingMode { get; } = new(true, 256 << 20, 64, 1 << 20);
}
