namespace Chain.Inference.Onnx;

/// <summary>Field numbers from the public onnx.proto (IR version 10) for the messages this project reads.</summary>
internal static class OnnxFields
{
    // ModelProto
    public const int ModelIrVersion = 1, ModelProducerName = 2, ModelProducerVersion = 3, ModelGraph = 7, ModelOpsetImport = 8,
        ModelMetadataProps = 14, ModelTrainingInfo = 20, ModelFunctions = 25;

    // StringStringEntryProto (metadata_props)
    public const int EntryKey = 1, EntryValue = 2;

    // OperatorSetIdProto
    public const int OpsetDomain = 1, OpsetVersion = 2;

    // GraphProto
    public const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12, GraphValueInfo = 13,
        GraphSparseInitializer = 15;

    // NodeProto
    public const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5, NodeDomain = 7;

    // AttributeProto
    public const int AttrName = 1, AttrF = 2, AttrI = 3, AttrS = 4, AttrT = 5, AttrG = 6, AttrFloats = 7, AttrInts = 8,
        AttrStrings = 9, AttrTensors = 10, AttrGraphs = 11, AttrTypeProto = 14, AttrTypeProtos = 15, AttrType = 20,
        AttrRefAttrName = 21, AttrSparseTensor = 22, AttrSparseTensors = 23;

    // TensorProto
    public const int TensorDims = 1, TensorDataType = 2, TensorSegment = 3, TensorFloatData = 4, TensorInt32Data = 5,
        TensorStringData = 6, TensorInt64Data = 7, TensorName = 8, TensorRawData = 9, TensorDoubleData = 10,
        TensorUInt64Data = 11, TensorExternalData = 13, TensorDataLocation = 14;

    // ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto, TensorShapeProto.Dimension
    public const int ValueInfoName = 1, ValueInfoType = 2;
    public const int TypeTensor = 1, TypeSequence = 4, TypeMap = 5, TypeSparseTensor = 8, TypeOptional = 9;
    public const int TensorTypeElemType = 1, TensorTypeShape = 2;
    public const int ShapeDim = 1;
    public const int DimValue = 1, DimParam = 2;
}
