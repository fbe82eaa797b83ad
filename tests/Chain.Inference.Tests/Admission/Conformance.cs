using Chain.Inference.Onnx;

namespace Chain.Inference.Tests.Admission;

/// <summary>Finds the shared ONNX backend node test data (never copied into the project).</summary>
internal static class Conformance
{
    public static string Directory() =>
        Chain.Inference.Conformance.ConformanceRunner.Locate()
        ?? throw new InvalidOperationException("ONNX conformance data not found: set ONNX_CONFORMANCE_DIR or provide ../shared/onnx-conformance");

    public static IEnumerable<string> Cases() =>
        System.IO.Directory.GetDirectories(Directory(), "test_*").Order(StringComparer.Ordinal);

    public static OnnxModel Load(string caseDir) => OnnxModel.Parse(File.ReadAllBytes(Path.Combine(caseDir, "model.onnx")));

    /// <summary>The same graph imported at another ai.onnx opset.</summary>
    public static OnnxModel WithOpset(OnnxModel m, long opset) =>
        new(m.IrVersion, [new OpsetImport("", opset)], m.Graph, m.ProducerName, m.ProducerVersion);

    /// <summary>
    /// The graph with the named inputs turned into initializers holding the first data set's values: how a
    /// deployed model would carry its scales and zero points.
    /// </summary>
    public static OnnxModel Freeze(OnnxModel m, string caseDir, Func<OnnxValueInfo, bool> which)
    {
        var data = Path.Combine(caseDir, "test_data_set_0");
        var inputs = new List<OnnxValueInfo>();
        var inits = m.Graph.Initializers.ToList();
        for (var i = 0; i < m.Graph.Inputs.Count; i++)
        {
            var v = m.Graph.Inputs[i];
            if (which(v))
            {
                var t = OnnxTensorProto.Parse(File.ReadAllBytes(Path.Combine(data, $"input_{i}.pb")));
                inits.Add(new OnnxTensor(v.Name, t.Value));
            }
            else inputs.Add(v);
        }
        var g = m.Graph with { Inputs = inputs, Initializers = inits };
        return new OnnxModel(m.IrVersion, m.OpsetImports, g, m.ProducerName, m.ProducerVersion);
    }
}
