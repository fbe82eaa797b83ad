using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Inference.Conformance;

/// <summary>How one official ONNX node case fared.</summary>
public enum ConformanceVerdict
{
    /// <summary>Admitted, and both executors reproduced every expected output bit for bit.</summary>
    Passed,
    /// <summary>A float case, refused by admission as it must be.</summary>
    RefusedAsExpected,
    /// <summary>Differs from the ONNX reference exactly where docs/inference-semantics.md specifies otherwise.</summary>
    DocumentedDeviation,
    /// <summary>Anything else: a wrong output, an executor error, or an integer case refused.</summary>
    Failed,
}

public sealed record ConformanceResult(
    string Case,
    bool FloatCase,
    bool Admitted,
    string? Refusal,
    string Canonical,
    string Ort,
    ConformanceVerdict Verdict,
    string Detail)
{
    public bool Ok => Verdict != ConformanceVerdict.Failed;
}

/// <summary>
/// Runs the ONNX backend node cases (model.onnx + test_data_set_*/input_N.pb, output_N.pb) against
/// admission, the canonical executor and the ONNX Runtime fast path. Integer cases must be admitted
/// and match exactly under both; float cases must be refused by admission (the canonical kernels
/// still run those they can, to show what the chain would have computed).
/// </summary>
public static class ConformanceRunner
{
    public const string EnvironmentVariable = "ONNX_CONFORMANCE_DIR";

    /// <summary>
    /// Cases whose expected output is computed by the ONNX reference in a way the chain's spec
    /// deliberately does not follow, with the reason (kept in step with docs/inference-semantics.md).
    /// </summary>
    public static IReadOnlyDictionary<string, string> DocumentedDeviations { get; } = new Dictionary<string, string>();

    /// <summary>The directory to use: the argument, else $ONNX_CONFORMANCE_DIR, else ../shared/onnx-conformance beside the repository.</summary>
    public static string? Locate(string? explicitDirectory = null)
    {
        if (!string.IsNullOrEmpty(explicitDirectory)) return Directory.Exists(explicitDirectory) ? explicitDirectory : null;
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment)) return Directory.Exists(fromEnvironment) ? fromEnvironment : null;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Chain.sln")))
            {
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "onnx-conformance"));
                return Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }

    public static IReadOnlyList<string> FindCases(string directory) =>
        Directory.GetDirectories(directory)
            .Where(d => File.Exists(Path.Combine(d, "model.onnx")))
            .OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal)
            .ToArray();

    public static IReadOnlyList<ConformanceResult> RunAll(string directory, Action<ConformanceResult>? progress = null)
    {
        var results = new List<ConformanceResult>();
        foreach (var caseDir in FindCases(directory))
        {
            var result = RunCase(caseDir);
            progress?.Invoke(result);
            results.Add(result);
        }
        return results;
    }

    public static ConformanceResult RunCase(string caseDirectory)
    {
        var name = Path.GetFileName(caseDirectory);
        var bytes = File.ReadAllBytes(Path.Combine(caseDirectory, "model.onnx"));
        var report = ModelAdmission.Check(bytes);
        var model = report.Model ?? OnnxModel.Parse(bytes);
        var initializers = model.Graph.Initializers.Select(i => i.Name).ToHashSet();
        bool floatCase = model.Graph.Inputs.Any(i => !initializers.Contains(i.Name)
            && i.ElementType is TensorElementType.Float or TensorElementType.Double);
        var sets = LoadDataSets(caseDirectory, model);

        if (!report.Admitted)
        {
            var refusal = string.Join("; ", report.Reasons.Select(r => r.ToString()));
            // Refused cases still run, outside consensus, to show what each executor computes.
            var canonical = TryRun(() => CanonicalExecutor.LoadUnchecked(bytes), sets);
            var ort = TryRun(() => new OrtExecutor(bytes, OrtSettings.Pinned), sets);
            return floatCase
                ? new(name, true, false, refusal, canonical, ort, ConformanceVerdict.RefusedAsExpected, "float case refused")
                : new(name, false, false, refusal, canonical, ort, ConformanceVerdict.Failed, "integer case refused by admission");
        }

        var canonicalResult = TryRun(() => CanonicalExecutor.Load(bytes), sets);
        var ortResult = TryRun(() => new OrtExecutor(bytes, OrtSettings.Pinned), sets);
        bool both = canonicalResult == "match" && ortResult == "match";
        if (both)
            return new(name, floatCase, true, null, canonicalResult, ortResult,
                floatCase ? ConformanceVerdict.Failed : ConformanceVerdict.Passed,
                floatCase ? "a float case was admitted" : "bit-exact under both executors");
        if (DocumentedDeviations.TryGetValue(name, out var why))
            return new(name, floatCase, true, null, canonicalResult, ortResult, ConformanceVerdict.DocumentedDeviation, why);
        return new(name, floatCase, true, null, canonicalResult, ortResult, ConformanceVerdict.Failed, "output differs from the expected bytes");
    }

    private sealed record DataSet(string Name, IReadOnlyList<NamedTensor> Inputs, IReadOnlyList<NamedTensor> Outputs);

    private static List<DataSet> LoadDataSets(string caseDirectory, OnnxModel model)
    {
        var initializers = model.Graph.Initializers.Select(i => i.Name).ToHashSet();
        var inputNames = model.Graph.Inputs.Where(i => !initializers.Contains(i.Name)).Select(i => i.Name).ToArray();
        var outputNames = model.Graph.Outputs.Select(o => o.Name).ToArray();
        var sets = new List<DataSet>();
        foreach (var dir in Directory.GetDirectories(caseDirectory, "test_data_set_*").OrderBy(d => d, StringComparer.Ordinal))
        {
            // File N binds to the N-th graph input/output (the ONNX backend test convention).
            NamedTensor[] Load(string prefix, string[] names) =>
                names.Select((n, i) => new NamedTensor(n, OnnxTensorProto.Parse(File.ReadAllBytes(Path.Combine(dir, $"{prefix}_{i}.pb"))).Value)).ToArray();
            sets.Add(new DataSet(Path.GetFileName(dir), Load("input", inputNames), Load("output", outputNames)));
        }
        return sets;
    }

    /// <summary>"match", or what went wrong first, for one executor over all data sets.</summary>
    private static string TryRun(Func<IModelExecutor> create, List<DataSet> sets)
    {
        try
        {
            using var executor = create();
            foreach (var set in sets)
            {
                var difference = FastPathCheck.FirstDifference(set.Outputs, executor.Run(set.Inputs));
                if (difference is not null) return $"{set.Name}: {difference}";
            }
            return "match";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return "error: " + e.Message;
        }
    }
}
