using System.Text.Json;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Runtime;

namespace Chain.ModelTool;

/// <summary>One known answer shipped with a genesis model: a test image (base64 of the u8 pixels), its label, and the canonical output hashes.</summary>
public sealed record GenesisVector(int TestIndex, int Label, string Input, string InputHash, string LogitsHash, long Class);

/// <summary>What exporting one genesis model measured.</summary>
public sealed record GenesisExportReport(
    string Name, string ModelId, int OnnxBytes, long Macs, ulong Gas, double CanonicalAccuracy,
    int ReferenceMismatches, IReadOnlyList<GenesisVector> Vectors);

/// <summary>
/// Turns a committed quantized description into the genesis ONNX file, proves it is admitted, and runs
/// the canonical executor over the whole MNIST test set: its accuracy is the one quoted, and every
/// logit must equal the independent integer reference (<see cref="IntegerReference"/>).
/// </summary>
public static class GenesisExport
{
    public const int VectorCount = 5;

    public static GenesisExportReport Export(QuantizedModel model, string onnxPath, MnistSet? test)
    {
        var bytes = OnnxExport.ToBytes(model);
        var report = ModelAdmission.Check(bytes);
        if (!report.Admitted)
            throw new InvalidOperationException($"exported {model.Name} is not admitted: {string.Join("; ", report.Reasons)}");
        File.WriteAllBytes(onnxPath, bytes);

        using var executor = CanonicalExecutor.Load(bytes);
        var vectors = new List<GenesisVector>();
        int correct = 0, mismatches = 0, count = test?.Count ?? 0;
        for (int i = 0; i < count; i++)
        {
            var image = Tensor.Create(TensorElementType.UInt8, model.Input.Shape, test!.Image(i));
            var outputs = executor.Run([new NamedTensor(model.Input.Name, image)]);
            var logits = outputs.Single(o => o.Name == "logits").Value;
            var predicted = outputs.Single(o => o.Name == "class").Value.Elements<long>()[0];
            var reference = IntegerReference.Run(model, test.Image(i));
            if (!logits.Data.SequenceEqual(reference.Logits) || predicted != reference.Class) mismatches++;
            if (predicted == test.Labels[i]) correct++;
            if (i < VectorCount)
                vectors.Add(new GenesisVector(i, test.Labels[i], Convert.ToBase64String(image.Data), image.Hash.ToString(), logits.Hash.ToString(), predicted));
        }
        return new GenesisExportReport(model.Name, report.ModelId.ToString(), bytes.Length, report.TotalMacs, (ulong)report.Gas,
            count == 0 ? double.NaN : correct / (double)count, mismatches, vectors);
    }

    public static string VectorsJson(IEnumerable<GenesisExportReport> reports) =>
        JsonSerializer.Serialize(reports, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }) + "\n";
}
