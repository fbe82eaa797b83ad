using Chain.Inference;

namespace Chain.Testing.FloatModels;

/// <summary>What a model's output means, for tests that compare a float model with its int8 version.</summary>
public enum FloatModelKind
{
    /// <summary>The output's last axis holds one score per class (probabilities, log-probabilities or a sigmoid score): compare top-1.</summary>
    Classifier,

    /// <summary>The output is a vector of real values (boxes, an embedding): compare values.</summary>
    Regressor,
}

/// <summary>
/// A float32 ONNX test model. <see cref="InputShape"/> is the concrete shape to feed (batch 1); when
/// <see cref="DynamicBatch"/> the declared batch dimension is symbolic. <see cref="Bytes"/> is the caller's copy.
/// </summary>
public sealed record FloatModel(
    string Name,
    byte[] Bytes,
    string InputName,
    int[] InputShape,
    bool DynamicBatch,
    string OutputName,
    FloatModelKind Kind,
    int Classes,
    IReadOnlyList<string> OpTypes,
    string Exercises,
    string Weights)
{
    /// <summary>The input's element count for one sample (batch 1).</summary>
    public int InputElements => InputShape.Aggregate(1, (a, b) => a * b);

    /// <summary>The shape argument of the CLI's --shape option for this input, e.g. "input=1,490".</summary>
    public string ShapeOption => $"{InputName}={string.Join(",", InputShape)}";

    /// <summary>The synthetic task the model was fitted on (zoo models only): draws labelled examples.</summary>
    internal Func<int, ulong, ZooExample[]>? Sampler { get; init; }

    /// <summary>Where the model came from (third-party models: package, version and path; zoo models: "FloatModelZoo").</summary>
    public string Source { get; init; } = "FloatModelZoo";

    public override string ToString() => $"{Name} ({Bytes.Length} bytes, {InputName}[{string.Join(",", InputShape)}], {Kind})";
}

/// <summary>
/// One example of a zoo model's synthetic task: the input tensor (batch 1), the class label for a classifier
/// (-1 for a regressor) and the regression target (null for a classifier).
/// </summary>
public sealed record LabeledInput(Tensor Input, int Label, float[]? Target);
