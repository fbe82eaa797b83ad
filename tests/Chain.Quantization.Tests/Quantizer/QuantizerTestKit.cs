using Chain.Inference.Onnx;
using Chain.Quantization.Calibration;
using Chain.Quantization.Quantizer;
using Chain.Quantization.Report;
using Xunit;

namespace Chain.Quantization.Tests.Quantizer;

internal static class QuantizerTestKit
{
    /// <summary>Whether main's admission knows the com.microsoft QLinear* kernels yet (helper branch b).</summary>
    public static readonly bool ContribOpsAdmitted = Chain.Inference.Admission.ModelAdmission.Check(ContribProbe()).Admitted;

    private static byte[] ContribProbe()
    {
        var g = new FloatGraph([1, 2, 4, 4]);
        var y = g.Op("GlobalAveragePool", [g.Input]);
        var r = QuantizationPipeline.Run(g.Bytes(y), new QuantizeRequest { RequireAdmission = false, EvaluationCount = 1, Calibration = CalibrationSource.Parse("random:2", 0, 1) });
        return r.Model;
    }

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
    /// The int8 model is admitted (or, before the com.microsoft kernels land, refused only for them), canonical and
    /// ONNX Runtime agree on every evaluation input where both run, and the output SQNR is at least <paramref name="minSqnrDb"/>.
    /// </summary>
    public static QuantizationReport AssertGood(QuantizationResult r, double minSqnrDb = 25, bool contrib = false)
    {
        var report = r.Report;
        if (contrib && !ContribOpsAdmitted)
        {
            Assert.All(report.Refusals, x => Assert.Contains("com.microsoft", x));
        }
        else
        {
            Assert.True(report.Admitted, string.Join("; ", report.Refusals));
            Assert.True(report.BitMatch.Cases == report.EvaluationInputs, report.BitMatch.ToString());
            Assert.Equal(report.BitMatch.Cases, report.BitMatch.Matched);
        }
        Assert.True(report.OutputSqnrDb >= minSqnrDb, $"output SQNR {report.OutputSqnrDb:0.00} dB < {minSqnrDb} dB\n{report.ToMarkdown()}");
        return report;
    }

    public static OnnxModel Int8(QuantizationResult r) => OnnxModel.Parse(r.Model);
}
