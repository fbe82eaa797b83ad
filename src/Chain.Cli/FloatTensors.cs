using System.Globalization;
using Chain.Core.Codec;
using Chain.Inference;
using Chain.Inference.Onnx;

namespace Chain.Cli;

/// <summary>
/// Float in, float out for quantized models: reading tensor files in every format users have, quantizing float
/// inputs with the model's recorded <see cref="QuantizationMetadata"/>, and showing outputs dequantized beside
/// the raw integers (with top classes and labels when the model carries them).
/// </summary>
internal static class FloatTensors
{
    /// <summary>
    /// A tensor file: the canonical tensor encoding (.bin and anything else that decodes), NumPy .npy, ONNX TensorProto
    /// .pb, or JSON (<see cref="TensorFiles"/>).
    /// </summary>
    public static Tensor Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new CliException($"no such input file: {path}");
        if (info.Length > TensorFiles.MaxFileBytes) throw new CliException($"{path} is {info.Length} bytes, too large for an input tensor");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is not (".npy" or ".pb" or ".json"))
        {
            var bytes = File.ReadAllBytes(path);
            if (Canonical.TryDecode<Tensor>(bytes, out var decoded, out _)) return decoded!;
        }
        try
        {
            return TensorFiles.Read(path);
        }
        catch (FormatException e)
        {
            throw new CliException($"input file {path} is not a tensor (canonical .bin, .npy, .pb or .json): {CliApp.OneLine(e.Message)}");
        }
    }

    /// <summary>The tensor to send for <paramref name="inputName"/>: integers as given, floats quantized with the model's metadata.</summary>
    public static Tensor Prepare(Tensor given, string inputName, QuantizationMetadata? metadata)
    {
        if (given.ElementType != TensorElementType.Float) return given;
        if (metadata is null)
            throw new CliException("the input is float32 but the model records no quantization (metadata 'chain.quantization'); give an integer tensor, or quantize the model with `chain model quantize`");
        try
        {
            return metadata.PrepareInput(inputName, given);
        }
        catch (Exception e) when (e is ArgumentException or Inference.Kernels.InferenceException)
        {
            throw new CliException(CliApp.OneLine(e.Message));
        }
    }

    /// <summary>The metadata of model bytes, or null; a malformed record is a one-line error.</summary>
    public static QuantizationMetadata? MetadataOf(byte[] modelBytes)
    {
        try
        {
            return QuantizationMetadata.From(OnnxModel.Parse(modelBytes));
        }
        catch (Exception e) when (e is FormatException or Inference.Protobuf.OnnxFormatException)
        {
            throw new CliException($"the model's float interface cannot be read: {CliApp.OneLine(e.Message)}");
        }
    }

    /// <summary>
    /// Lines describing an output in floats: the dequantized values, and for a vector of class scores the top
    /// <paramref name="topK"/> classes (after the softmax the model left to the client, if any) with their labels.
    /// Empty when the metadata does not describe this output.
    /// </summary>
    public static IReadOnlyList<string> Describe(string outputName, Tensor output, QuantizationMetadata? metadata, int topK = 3)
    {
        if (metadata?.Output(outputName) is not { } info || output.ElementType != info.Type) return [];
        var values = QuantizationMetadata.Dequantize(info, output);
        var lines = new List<string>
        {
            $"dequantized ({info.Scale.ToString("R", CultureInfo.InvariantCulture)} × (q {(info.ZeroPoint < 0 ? "+" : "−")} {Math.Abs(info.ZeroPoint)})): [{string.Join(", ", values.Take(16).Select(F))}{(values.Length > 16 ? ", …" : "")}]",
        };
        if (values.Length is > 1 and <= 100_000)
        {
            var scores = info.Postprocess switch
            {
                "softmax" => Softmax(values),
                "log-softmax" => Softmax(values).Select(p => MathF.Log(p)).ToArray(),
                _ => values,
            };
            var top = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(topK)
                .Select(i => $"{i}{Label(metadata, i)} {F(scores[i])}");
            lines.Add($"top {Math.Min(topK, scores.Length)}{(info.Postprocess is { } p ? $" after {p}" : "")}: {string.Join(", ", top)}");
        }
        return lines;
    }

    private static string Label(QuantizationMetadata metadata, int index) =>
        metadata.Labels is { } labels && index < labels.Count && labels[index].Length > 0 ? $" ({labels[index]})" : "";

    private static float[] Softmax(float[] x)
    {
        var max = x.Max();
        var e = x.Select(v => MathF.Exp(v - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static string F(float v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
