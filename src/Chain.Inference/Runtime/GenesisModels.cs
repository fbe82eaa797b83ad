using System.Text.Json;
using Chain.Core;

namespace Chain.Inference.Runtime;

/// <summary>A genesis model as shipped in genesis/models: its bytes and its known-answer vectors (real MNIST test digits).</summary>
public sealed record GenesisModel(string Name, string File, byte[] Bytes, Hash32 ModelId, IReadOnlyList<GenesisDigit> Digits);

/// <summary>One shipped known answer: a 28×28 u8 MNIST test image, its label, and the canonical first-output hash and class.</summary>
public sealed record GenesisDigit(int TestIndex, int Label, byte[] Pixels, Hash32 OutputHash, long Class);

/// <summary>
/// Reads genesis/models/{mlp,cnn}.onnx and vectors.json (written by `make genesis-onnx`). The vectors
/// are the node's built-in known answers: the canonical executor must reproduce them at start-up.
/// </summary>
public static class GenesisModels
{
    /// <summary>Version of the canonical integer semantics (docs/inference-semantics.md) recorded in receipts.</summary>
    public const uint SemanticsVersion = 1;

    public static readonly int[] ImageShape = [1, 1, 28, 28];

    /// <summary>genesis/models in <paramref name="start"/> or the nearest folder above it; null when there is none.</summary>
    public static string? Locate(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "genesis", "models");
            if (System.IO.File.Exists(Path.Combine(candidate, "vectors.json"))) return candidate;
        }
        return null;
    }

    public static IReadOnlyList<GenesisModel> Load(string modelsDirectory)
    {
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(modelsDirectory, "vectors.json")));
        var models = new List<GenesisModel>();
        foreach (var (file, entry) in new[] { "mlp.onnx", "cnn.onnx" }.Zip(doc.RootElement.EnumerateArray()))
        {
            var bytes = System.IO.File.ReadAllBytes(Path.Combine(modelsDirectory, file));
            var id = Chain.Core.Hashing.DomainHash.Compute(Chain.Core.Hashing.HashDomain.Model, bytes);
            var expected = Hash32.Parse(entry.GetProperty("model_id").GetString()!);
            if (id != expected)
                throw new InvalidDataException($"{file} hashes to {id}, but vectors.json says {expected}: the files are out of step (run `make genesis-onnx`)");
            var digits = entry.GetProperty("vectors").EnumerateArray().Select(v => new GenesisDigit(
                v.GetProperty("test_index").GetInt32(),
                v.GetProperty("label").GetInt32(),
                Convert.FromBase64String(v.GetProperty("input").GetString()!),
                Hash32.Parse(v.GetProperty("logits_hash").GetString()!),
                v.GetProperty("class").GetInt64())).ToArray();
            models.Add(new GenesisModel(entry.GetProperty("name").GetString()!, file, bytes, id, digits));
        }
        return models;
    }

    /// <summary>The digit as the model's input tensor (u8 [1,1,28,28]).</summary>
    public static Tensor ImageTensor(ReadOnlySpan<byte> pixels) => Tensor.Create(TensorElementType.UInt8, ImageShape, pixels);

    /// <summary>File of sample MNIST test digits shipped beside the models: records of [label: 1 byte, pixels: 784 bytes].</summary>
    public const string TestDigitsFile = "mnist-test-200.bin";

    /// <summary>
    /// The first 200 digits of the MNIST test set (t10k), as shipped in <see cref="TestDigitsFile"/> (genesis/models/README.md),
    /// for clients that need real inputs without downloading MNIST (the devnet, the network benchmark).
    /// </summary>
    public static IReadOnlyList<(int Label, byte[] Pixels)> LoadTestDigits(string modelsDirectory)
    {
        const int record = 1 + 28 * 28;
        var bytes = File.ReadAllBytes(Path.Combine(modelsDirectory, TestDigitsFile));
        if (bytes.Length == 0 || bytes.Length % record != 0)
            throw new InvalidDataException($"{TestDigitsFile}: {bytes.Length} bytes is not a whole number of {record}-byte digit records");
        var digits = new List<(int, byte[])>(bytes.Length / record);
        for (int at = 0; at < bytes.Length; at += record)
        {
            int label = bytes[at];
            if (label > 9) throw new InvalidDataException($"{TestDigitsFile}: digit {at / record} has label {label}");
            digits.Add((label, bytes.AsSpan(at + 1, record - 1).ToArray()));
        }
        return digits;
    }

    /// <summary>The digit a genesis model's uint8 logits tensor predicts: the first index of the largest logit.</summary>
    public static int PredictedDigit(Tensor logits)
    {
        var values = logits.Elements<byte>();
        int best = 0;
        for (int c = 1; c < values.Length; c++) if (values[c] > values[best]) best = c;
        return best;
    }

    /// <summary>The digits as known-answer vectors for <see cref="InferenceEngine.Load"/>.</summary>
    public static IReadOnlyList<TestVector> Vectors(GenesisModel model, string inputName) =>
        model.Digits.Select(d => new TestVector([new NamedTensor(inputName, ImageTensor(d.Pixels))], d.OutputHash)).ToArray();
}
