using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Quantization.Calibration;
using Chain.Quantization.Quantizer;
using Xunit;
using static Chain.Quantization.Tests.Quantizer.QuantizerTestKit;

namespace Chain.Quantization.Tests.Quantizer;

public class LutAndCalibrationTests
{
    [Theory]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("HardSwish")]
    [InlineData("LeakyRelu")]
    public void The_table_answers_every_int8_value_as_the_float_function_rounded(string op)
    {
        // The model takes all 256 int8 values at once: input [1, 256] calibrated over [-4, 4].
        var g = new FloatGraph([1, 256]);
        var y = g.Op(op, [g.Input]);
        var r = Run(g.Bytes(y), lo: -4, hi: 4, calibration: 8, evaluation: 2);
        AssertGood(r, 25);
        var meta = r.Metadata;
        var (inp, outp) = (meta.Inputs[0], meta.Outputs[0]);
        var f = Lut.Function(op, (_, d) => d)!;
        using var canonical = CanonicalExecutor.Load(r.Model);
        using var ort = new OrtExecutor(r.Model, OrtSettings.Pinned);
        var all = Tensor.Create<sbyte>(TensorElementType.Int8, [1, 256], Enumerable.Range(-128, 256).Select(v => (sbyte)v).ToArray());
        var c = canonical.Run([new NamedTensor("x", all)])[0].Value;
        Assert.Equal(c.Data.ToArray(), ort.Run([new NamedTensor("x", all)])[0].Value.Data.ToArray());
        var got = c.Elements<sbyte>();
        for (var q = -128; q <= 127; q++)
        {
            var x = (q - inp.ZeroPoint) * (double)inp.Scale;
            var expected = Lut.Quantize(f(x), outp.Scale, outp.ZeroPoint);
            Assert.Equal(expected, got[q + 128]);
            var real = (got[q + 128] - outp.ZeroPoint) * (double)outp.Scale;
            // Within half a step of the float function wherever it lies inside the output range.
            if (f(x) >= outp.FloatMin && f(x) <= outp.FloatMax) Assert.True(Math.Abs(real - f(x)) <= outp.Scale / 2 + 1e-6, $"{op}({x}) = {f(x)}, int8 gives {real}");
        }
    }

    [Fact]
    public void Table_layout_puts_negative_values_at_the_end()
    {
        var t = Lut.Build(v => v, 1f, 0, 1f, 0);
        Assert.Equal(0, t[0]);
        Assert.Equal(127, t[127]);
        Assert.Equal(-128, t[128]);
        Assert.Equal(-1, t[255]);
        Assert.Equal(-5, Lut.IndexToValue(251));
    }

    [Fact]
    public void Calibration_methods_choose_ranges_as_documented()
    {
        var rng = new Random(2);
        var values = Enumerable.Range(0, 100_000).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))).ToList();
        values.Add(50f); // one outlier
        var s = new TensorStats();
        s.AddRange(values.ToArray());
        s.AddHistogram(values.ToArray());
        var minmax = s.Range(CalibrationMethod.MinMax, 99.99);
        var pct = s.Range(CalibrationMethod.Percentile, 99.9);
        var entropy = s.Range(CalibrationMethod.Entropy, 99.99);
        Assert.Equal(50f, minmax.Hi);
        Assert.InRange(pct.Hi, 2.5f, 4.5f);     // the 99.9th percentile of N(0,1) is 3.09
        Assert.InRange(pct.Lo, -4.5f, -2.5f);
        Assert.InRange(entropy.Hi, 2f, 10f);    // KL keeps the bulk, drops the outlier
        Assert.True(entropy.Lo >= minmax.Lo);
        // Every range holds 0, so zero is exact.
        var positive = new TensorStats();
        positive.AddRange([2f, 3f]);
        Assert.Equal((0f, 3f), positive.Range(CalibrationMethod.MinMax, 99.99));
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Percentile)]
    [InlineData(CalibrationMethod.Entropy)]
    public void Every_method_gives_an_admitted_bit_exact_model(CalibrationMethod method)
    {
        var g = new FloatGraph([1, 3, 8, 8]);
        var c = g.Op("Relu", [g.Conv(g.Input, 3, 8, 3, pad: 1)]);
        var y = g.Gemm(g.Op("Flatten", [c]), 8 * 64, 10);
        var r = Run(g.Bytes(y), lo: 0, hi: 1, options: new QuantizerOptions { Method = method });
        AssertGood(r, method == CalibrationMethod.MinMax ? 30 : 20);
        Assert.StartsWith(method.ToString().ToLowerInvariant(), r.Report.Method);
    }

    [Fact]
    public void Pinned_parameters_are_used_instead_of_calibrated_ones()
    {
        var g = new FloatGraph([1, 2, 4, 4]);
        var w = g.Const([3, 2, 1, 1], i => (i - 3) * 0.25f); // multiples of 0.25: exact integers at scale 0.25
        var c = g.Op("Conv", [g.Input, w], OnnxAttribute.Of("kernel_shape", new long[] { 1, 1 }));
        var model = g.Build([c]);
        var pinned = new Dictionary<string, QuantParams>
        {
            ["x"] = QuantParams.PerTensor(TensorElementType.UInt8, 0.01f, 100), // a QDQ model's u8 input: zp 100 − 128 as int8
            [c] = QuantParams.PerTensor(TensorElementType.Int8, 0.05f, 3),
            [w] = new QuantParams(TensorElementType.Int8, [0.25f, 0.125f, 0.25f], [0, 0, 0], 0),
        };
        using var cal = new Calibrator(model);
        foreach (var set in InputSets.Random(InputSets.Specs(model, new()), 4, -1, 1, 1)) cal.Observe(set, false);
        var q = new GraphQuantizer(new PreparedGraph(model, pinned, []), cal, new QuantizerOptions());
        var int8 = q.Quantize();
        Assert.True(Chain.Inference.Admission.ModelAdmission.Check(int8.ToBytes()).Admitted);
        var conv = int8.Graph.Nodes.Single(n => n.OpType == "QLinearConv");
        float F(int i) => int8.Graph.FindInitializer(conv.Inputs[i])!.Value.Elements<float>()[0];
        sbyte Z(int i) => int8.Graph.FindInitializer(conv.Inputs[i])!.Value.Elements<sbyte>()[0];
        Assert.Equal(0.01f, F(1));
        Assert.Equal(-28, Z(2));
        Assert.Equal(0.05f, F(6));
        Assert.Equal(3, Z(7));
        Assert.Equal([0.25f, 0.125f, 0.25f], int8.Graph.FindInitializer(conv.Inputs[4])!.Value.Elements<float>().ToArray());
        var weights = int8.Graph.FindInitializer(conv.Inputs[3])!.Value.Elements<sbyte>().ToArray();
        Assert.Equal([-3, -2, -2, 0, 1, 2], weights.Select(v => (int)v));
        Assert.Equal(-28, q.Metadata!.Inputs[0].ZeroPoint);
    }

    [Theory]
    [InlineData("Sin", "act (Sin): Sin has no int8 form in the admitted operator set")]
    [InlineData("Pow2", "(Pow): Pow of two activations has no int8 form")]
    [InlineData("Softmax", "(Softmax): Softmax has no int8 form; only a final Softmax")]
    [InlineData("TransA", "(Gemm): Gemm with transA=1")]
    public void Refusals_name_the_node_and_op(string kind, string message)
    {
        var g = new FloatGraph([4, 4]);
        string y;
        OnnxModel model;
        switch (kind)
        {
            case "Sin":
                model = new OnnxModel(8, [new OpsetImport("", 14)], new OnnxGraph("g", [new OnnxNode("act", "Sin", "", ["x"], ["y"], [])], [],
                    [new OnnxValueInfo("x", 1, [OnnxDim.Fixed(4), OnnxDim.Fixed(4)])], [new OnnxValueInfo("y", 1, null)], []));
                break;
            case "Pow2": y = g.Op("Pow", [g.Input, g.Op("MatMul", [g.Input, g.Input])]); model = g.Build([y]); break;
            case "Softmax": y = g.Op("Relu", [g.Op("Softmax", [g.Input])]); model = g.Build([y]); break;
            default: y = g.Op("Gemm", [g.Input, g.Random([4, 4], 1)], OnnxAttribute.Of("transA", 1L)); model = g.Build([y]); break;
        }
        var e = Assert.Throws<QuantizationException>(() => Run(model.ToBytes()));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
