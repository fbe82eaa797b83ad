using System.Globalization;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Quantization.Calibration;

/// <summary>The float inputs calibration and evaluation run the model on.</summary>
public static class InputSets
{
    /// <summary>
    /// The static shape of each float graph input: `--shape` first, else the declared shape with every dynamic
    /// dimension taken as 1 (a dynamic batch becomes 1).
    /// </summary>
    public static IReadOnlyList<TensorSpec> Specs(OnnxModel model, PreparationOptions options)
    {
        var initializers = model.Graph.Initializers.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var specs = new List<TensorSpec>();
        foreach (var v in model.Graph.Inputs.Where(v => !initializers.Contains(v.Name)))
        {
            if (v.ElemType != (int)TensorElementType.Float)
                throw new QuantizationException($"input '{v.Name}'", $"is {(v.ElemType == 0 ? "untyped" : TensorElementTypes.Name(v.ElementType))}; only float32 graph inputs can be quantized");
            long[] shape = options.InputShapes.TryGetValue(v.Name, out var given) ? given
                : v.Shape is { } s ? s.Select(d => d.Value ?? 1).ToArray()
                : throw new QuantizationException($"input '{v.Name}'", "has no declared shape; give one with --shape name=d1,d2,...");
            specs.Add(new TensorSpec(v.Name, TensorElementType.Float, shape.Select(d => checked((int)d)).ToArray()));
        }
        if (specs.Count == 0) throw new QuantizationException("graph", "has no float graph input");
        return specs;
    }

    /// <summary>
    /// Calibration and held-out evaluation sets. From a folder (one tensor file per input set; single-input models),
    /// the files are split: the last fifth (at least one file) is held out for evaluation, the rest calibrates; with one
    /// file, evaluation uses <paramref name="evalCount"/> random inputs over the range the file spans. Random sets draw
    /// uniformly in [Low, High] from seeded generators, a different seed for evaluation.
    /// </summary>
    public static (List<IReadOnlyList<NamedTensor>> Calibration, List<IReadOnlyList<NamedTensor>> Evaluation) Create(
        IReadOnlyList<TensorSpec> specs, CalibrationSource source, int evalCount)
    {
        if (source.Directory is { } dir)
        {
            if (specs.Count != 1) throw new QuantizationException("--calibration", $"a folder of tensors feeds single-input models; this one has {specs.Count} inputs (use random:N)");
            var files = TensorFiles.List(dir);
            if (files.Count == 0) throw new QuantizationException("--calibration", $"{dir} holds no .npy, .pb or .json tensor files");
            var sets = files.Select(f => (IReadOnlyList<NamedTensor>)[new NamedTensor(specs[0].Name, ToFloat(TensorFiles.Read(f), specs[0], f))]).ToList();
            if (sets.Count == 1)
            {
                var values = sets[0][0].Value.Elements<float>();
                float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
                foreach (var v in values) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
                return (sets, Random(specs, evalCount, lo, hi, source.Seed + 7919));
            }
            var held = Math.Max(1, sets.Count / 5);
            return (sets[..^held], sets[^held..]);
        }
        return (Random(specs, source.RandomCount, source.Low, source.High, source.Seed),
                Random(specs, evalCount, source.Low, source.High, source.Seed + 7919));
    }

    public static List<IReadOnlyList<NamedTensor>> Random(IReadOnlyList<TensorSpec> specs, int count, float low, float high, int seed)
    {
        var rng = new Random(seed);
        var sets = new List<IReadOnlyList<NamedTensor>>(count);
        for (var i = 0; i < count; i++)
        {
            var set = new NamedTensor[specs.Count];
            for (var j = 0; j < specs.Count; j++)
            {
                var n = specs[j].Shape.Aggregate(1, (a, d) => checked(a * d));
                var values = new float[n];
                for (var k = 0; k < n; k++) values[k] = (float)(low + (high - (double)low) * rng.NextDouble());
                set[j] = new NamedTensor(specs[j].Name, Tensor.Create<float>(TensorElementType.Float, specs[j].Shape, values));
            }
            sets.Add(set);
        }
        return sets;
    }

    private static Tensor ToFloat(Tensor t, TensorSpec spec, string file)
    {
        var n = spec.Shape.Aggregate(1L, (a, d) => a * d);
        if (t.ElementCount != n)
            throw new QuantizationException(Path.GetFileName(file), $"holds {t.ElementCount} values {t.ShapeText}; input '{spec.Name}' takes {n} [{string.Join(",", spec.Shape)}]");
        var values = new float[n];
        switch (t.ElementType)
        {
            case TensorElementType.Float: t.Elements<float>().CopyTo(values); break;
            case TensorElementType.Double: { var s = t.Elements<double>(); for (var i = 0; i < n; i++) values[i] = (float)s[i]; break; }
            case TensorElementType.UInt8: { var s = t.Elements<byte>(); for (var i = 0; i < n; i++) values[i] = s[i]; break; }
            case TensorElementType.Int8: { var s = t.Elements<sbyte>(); for (var i = 0; i < n; i++) values[i] = s[i]; break; }
            case TensorElementType.Int32: { var s = t.Elements<int>(); for (var i = 0; i < n; i++) values[i] = s[i]; break; }
            case TensorElementType.Int64: { var s = t.Elements<long>(); for (var i = 0; i < n; i++) values[i] = s[i]; break; }
            default: throw new QuantizationException(Path.GetFileName(file), $"is {TensorElementTypes.Name(t.ElementType)}, not a number type calibration reads");
        }
        return Tensor.Create<float>(TensorElementType.Float, spec.Shape, values);
    }

    internal static string Shape(IEnumerable<int> shape) => "[" + string.Join(",", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}
