using Chain.Inference.Runtime;
using Chain.Quantization;

namespace Chain.Lab;

/// <summary>
/// What `--quantize` made of a float model and what it cost: the int8 model's name, how it was calibrated and
/// evaluated, and per output the accuracy against the float model (top-1 agreement for classifiers, SQNR in dB for the rest).
/// </summary>
public sealed record LabQuantizedInfo(string FloatModel, string Method, int CalibrationInputs, int EvaluationInputs,
    IReadOnlyList<LabQuantizedOutput> Outputs)
{
    /// <summary>"top-1 agreement 96.7% (30 rows)" or "SQNR 31.2 dB", per output.</summary>
    public string Accuracy => string.Join("; ", Outputs.Select(o => (Outputs.Count > 1 ? o.Name + ": " : "") + o.Describe()));
}

/// <param name="Top1Agreement">Fraction of rows whose arg-max equals the float model's; null unless the last dimension is &gt; 1.</param>
public sealed record LabQuantizedOutput(string Name, double SqnrDb, double? Top1Agreement, int Rows)
{
    public string Describe() => Top1Agreement is { } a
        ? $"top-1 agreement {a * 100:F1}% ({Rows} rows), SQNR {SqnrDb:F1} dB"
        : $"SQNR {SqnrDb:F1} dB";
}

/// <summary>
/// `chain determinism --quantize`: the float model's int8 twin, made by the very pipeline of `chain model quantize`
/// (<see cref="QuantizationPipeline"/>), calibrated and evaluated on the lab's own float inputs of the random family
/// (or on every input read from --inputs DIR), so the accuracy cost is measured on what the lab fed the float model.
/// The twin is admitted, so the lab then runs it under every configuration like any consensus model.
/// </summary>
public static class LabQuantization
{
    public const string Suffix = "-int8";

    /// <exception cref="ArgumentException">The pipeline cannot quantize the model into an admitted one (its reason).</exception>
    public static LabModel Quantize(LabModel floatModel, LabInputSpec spec)
    {
        if (!floatModel.IsFloat) throw new ArgumentException($"{floatModel.Name} is already admitted: nothing to quantize");
        IReadOnlyList<IReadOnlyList<NamedTensor>> sets;
        using (var prepared = PreparedModel.Load(floatModel))
        {
            var inputs = LabInputs.Create(prepared.Inputs, spec);
            sets = inputs.Where(i => spec.InputDirectory is not null || i.Pattern == InputPattern.Random).Select(i => i.Tensors).ToArray();
        }
        var request = new QuantizeRequest
        {
            Source = floatModel.Name,
            Preparation = new PreparationOptions { InputShapes = floatModel.InputShapes ?? new Dictionary<string, long[]>() },
            CalibrationSets = sets,
            EvaluationSets = sets,
        };
        QuantizationResult result;
        try
        {
            result = QuantizationPipeline.Run(floatModel.Bytes, request);
        }
        catch (QuantizationException e)
        {
            throw new ArgumentException($"--quantize {floatModel.Name}: cannot quantize: {e.Message}", e);
        }
        var report = result.Report;
        var info = new LabQuantizedInfo(floatModel.Name, report.Method, report.CalibrationInputs, report.EvaluationInputs,
            report.Outputs.Select(o => new LabQuantizedOutput(o.Name, o.SqnrDb, o.Top1Agreement, o.Rows)).ToArray());
        return new LabModel(floatModel.Name + Suffix, result.Model, Quantized: info);
    }
}
