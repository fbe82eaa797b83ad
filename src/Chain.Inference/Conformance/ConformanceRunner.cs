using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Inference.Conformance;

/// <summary>How one official ONNX node case fared. Every case gets exactly one, with a one-line reason.</summary>
public enum ConformanceVerdict
{
    /// <summary>Admitted, and both executors reproduced every expected output bit for bit.</summary>
    Passed,
    /// <summary>
    /// Admitted and bit-exact under the canonical executor, which defines the result; ONNX Runtime cannot
    /// load or run it (a missing kernel), so a node runs it canonically. Not a mismatch.
    /// </summary>
    CanonicalOnly,
    /// <summary>A float case, refused by admission as it must be.</summary>
    RefusedAsExpected,
    /// <summary>Differs from the ONNX reference exactly where docs/inference-semantics.md specifies otherwise.</summary>
    DocumentedDeviation,
    /// <summary>A real failure: a wrong output, an executor error on an admitted case, an integer case refused, a float case admitted.</summary>
    Failed,
    /// <summary>The case itself could not be evaluated: its model or test data is unreadable (e.g. float16 data). Not checked, so not a pass.</summary>
    Error,
}

public sealed record ConformanceResult(
    string Case,
    bool FloatCase,
    bool Admitted,
    string? Refusal,
    string Canonical,
    string Ort,
    ConformanceVerdict Verdict,
    string Reason)
{
    public bool Ok => Verdict is not (ConformanceVerdict.Failed or ConformanceVerdict.Error);
}

/// <summary>
/// Runs the ONNX backend node cases (model.onnx + test_data_set_*/input_N.pb, output_N.pb) against
/// admission, the canonical executor and the ONNX Runtime fast path. Integer cases must be admitted
/// and match exactly under the canonical executor (and under ORT where ORT can run them); float cases
/// must be refused by admission (the canonical kernels still run those they can, to show what the
/// chain would have computed). A case that cannot be read gets a verdict too: one bad case never stops the run.
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

    /// <summary>Judges one case. Never throws (short of running out of memory): anything unexpected is an <see cref="ConformanceVerdict.Error"/>.</summary>
    public static ConformanceResult RunCase(string caseDirectory)
    {
        var name = Path.GetFileName(caseDirectory);
        try
        {
            return Judge(name, caseDirectory);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(name, false, false, null, NotRun, NotRun, ConformanceVerdict.Error, OneLine($"case could not be evaluated: {e.Message}"));
        }
    }

    private const string NotRun = "not run";

    private static ConformanceResult Judge(string name, string caseDirectory)
    {
        var bytes = File.ReadAllBytes(Path.Combine(caseDirectory, "model.onnx"));
        var report = ModelAdmission.Check(bytes);
        var refusal = report.Admitted ? null : OneLine(string.Join("; ", report.Reasons.Select(r => r.ToString())));
        if (report.Model is not { } model)
            return new(name, false, false, refusal, NotRun, NotRun, ConformanceVerdict.Error, $"the chain's ONNX reader cannot read model.onnx: {refusal}");

        var initializers = model.Graph.Initializers.Select(i => i.Name).ToHashSet();
        bool floatCase = model.Graph.Inputs.Any(i => !initializers.Contains(i.Name) && IsFloat(i.ElemType));
        List<DataSet>? sets = null;
        string? dataError = null;
        try
        {
            sets = LoadDataSets(caseDirectory, model);
        }
        catch (Exception e) when (e is Protobuf.OnnxFormatException or IOException or ArgumentException)
        {
            dataError = OneLine(e.Message);
        }
        var notRun = dataError is null ? NotRun : $"{NotRun}: test data unreadable";

        if (!report.Admitted)
        {
            // Refused cases still run, outside consensus, to show what each executor computes.
            var canonical = sets is null ? new Run(RunStatus.NotRun, notRun) : TryRun(() => CanonicalExecutor.LoadUnchecked(bytes), sets);
            var ort = sets is null ? new Run(RunStatus.NotRun, notRun) : TryRun(() => new OrtExecutor(bytes, OrtSettings.Pinned), sets);
            var unreadable = dataError is null ? "" : $"; test data unreadable: {dataError}";
            return floatCase
                ? new(name, true, false, refusal, canonical.Text, ort.Text, ConformanceVerdict.RefusedAsExpected, $"float case refused: {refusal}{unreadable}")
                : new(name, false, false, refusal, canonical.Text, ort.Text, ConformanceVerdict.Failed, $"integer case refused by admission: {refusal}{unreadable}");
        }
        if (floatCase)
            return new(name, true, true, null, NotRun, NotRun, ConformanceVerdict.Failed, "a float case was admitted");
        if (sets is null)
            return new(name, false, true, null, notRun, notRun, ConformanceVerdict.Error, $"admitted, but the test data is unreadable: {dataError}");

        var canonicalRun = TryRun(() => CanonicalExecutor.Load(bytes), sets);
        var ortRun = TryRun(() => new OrtExecutor(bytes, OrtSettings.Pinned), sets);
        ConformanceResult Verdict(ConformanceVerdict verdict, string reason) => new(name, false, true, null, canonicalRun.Text, ortRun.Text, verdict, reason);

        if (canonicalRun.Status == RunStatus.Match && ortRun.Status == RunStatus.Match)
            return Verdict(ConformanceVerdict.Passed, "bit-exact under both executors");
        if (DocumentedDeviations.TryGetValue(name, out var why))
            return Verdict(ConformanceVerdict.DocumentedDeviation, why);
        if (canonicalRun.Status == RunStatus.Match && ortRun.Status == RunStatus.Error)
            return Verdict(ConformanceVerdict.CanonicalOnly, $"canonical bit-exact; ONNX Runtime cannot run it: {ortRun.Text}");
        if (canonicalRun.Status != RunStatus.Match)
            return Verdict(ConformanceVerdict.Failed, $"canonical executor: {canonicalRun.Text}");
        return Verdict(ConformanceVerdict.Failed, $"canonical bit-exact, but ONNX Runtime's output differs: {ortRun.Text}");
    }

    /// <summary>ONNX element types that are floating point (float, float16, double, bfloat16, the float8 and float4 kinds).</summary>
    private static bool IsFloat(int elemType) => elemType is 1 or 10 or 11 or 16 or (>= 17 and <= 20) or 23;

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
            NamedTensor[] Load(string prefix, string[] names) => names.Select((n, i) =>
            {
                var file = Path.Combine(dir, $"{prefix}_{i}.pb");
                try
                {
                    return new NamedTensor(n, OnnxTensorProto.Parse(File.ReadAllBytes(file)).Value);
                }
                catch (Protobuf.OnnxFormatException e)
                {
                    // Name the file: the reader's message names only the tensor.
                    throw new Protobuf.OnnxFormatException($"{Path.GetFileName(dir)}/{prefix}_{i}.pb: {e.Message}");
                }
            }).ToArray();
            sets.Add(new DataSet(Path.GetFileName(dir), Load("input", inputNames), Load("output", outputNames)));
        }
        return sets;
    }

    private enum RunStatus { Match, Mismatch, Error, NotRun }

    /// <summary>One executor's outcome over all data sets: "match", the first difference, or the error.</summary>
    private sealed record Run(RunStatus Status, string Text);

    private static Run TryRun(Func<IModelExecutor> create, List<DataSet> sets)
    {
        try
        {
            using var executor = create();
            foreach (var set in sets)
            {
                var difference = FastPathCheck.FirstDifference(set.Outputs, executor.Run(set.Inputs));
                if (difference is not null) return new(RunStatus.Mismatch, $"{set.Name}: {difference}");
            }
            return new(RunStatus.Match, "match");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(RunStatus.Error, OneLine("error: " + e.Message));
        }
    }

    /// <summary>Reasons are one line each: runtimes' messages sometimes carry newlines.</summary>
    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
