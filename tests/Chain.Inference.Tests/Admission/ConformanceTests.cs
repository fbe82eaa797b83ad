using Chain.Inference.Admission;
using Chain.Inference.Onnx;

namespace Chain.Inference.Tests.Admission;

/// <summary>
/// Admission over the official ONNX backend node cases. What is refused as shipped, and why:
/// - float: add, matmul_2d, gemm_default_no_bias, argmax*, relu, dynamicquantizelinear, maxpool_2d_default/pads,
///   flatten*, reshape*, quantizelinear* and dequantizelinear* take float32 graph inputs; qlinearconv and qlinearmatmul* take their scales as float32 graph inputs (a deployed
///   model carries scales as initializers; the "normalized" test below freezes them).
/// - unsupported-op: MatMul, Gemm and DynamicQuantizeLinear are not in the subset.
/// Admitted as shipped: clip_default_int8_*, convinteger_without_padding, matmulinteger, maxpool_2d_uint8 (opset 22).
/// </summary>
public class ConformanceTests
{
    private static readonly HashSet<string> AdmittedAsShipped =
    [
        "test_clip_default_int8_inbounds", "test_clip_default_int8_max", "test_clip_default_int8_min",
        "test_convinteger_without_padding", "test_matmulinteger", "test_maxpool_2d_uint8",
    ];

    /// <summary>Float computations: refused even after normalization, with these codes.</summary>
    private static readonly Dictionary<string, string[]> FloatCases = new()
    {
        ["test_add"] = ["float"],
        ["test_matmul_2d"] = ["float", "unsupported-op"],
        ["test_gemm_default_no_bias"] = ["float", "unsupported-op"],
        ["test_dynamicquantizelinear"] = ["float", "unsupported-op"],
    };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Conformance.Cases()) data.Add(Path.GetFileName(c));
        return data;
    }

    private static string CaseDir(string name) => Path.Combine(Conformance.Directory(), name);

    [Fact]
    public void Conformance_data_is_present()
    {
        var cases = Conformance.Cases().ToList();
        Assert.True(cases.Count >= 27, $"expected the 27 shipped cases, found {cases.Count}");
        Assert.All(AdmittedAsShipped.Concat(FloatCases.Keys), n => Assert.Contains(cases, c => Path.GetFileName(c) == n));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Shipped_model_parses_and_gets_the_documented_verdict(string name)
    {
        var bytes = File.ReadAllBytes(Path.Combine(CaseDir(name), "model.onnx"));
        var model = OnnxModel.Parse(bytes);
        // Our writer's output of a real model reads back to the same graph.
        var rewritten = model.ToBytes();
        var back = OnnxModel.Parse(rewritten);
        Assert.Equal(rewritten, back.ToBytes());
        Assert.Equal(model.Graph.Nodes.Select(n => n.OpType), back.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(model.Graph.Inputs, back.Graph.Inputs.Select((v, i) => v with { Shape = model.Graph.Inputs[i].Shape }));
        var report = ModelAdmission.Check(bytes);
        if (AdmittedAsShipped.Contains(name))
        {
            Assert.True(report.Admitted, string.Join("; ", report.Reasons));
            return;
        }
        Assert.False(report.Admitted);
        var codes = report.Reasons.Select(r => r.Code).ToHashSet();
        if (model.DefaultOpset > AdmissionLimits.MaxOpset) Assert.Contains("opset", codes);
        else Assert.Contains("float", codes);
        if (FloatCases.TryGetValue(name, out var expected) && model.DefaultOpset <= AdmissionLimits.MaxOpset)
            Assert.All(expected, c => Assert.Contains(c, codes));
    }

    /// <summary>
    /// The same graphs as a deployed model would carry them: opset 21, scales / zero points / Reshape
    /// shapes as initializers (values from test_data_set_0), and the float data of the pure data-movement
    /// cases (Flatten, Reshape, MaxPool, Relu, ArgMax) retyped to int8. Then every case except the float
    /// computations is admitted, and the inferred output shapes and types match the expected outputs.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Normalized_model_is_admitted_with_the_expected_output_shapes(string name)
    {
        var dir = CaseDir(name);
        var shipped = Conformance.Load(dir);
        var model = Conformance.WithOpset(shipped, 21);
        if (FloatCases.TryGetValue(name, out var codes))
        {
            var refused = ModelAdmission.Check(model.ToBytes());
            Assert.False(refused.Admitted);
            Assert.All(codes, c => Assert.Contains(refused.Reasons, r => r.Code == c));
            return;
        }
        var quantize = model.Graph.Nodes.Any(n => n.OpType == "QuantizeLinear");
        model = Conformance.Freeze(model, dir, v =>
            v.Name.Contains("scale") || v.Name.Contains("zero_point") || v.Name == "shape" ||
            (quantize && v.ElementType == TensorElementType.Float));
        var retyped = model.Graph.Inputs.Any(v => v.ElementType == TensorElementType.Float);
        if (retyped)
        {
            var g = model.Graph with
            {
                Inputs = model.Graph.Inputs.Select(v => v.ElementType == TensorElementType.Float ? v with { ElemType = (int)TensorElementType.Int8 } : v).ToList(),
                Outputs = model.Graph.Outputs.Select(v => v with { ElemType = 0 }).ToList(),
            };
            model = new OnnxModel(model.IrVersion, model.OpsetImports, g);
        }
        var report = ModelAdmission.Check(model.ToBytes());
        Assert.True(report.Admitted, string.Join("; ", report.Reasons));

        var data = Path.Combine(dir, "test_data_set_0");
        for (var i = 0; i < model.Graph.Outputs.Count; i++)
        {
            var expected = OnnxTensorProto.Parse(File.ReadAllBytes(Path.Combine(data, $"output_{i}.pb"))).Value;
            var inferred = report.Values[model.Graph.Outputs[i].Name];
            Assert.Equal(expected.Shape.ToArray(), inferred.Shape);
            var expectedType = retyped && expected.ElementType == TensorElementType.Float ? TensorElementType.Int8 : expected.ElementType;
            Assert.Equal(expectedType, inferred.ElementType);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Test_data_tensors_parse_and_match_the_declared_inputs(string name)
    {
        var dir = CaseDir(name);
        var model = Conformance.Load(dir);
        var sets = Directory.GetDirectories(dir, "test_data_set_*");
        Assert.NotEmpty(sets);
        foreach (var set in sets)
        {
            var files = Directory.GetFiles(set, "*.pb");
            Assert.NotEmpty(files);
            foreach (var file in files)
            {
                var tensor = OnnxTensorProto.Parse(File.ReadAllBytes(file)).Value;
                var fileName = Path.GetFileNameWithoutExtension(file);
                var index = int.Parse(fileName[(fileName.IndexOf('_') + 1)..]);
                var declared = fileName.StartsWith("input") ? model.Graph.Inputs[index] : model.Graph.Outputs[index];
                Assert.Equal(declared.ElementType, tensor.ElementType);
                if (declared.StaticShape is { } shape)
                    Assert.Equal(shape, tensor.Shape.ToArray().Select(d => (long)d).ToArray());
                Assert.Equal(tensor.ElementCount * TensorElementTypes.SizeOf(tensor.ElementType), tensor.Data.Length);
            }
        }
    }
}
