using Chain.Inference.Onnx;
using Chain.Quantization.Calibration;
using Chain.Quantization.Quantizer;
using Chain.Quantization.Report;
using Xunit;

namespace Chain.Quantization.Tests.Quantizer;

internal static class QuantizerTestKit
{
    public static QuantizationResult Run(byte[] model, float lo = -1, float hi = 1, int calibration = 48, int evaluation = 48,
        QuantizerOptions? options = null)
    {
        return QuantizationPipeline.Run(model, new QuantizeRequest
        {
            Calibration = CalibrationSource.Parse($"random:{calibration}", lo, hi, seed: 11),
            EvaluationCount = evaluation,
            Quantizer = options ?? new QuantizerOptions(),
            RequireAdmission = false,
        });
    }

    /// <summary>
    /// The int8 model is admitted (<paramref name="contrib"/>: and imports com.microsoft), canonical and ONNX Runtime agree on every evaluation input where both run, and the output SQNR is at least <paramref name="minSqnrDb"/>.
    /// </summary>
    public static QuantizationReport AssertGood(QuantizationResult r, double minSqnrDb = 25, bool contrib = false)
    {
        var report = r.Report;
        Assert.True(report.Admitted, string.Join("; ", report.Refusals));
        Assert.True(report.BitMatch.Cases == report.EvaluationInputs, report.BitMatch.ToString());
        Assert.Equal(report.BitMatch.Cases, report.BitMatch.Matched);
        if (contrib) Assert.Contains(OnnxModel.Parse(r.Model).OpsetImports, o => o.Domain == "com.microsoft");
        Assert.True(report.OutputSqnrDb >= minSqnrDb, $"output SQNR {report.OutputSqnrDb:0.00} dB < {minSqnrDb} dB\n{report.ToMarkdown()}");
        return report;
    }

    public static OnnxModel Int8(QuantizationResult r) => OnnxModel.Parse(r.Model);
}
