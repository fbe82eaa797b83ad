using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using Chain.Quantization.Preparation;
using Xunit;

namespace Chain.Quantization.Tests.Preparation;

/// <summary>Builds small float models and checks prepared graphs against ONNX Runtime.</summary>
internal static class Kit
{
    public static OnnxValueInfo V(string name, params long[] shape) => new(name, (int)TensorElementType.Float, shape.Select(OnnxDim.Fixed).ToArray());

    public static OnnxValueInfo VDyn(string name, params object[] dims) =>
        new(name, (int)TensorElementType.Float, dims.Select(d => d is string s ? OnnxDim.Symbolic(s) : OnnxDim.Fixed(Convert.ToInt64(d))).ToArray());

    public static OnnxValueInfo VAny(string name) => new(name, (int)TensorElementType.Float, null);

    public static OnnxNode N(string op, string[] inputs, string[] outputs, params OnnxAttribute[] attrs) =>
        new(op.ToLowerInvariant() + "_" + outputs[0], op, "", inputs, outputs, attrs);

    public static OnnxTensor F(string name, int[] shape, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var count = shape.Aggregate(1, (p, d) => p * d);
        var values = Enumerable.Range(0, count).Select(_ => lo + (float)rng.NextDouble() * (hi - lo)).ToArray();
        return new OnnxTensor(name, Tensor.Create<float>(TensorElementType.Float, shape, values));
    }

    public static OnnxTensor FV(string name, int[] shape, params float[] values) => new(name, Tensor.Create<float>(TensorElementType.Float, shape, values));

    public static OnnxTensor Bool(string name, bool value) => new(name, Tensor.Create<byte>(TensorElementType.Bool, [], [value ? (byte)1 : (byte)0]));

    public static OnnxTensor I64(string name, int[] shape, params long[] values) => new(name, Tensor.Create<long>(TensorElementType.Int64, shape, values));

    public static OnnxModel Model(IEnumerable<OnnxNode> nodes, IEnumerable<OnnxValueInfo> inputs, IEnumerable<OnnxValueInfo> outputs,
        IEnumerable<OnnxTensor>? inits = null, long opset = 17) =>
        new(8, [new OpsetImport("", opset)], new OnnxGraph("g", nodes.ToArray(), (inits ?? []).ToArray(), inputs.ToArray(), outputs.ToArray(), []),
            "tests", "1");

    public static PreparedGraph Prepare(OnnxModel model, Dictionary<string, long[]>? shapes = null) =>
        GraphPreparation.Prepare(model.ToBytes(), new PreparationOptions { InputShapes = shapes ?? new Dictionary<string, long[]>() });

    public static IReadOnlyList<NamedTensor> Run(OnnxModel model, IReadOnlyList<NamedTensor> inputs)
    {
        using var ort = new OrtExecutor(model.ToBytes(), new OrtSettings(OrtOptimization.Disabled, 1));
        return ort.Run(inputs);
    }

    public static List<NamedTensor> RandomInputs(OnnxModel prepared, int seed)
    {
        var rng = new Random(seed);
        return prepared.Graph.Inputs.Select(v =>
        {
            var shape = v.StaticShape!.Select(d => (int)d).ToArray();
            var count = shape.Aggregate(1, (p, d) => p * d);
            return new NamedTensor(v.Name, Tensor.Create<float>(TensorElementType.Float, shape,
                Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray()));
        }).ToList();
    }

    /// <summary>
    /// The prepared model runs in ONNX Runtime and computes what the original does (max abs diff ≤ tolerance·max(1, max|y|));
    /// every intermediate has a static value_info, and the shapes agree with what ONNX Runtime computes.
    /// </summary>
    public static void AssertEquivalent(OnnxModel original, PreparedGraph prepared, double tolerance = 1e-4, int seed = 1)
    {
        var p = prepared.Model;
        var inputs = RandomInputs(p, seed);
        var expected = Run(original, inputs);
        var actual = Run(p, inputs);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.Equal(expected[i].Value.ShapeText, actual[i].Value.ShapeText);
            var e = expected[i].Value.Elements<float>().ToArray();
            var a = actual[i].Value.Elements<float>().ToArray();
            var scale = Math.Max(1.0, e.Max(v => Math.Abs((double)v)));
            var diff = e.Zip(a, (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();
            Assert.True(diff <= tolerance * scale, $"output {expected[i].Name}: max abs diff {diff} > {tolerance * scale}");
        }
        AssertStaticShapes(p);
        CrossCheckShapes(p, inputs);
    }

    public static void AssertStaticShapes(OnnxModel p)
    {
        var declared = p.Graph.ValueInfo.Concat(p.Graph.Outputs).ToDictionary(v => v.Name);
        foreach (var n in p.Graph.Nodes)
            foreach (var o in n.Outputs.Where(o => o.Length > 0))
            {
                Assert.True(declared.TryGetValue(o, out var v), $"{o} has no value_info");
                Assert.NotNull(v!.StaticShape);
            }
        foreach (var v in p.Graph.Inputs) Assert.NotNull(v.StaticShape);
    }

    /// <summary>Every value_info becomes an output; ONNX Runtime's shapes must equal the declared ones.</summary>
    private static void CrossCheckShapes(OnnxModel p, IReadOnlyList<NamedTensor> inputs)
    {
        var graph = p.Graph with { Outputs = p.Graph.Outputs.Concat(p.Graph.ValueInfo).ToArray(), ValueInfo = [] };
        var results = Run(p.WithGraph(graph), inputs);
        var declared = graph.Outputs.ToDictionary(v => v.Name);
        foreach (var r in results)
            Assert.Equal("[" + string.Join(",", declared[r.Name].StaticShape!) + "]", r.Value.ShapeText);
    }

    public static bool Has(PreparedGraph p, string op) => p.Model.Graph.Nodes.Any(n => n.OpType == op);

    public static string Notes(PreparedGraph p) => string.Join("\n", p.Notes);
}
