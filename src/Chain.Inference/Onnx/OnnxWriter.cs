using Chain.Inference.Protobuf;
using static Chain.Inference.Onnx.OnnxFields;

namespace Chain.Inference.Onnx;

/// <summary>Writes the ONNX subset. Tensors always use raw_data (exact bytes, no per-type field rules).</summary>
internal static class OnnxWriter
{
    public static byte[] WriteModel(OnnxModel model)
    {
        var w = new ProtoWriter();
        w.WriteInt64(ModelIrVersion, model.IrVersion);
        w.WriteStringIfAny(ModelProducerName, model.ProducerName);
        w.WriteStringIfAny(ModelProducerVersion, model.ProducerVersion);
        w.WriteMessage(ModelGraph, WriteGraph(model.Graph));
        foreach (var o in model.OpsetImports)
        {
            var ow = new ProtoWriter();
            ow.WriteStringIfAny(OpsetDomain, o.Domain);
            ow.WriteInt64(OpsetVersion, o.Version);
            w.WriteMessage(ModelOpsetImport, ow);
        }
        foreach (var kv in model.MetadataProps)
        {
            var ew = new ProtoWriter();
            ew.WriteString(EntryKey, kv.Key);
            ew.WriteString(EntryValue, kv.Value);
            w.WriteMessage(ModelMetadataProps, ew);
        }
        return w.ToArray();
    }

    private static ProtoWriter WriteGraph(OnnxGraph g)
    {
        var w = new ProtoWriter();
        foreach (var n in g.Nodes) w.WriteMessage(GraphNode, WriteNode(n));
        w.WriteStringIfAny(GraphName, g.Name);
        foreach (var t in g.Initializers) w.WriteMessage(GraphInitializer, WriteTensor(t));
        foreach (var v in g.Inputs) w.WriteMessage(GraphInput, WriteValueInfo(v));
        foreach (var v in g.Outputs) w.WriteMessage(GraphOutput, WriteValueInfo(v));
        foreach (var v in g.ValueInfo) w.WriteMessage(GraphValueInfo, WriteValueInfo(v));
        return w;
    }

    private static ProtoWriter WriteNode(OnnxNode n)
    {
        var w = new ProtoWriter();
        // Inputs and outputs are written even when empty: "" marks an omitted optional input by position.
        foreach (var i in n.Inputs) w.WriteString(NodeInput, i);
        foreach (var o in n.Outputs) w.WriteString(NodeOutput, o);
        w.WriteStringIfAny(NodeName, n.Name);
        w.WriteString(NodeOpType, n.OpType);
        foreach (var a in n.Attributes) w.WriteMessage(NodeAttribute, WriteAttribute(a));
        w.WriteStringIfAny(NodeDomain, n.Domain);
        return w;
    }

    private static ProtoWriter WriteAttribute(OnnxAttribute a)
    {
        var w = new ProtoWriter();
        w.WriteString(AttrName, a.Name);
        switch (a.Type)
        {
            case OnnxAttributeType.Float: w.WriteFloat(AttrF, a.F); break;
            case OnnxAttributeType.Int: w.WriteInt64(AttrI, a.I); break;
            case OnnxAttributeType.String: w.WriteBytes(AttrS, a.S ?? []); break;
            case OnnxAttributeType.Tensor: w.WriteMessage(AttrT, WriteTensor(new OnnxTensor("", a.AsTensor()))); break;
            case OnnxAttributeType.Floats: w.WritePackedFloats(AttrFloats, a.Floats ?? []); break;
            case OnnxAttributeType.Ints: w.WritePackedVarints(AttrInts, a.Ints ?? []); break;
            case OnnxAttributeType.Graph: w.WriteMessage(AttrG, WriteGraph(a.AsGraph())); break;
            default: throw new ArgumentException($"attribute '{a.Name}' has unsupported type {a.Type}");
        }
        w.WriteInt64(AttrType, (long)a.Type);
        return w;
    }

    public static ProtoWriter WriteTensor(OnnxTensor t)
    {
        var w = new ProtoWriter();
        var dims = new long[t.Value.Rank];
        for (var i = 0; i < dims.Length; i++) dims[i] = t.Value.Shape[i];
        w.WritePackedVarints(TensorDims, dims);
        w.WriteInt64(TensorDataType, (long)t.Value.ElementType);
        w.WriteStringIfAny(TensorName, t.Name);
        w.WriteBytes(TensorRawData, t.Value.Data);
        return w;
    }

    private static ProtoWriter WriteValueInfo(OnnxValueInfo v)
    {
        var tensorType = new ProtoWriter();
        if (v.ElemType != 0) tensorType.WriteInt64(TensorTypeElemType, v.ElemType);
        if (v.Shape is { } shape)
        {
            var sw = new ProtoWriter();
            foreach (var d in shape)
            {
                var dw = new ProtoWriter();
                if (d.Value is { } value) dw.WriteInt64(DimValue, value);
                else if (d.Param is { } param) dw.WriteString(DimParam, param);
                sw.WriteMessage(ShapeDim, dw);
            }
            tensorType.WriteMessage(TensorTypeShape, sw);
        }
        var type = new ProtoWriter();
        type.WriteMessage(TypeTensor, tensorType);
        var w = new ProtoWriter();
        w.WriteString(ValueInfoName, v.Name);
        w.WriteMessage(ValueInfoType, type);
        return w;
    }
}
