using Chain.Inference.Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Chain.Quantization.Tests.Quantizer;

public class SmokeTests(ITestOutputHelper output)
{
    [Fact]
    public void Conv_relu_gemm_quantizes()
    {
        var g = new FloatGraph([1, 3, 8, 8]);
        var c = g.Op("Relu", [g.Conv(g.Input, 3, 8, 3, pad: 1)]);
        var f = g.Op("Flatten", [c]);
        var y = g.Gemm(f, 8 * 64, 10);
        var result = QuantizationPipeline.Run(g.Bytes(y), new QuantizeRequest());
        output.WriteLine(result.Report.Summary());
        output.WriteLine(result.Report.ToMarkdown());
        Assert.True(result.Report.Admitted);
    }
}
