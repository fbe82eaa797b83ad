using Chain.Inference.Kernels;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Chain.Inference.Runtime;

/// <summary>ONNX Runtime graph optimisation levels, named as ORT names them.</summary>
public enum OrtOptimization
{
    Disabled,
    Basic,
    Extended,
    All,
}

/// <summary>
/// The pinned session settings of the fast path. Every field that could change the arithmetic is
/// fixed here rather than left to ORT's defaults, and the defaults are the configuration the start-up
/// self-check proves bit-exact against the canonical executor (docs/inference-semantics.md).
/// </summary>
public sealed record OrtSettings(OrtOptimization Optimization = OrtOptimization.Basic, int IntraOpThreads = 1)
{
    public static OrtSettings Pinned { get; } = new();

    public override string ToString() => $"ort opt={Optimization.ToString().ToLowerInvariant()} threads={IntraOpThreads}";
}

/// <summary>
/// ONNX Runtime cannot load a model (typically no CPU kernel for an op and element type). An
/// <see cref="InvalidOperationException"/>, so callers that treat any load failure as "no fast path" keep working.
/// </summary>
public sealed class OrtLoadException(string message, Exception inner) : InvalidOperationException(message, inner);

/// <summary>
/// The ONNX Runtime (CPU) fast path. Sequential execution, fixed thread count, no spinning, no
/// memory-pattern or arena tricks that could vary between runs. Inputs and outputs are copied to and
/// from <see cref="Tensor"/> so callers never see ORT types.
/// </summary>
public sealed class OrtExecutor : IModelExecutor
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly string[] _outputNames;
    private readonly (string Name, OrtElementType Type, int[] Dims)[] _inputs;

    public OrtExecutor(byte[] model, OrtSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.IntraOpThreads, 1);
        Settings = settings;
        _options = new SessionOptions
        {
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = settings.IntraOpThreads,
            InterOpNumThreads = 1,
            GraphOptimizationLevel = settings.Optimization switch
            {
                OrtOptimization.Disabled => GraphOptimizationLevel.ORT_DISABLE_ALL,
                OrtOptimization.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                OrtOptimization.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
            },
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        _options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        try
        {
            _session = new InferenceSession(model, _options);
        }
        catch (OnnxRuntimeException e)
        {
            _options.Dispose();
            throw new OrtLoadException($"ONNX Runtime refused the model: {OneLine(e.Message)}", e);
        }
        _outputNames = [.. _session.OutputNames];
        _inputs = [.. _session.InputMetadata.Select(m => (m.Key, m.Value.ElementDataType, m.Value.Dimensions))];
    }

    public OrtSettings Settings { get; }

    public string Description => Settings.ToString();

    /// <summary>Runs the model; wrong inputs and ORT's own run-time errors are an <see cref="InferenceException"/>.</summary>
    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
    {
        CheckInputs(inputs);
        var values = new Dictionary<string, OrtValue>(inputs.Count);
        try
        {
            foreach (var input in inputs) values[input.Name] = ToOrtValue(input.Value);
            using var runOptions = new RunOptions();
            using var results = RunSession(runOptions, values);
            var outputs = new NamedTensor[_outputNames.Length];
            int i = 0;
            foreach (var result in results)
            {
                outputs[i] = new NamedTensor(_outputNames[i], FromOrtValue(result, _outputNames[i]));
                i++;
            }
            return outputs;
        }
        finally
        {
            foreach (var v in values.Values) v.Dispose();
        }
    }

    private IDisposableReadOnlyCollection<OrtValue> RunSession(RunOptions runOptions, Dictionary<string, OrtValue> values)
    {
        try
        {
            return _session.Run(runOptions, values, _outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InferenceException($"ONNX Runtime: {OneLine(e.Message)}");
        }
    }

    /// <summary>
    /// The same checks as the canonical executor's input binding, against the session's own metadata, so a
    /// wrong input is the same one-line <see cref="InferenceException"/> whichever executor runs.
    /// </summary>
    private void CheckInputs(IReadOnlyList<NamedTensor> inputs)
    {
        if (inputs.Count != _inputs.Length)
            throw new InferenceException($"model takes {_inputs.Length} input(s) ({string.Join(", ", _inputs.Select(Describe))}), got {inputs.Count}");
        foreach (var spec in _inputs)
        {
            var supplied = inputs.FirstOrDefault(i => i.Name == spec.Name).Value
                ?? throw new InferenceException($"input '{spec.Name}' is missing (expected {Describe(spec)})");
            // A negative dimension is symbolic in ORT's metadata: any size fits it. (A loop: this runs on every call.)
            bool shapeFits = supplied.Rank == spec.Dims.Length;
            for (int d = 0; shapeFits && d < spec.Dims.Length; d++) shapeFits = spec.Dims[d] < 0 || spec.Dims[d] == supplied.Shape[d];
            if (ToOrt(supplied.ElementType) != spec.Type || !shapeFits)
                throw new InferenceException($"input '{spec.Name}' is {supplied}, expected {Describe(spec)}");
        }
    }

    private static string Describe((string Name, OrtElementType Type, int[] Dims) spec) =>
        $"{(FromOrt(spec.Type) is { } t ? TensorElementTypes.Name(t) : spec.Type.ToString())}[{string.Join(",", spec.Dims.Select(d => d < 0 ? "?" : d.ToString()))}]";

    private static OrtElementType? ToOrt(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 => OrtElementType.UInt8,
        TensorElementType.Int8 => OrtElementType.Int8,
        TensorElementType.Int16 => OrtElementType.Int16,
        TensorElementType.UInt16 => OrtElementType.UInt16,
        TensorElementType.Int32 => OrtElementType.Int32,
        TensorElementType.UInt32 => OrtElementType.UInt32,
        TensorElementType.Int64 => OrtElementType.Int64,
        TensorElementType.UInt64 => OrtElementType.UInt64,
        TensorElementType.Float => OrtElementType.Float,
        TensorElementType.Double => OrtElementType.Double,
        TensorElementType.Bool => OrtElementType.Bool,
        _ => null,
    };

    private static TensorElementType? FromOrt(OrtElementType type) =>
        Enum.GetValues<TensorElementType>().Where(t => ToOrt(t) == type).Select(t => (TensorElementType?)t).FirstOrDefault();

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static OrtValue ToOrtValue(Tensor tensor)
    {
        var shape = new long[tensor.Rank];
        for (int d = 0; d < shape.Length; d++) shape[d] = tensor.Shape[d];
        return tensor.ElementType switch
        {
            TensorElementType.UInt8 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<byte>().ToArray(), shape),
            TensorElementType.Int8 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<sbyte>().ToArray(), shape),
            TensorElementType.Int16 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<short>().ToArray(), shape),
            TensorElementType.UInt16 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<ushort>().ToArray(), shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<int>().ToArray(), shape),
            TensorElementType.UInt32 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<uint>().ToArray(), shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<long>().ToArray(), shape),
            TensorElementType.UInt64 => OrtValue.CreateTensorValueFromMemory(tensor.Elements<ulong>().ToArray(), shape),
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(tensor.Elements<float>().ToArray(), shape),
            TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(tensor.Elements<double>().ToArray(), shape),
            TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory(tensor.Elements<bool>().ToArray(), shape),
            _ => throw new InvalidOperationException($"ONNX Runtime input of type {TensorElementTypes.Name(tensor.ElementType)} is not supported"),
        };
    }

    private static Tensor FromOrtValue(OrtValue value, string name)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape.Select(d => checked((int)d)).ToArray();
        return info.ElementDataType switch
        {
            OrtElementType.UInt8 => Tensor.Create(TensorElementType.UInt8, shape, value.GetTensorDataAsSpan<byte>()),
            OrtElementType.Int8 => Tensor.Create(TensorElementType.Int8, shape, value.GetTensorDataAsSpan<sbyte>()),
            OrtElementType.Int16 => Tensor.Create(TensorElementType.Int16, shape, value.GetTensorDataAsSpan<short>()),
            OrtElementType.UInt16 => Tensor.Create(TensorElementType.UInt16, shape, value.GetTensorDataAsSpan<ushort>()),
            OrtElementType.Int32 => Tensor.Create(TensorElementType.Int32, shape, value.GetTensorDataAsSpan<int>()),
            OrtElementType.UInt32 => Tensor.Create(TensorElementType.UInt32, shape, value.GetTensorDataAsSpan<uint>()),
            OrtElementType.Int64 => Tensor.Create(TensorElementType.Int64, shape, value.GetTensorDataAsSpan<long>()),
            OrtElementType.UInt64 => Tensor.Create(TensorElementType.UInt64, shape, value.GetTensorDataAsSpan<ulong>()),
            OrtElementType.Float => Tensor.Create(TensorElementType.Float, shape, value.GetTensorDataAsSpan<float>()),
            OrtElementType.Double => Tensor.Create(TensorElementType.Double, shape, value.GetTensorDataAsSpan<double>()),
            OrtElementType.Bool => Tensor.Create(TensorElementType.Bool, shape, value.GetTensorDataAsSpan<bool>()),
            var other => throw new InvalidOperationException($"output '{name}' has ONNX Runtime type {other}, which Chain does not read"),
        };
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
