using Chain.Inference.Conformance;
using Xunit.Abstractions;

namespace Chain.Inference.Tests.ConformanceSuite;

public class ConformanceRunnerTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_shared_case_passes_is_refused_as_float_or_is_a_documented_deviation()
    {
        var dir = ConformanceRunner.Locate()
            ?? throw new InvalidOperationException("ONNX conformance cases not found: expected ../shared/onnx-conformance beside the repository or $ONNX_CONFORMANCE_DIR");
        var results = ConformanceRunner.RunAll(dir);
        foreach (var r in results)
            output.WriteLine($"{r.Case,-45} {r.Verdict,-20} canonical={r.Canonical} ort={r.Ort} {r.Reason}");
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r.Ok, $"{r.Case}: {r.Verdict}: {r.Reason}; canonical={r.Canonical}; ort={r.Ort}"));
        // Every case has its one-line reason.
        Assert.All(results, r => Assert.True(r.Reason.Length > 0 && !r.Reason.Contains('\n'), r.Case));
        Assert.Contains(results, r => r.Verdict == ConformanceVerdict.Passed);
        Assert.Contains(results, r => r.Verdict == ConformanceVerdict.RefusedAsExpected);
    }
}
