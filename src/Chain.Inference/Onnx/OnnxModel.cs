using Chain.Inference.Protobuf;

namespace Chain.Inference.Onnx;

/// <summary>An operator set import: the domain ("" is ai.onnx) and its version.</summary>
public sealed record OpsetImport(string Domain, long Version);

/// <summary>An initializer or constant attribute tensor: the ONNX name and its value.</summary>
public sealed record OnnxTensor(string Name, Tensor Value);

/// <summary>One dimension of a declared shape: a fixed size, a symbolic name, or neither (unknown).</summary>
public sealed record OnnxDim(long? Value, string? Param)
{
    public static OnnxDim Fixed(long value) => new(value, null);
    public static OnnxDim Symbolic(string name) => new(null, name);
    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>
/// A declared graph input, output or intermediate value: a tensor type whose element type is the ONNX
/// number (0 when undeclared) and whose shape is null when not declared at all.
/// </summary>
public sealed record OnnxValueInfo(string Name, int ElemType, IReadOnlyList<OnnxDim>? Shape)
{
    public TensorElementType ElementType => (TensorElementType)ElemType;

    /// <summary>The shape when every dimension is a fixed value, else null.</summary>
    public long[]? StaticShape => Shape is { } s && s.All(d => d.Value is not null) ? s.Select(d => d.Value!.Value).ToArray() : null;
}

/// <summary>A model: the subset of ModelProto this project reads and writes (see docs/onnx-subset.md).</summary>
public sealed class OnnxModel
{
    public OnnxModel(long irVersion, IReadOnlyList<OpsetImport> opsetImports, OnnxGraph graph, string producerName = "", string producerVersion = "",
        IReadOnlyList<KeyValuePair<string, string>>? metadataProps = null)
    {
        IrVersion = irVersion;
        OpsetImports = opsetImports;
        Graph = graph;
        ProducerName = producerName;
        ProducerVersion = producerVersion;
        MetadataProps = metadataProps ?? [];
    }

    public long IrVersion { get; }
    public IReadOnlyList<OpsetImport> OpsetImports { get; }
    public string ProducerName { get; }
    public string ProducerVersion { get; }
    public OnnxGraph Graph { get; }

    /// <summary>
    /// ModelProto.metadata_props in file order. Informational only: admission and execution never read them; the
    /// quantizer records a model's float interface here (<c>Chain.Quantization.QuantizationMetadata</c>) for clients.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> MetadataProps { get; }

    /// <summary>The value of metadata key <paramref name="key"/> (the first one if repeated), or null.</summary>
    public string? Metadata(string key)
    {
        foreach (var kv in MetadataProps)
            if (kv.Key == key) return kv.Value;
        return null;
    }

    /// <summary>The same model with <paramref name="props"/> as its metadata.</summary>
    public OnnxModel WithMetadata(IReadOnlyList<KeyValuePair<string, string>> props) =>
        new(IrVersion, OpsetImports, Graph, ProducerName, ProducerVersion, props);

    /// <summary>The same model with another graph (metadata and imports kept).</summary>
    public OnnxModel WithGraph(OnnxGraph graph) => new(IrVersion, OpsetImports, graph, ProducerName, ProducerVersion, MetadataProps);

    /// <summary>The ai.onnx opset version this model imports, or null when it imports none.</summary>
    public long? DefaultOpset => OpsetImports.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version;

    /// <summary>
    /// Parses model bytes; throws <see cref="OnnxFormatException"/> for anything malformed or outside the subset.
    /// Constant nodes come back as initializers (<see cref="ConstantFolding"/>), so a model that had them
    /// writes back without them.
    /// </summary>
    public static OnnxModel Parse(ReadOnlySpan<byte> bytes) => OnnxReader.ReadModel(bytes);

    /// <summary>
    /// Offline tooling only (`chain model quantize`), never admission or execution: reads a float model as exported by
    /// PyTorch, Keras, Paddle or sklearn converters — up to 256 MiB, up to 2^20 nodes, with graph-valued attributes
    /// (If then/else_branch, Loop body; <see cref="OnnxAttributeType.Graph"/>). Constant nodes become initializers, in
    /// subgraphs too. External data, sparse tensors, training info, functions and non-tensor types are still refused.
    /// </summary>
    public static OnnxModel ParseForTooling(ReadOnlySpan<byte> bytes) => OnnxReader.ReadModel(bytes, OnnxReadMode.ToolingMode);

    /// <summary>Serializes the model; <see cref="Parse"/> of the result gives an equal model.</summary>
    public byte[] ToBytes() => OnnxWriter.WriteModel(this);
}

/// <summary>A graph: nodes in file order, initializers, declared inputs/outputs and value infos.</summary>
public sealed record OnnxGraph(
    string Name,
    IReadOnlyList<OnnxNode> Nodes,
    IReadOnlyList<OnnxTensor> Initializers,
    IReadOnlyList<OnnxValueInfo> Inputs,
    IReadOnlyList<OnnxValueInfo> Outputs,
    IReadOnlyList<OnnxValueInfo> ValueInfo)
{
    public OnnxTensor? FindInitializer(string name) => Initializers.FirstOrDefault(t => t.Name == name);
}

/// <summary>
/// A node. Inputs may contain "" for an omitted optional input (ONNX convention); trailing outputs
/// may be "" for an unused optional output.
/// </summary>
public sealed record OnnxNode(
    string Name,
    string OpType,
    string Domain,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    IReadOnlyList<OnnxAttribute> Attributes)
{
    public OnnxAttribute? Find(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    /// <summary>Input <paramref name="index"/> or null when absent or "" (optional input omitted).</summary>
    public string? InputAt(int index) => index < Inputs.Count && Inputs[index].Length > 0 ? Inputs[index] : null;

    public long GetInt(string name, long defaultValue) => Find(name) is { } a ? a.AsInt() : defaultValue;

    public long[]? GetInts(string name) => Find(name)?.AsInts();

    public float GetFloat(string name, float defaultValue) => Find(name) is { } a ? a.AsFloat() : defaultValue;

    public string? GetString(string name) => Find(name)?.AsString();

    public Tensor? GetTensor(string name) => Find(name)?.AsTensor();

    /// <summary>Name used in reports: the node name, else its first output.</summary>
    public string DisplayName => Name.Length > 0 ? Name : Outputs.FirstOrDefault(o => o.Length > 0) is { } o ? $"({OpType} -> {o})" : $"({OpType})";
}

/// <summary>AttributeProto.AttributeType numbers for the supported kinds.</summary>
public enum OnnxAttributeType
{
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Floats = 6,
    Ints = 7,

    /// <summary>A subgraph (If branches, Loop body): read by <see cref="OnnxModel.ParseForTooling"/> only; consensus refuses it.</summary>
    Graph = 5,
}

/// <summary>A node attribute of one of the supported kinds.</summary>
public sealed record OnnxAttribute(
    string Name,
    OnnxAttributeType Type,
    float F = 0,
    long I = 0,
    byte[]? S = null,
    Tensor? T = null,
    IReadOnlyList<float>? Floats = null,
    IReadOnlyList<long>? Ints = null,
    OnnxGraph? G = null)
{
    public static OnnxAttribute Of(string name, OnnxGraph value) => new(name, OnnxAttributeType.Graph, G: value);
    public OnnxGraph AsGraph() => Type == OnnxAttributeType.Graph && G is not null ? G : throw WrongType("graph");

    public static OnnxAttribute Of(string name, long value) => new(name, OnnxAttributeType.Int, I: value);
    public static OnnxAttribute Of(string name, float value) => new(name, OnnxAttributeType.Float, F: value);
    public static OnnxAttribute Of(string name, string value) => new(name, OnnxAttributeType.String, S: System.Text.Encoding.UTF8.GetBytes(value));
    public static OnnxAttribute Of(string name, long[] values) => new(name, OnnxAttributeType.Ints, Ints: values);
    public static OnnxAttribute Of(string name, float[] values) => new(name, OnnxAttributeType.Floats, Floats: values);
    public static OnnxAttribute Of(string name, Tensor value) => new(name, OnnxAttributeType.Tensor, T: value);

    public long AsInt() => Type == OnnxAttributeType.Int ? I : throw WrongType("int");
    public float AsFloat() => Type == OnnxAttributeType.Float ? F : throw WrongType("float");
    public long[] AsInts() => Type == OnnxAttributeType.Ints ? (Ints ?? []).ToArray() : throw WrongType("ints");
    public float[] AsFloats() => Type == OnnxAttributeType.Floats ? (Floats ?? []).ToArray() : throw WrongType("floats");
    public Tensor AsTensor() => Type == OnnxAttributeType.Tensor && T is not null ? T : throw WrongType("tensor");
    public string AsString() => Type == OnnxAttributeType.String ? System.Text.Encoding.UTF8.GetString(S ?? []) : throw WrongType("string");

    private OnnxFormatException WrongType(string expected) => new($"attribute '{Name}' is {Type}, expected {expected}");
}
