using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Lab;

/// <summary>One input: which pattern family it belongs to and its position in that family, or the file it was read from.</summary>
public sealed record LabInput(InputPattern Pattern, int Index, IReadOnlyList<NamedTensor> Tensors, string? File = null)
{
    public string Label => File ?? $"{Pattern}#{Index}";
}

/// <summary>
/// The lab's input set: N inputs for every <see cref="InputPattern"/>, in a fixed order. The worker child
/// process rebuilds it from (specs, N, seed), so parent and child must derive it the same way: here.
/// </summary>
public static class LabInputs
{
    /// <summary>The input set <paramref name="spec"/> describes: read from its directory when it names one, else generated.</summary>
    public static IReadOnlyList<LabInput> Create(IReadOnlyList<TensorSpec> specs, LabInputSpec spec) =>
        spec.InputDirectory is { } dir ? Read(specs, dir) : Create(specs, spec.PerPattern, spec.Seed);

    /// <summary>
    /// A researcher's inputs (<see cref="TensorFiles"/>: .npy, .pb, .json): for a one-input model each file in
    /// <paramref name="directory"/> is one input; otherwise each subfolder is one input, its files (in name order)
    /// the model's inputs in order (the ONNX test-data layout, test_data_set_N/input_K.pb).
    /// </summary>
    /// <exception cref="FormatException">Unreadable files, a count or type that does not fit the model, or no inputs at all.</exception>
    public static IReadOnlyList<LabInput> Read(IReadOnlyList<TensorSpec> specs, string directory)
    {
        if (!Directory.Exists(directory)) throw new FormatException($"no such directory: {directory}");
        var sets = Directory.GetDirectories(directory).Order(StringComparer.Ordinal).ToArray() is { Length: > 0 } subfolders
            ? subfolders.Select(d => (Name: Path.GetFileName(d), Files: TensorFiles.List(d))).ToArray()
            : specs.Count == 1
                ? TensorFiles.List(directory).Select(f => (Name: Path.GetFileName(f), Files: (IReadOnlyList<string>)[f])).ToArray()
                : throw new FormatException($"{directory}: the model takes {specs.Count} inputs, so give one subfolder per input set (input_0.pb, input_1.pb, ...)");
        if (sets.Length == 0) throw new FormatException($"{directory} holds no tensor files (.npy, .pb, .json)");
        var result = new List<LabInput>();
        foreach (var (name, files) in sets)
        {
            if (files.Count != specs.Count)
                throw new FormatException($"{name}: {files.Count} tensor file(s) for a model of {specs.Count} input(s)");
            var tensors = new NamedTensor[specs.Count];
            for (int k = 0; k < specs.Count; k++)
            {
                var tensor = TensorFiles.Read(files[k]);
                if (tensor.ElementType != specs[k].ElementType)
                    throw new FormatException($"{files[k]}: {TensorElementTypes.Name(tensor.ElementType)}, but input '{specs[k].Name}' is {TensorElementTypes.Name(specs[k].ElementType)}");
                tensors[k] = new NamedTensor(specs[k].Name, tensor);
            }
            result.Add(new LabInput(InputPattern.Random, result.Count, tensors, name));
        }
        return result;
    }

    /// <summary>
    /// Writes <paramref name="inputs"/> in the layout <see cref="Read"/> takes — one subfolder per input, named by its
    /// zero-padded index so name order is input order, holding input_000.npy, input_001.npy, ... — for a worker that
    /// must see exactly these tensors.
    /// </summary>
    public static void Write(IReadOnlyList<LabInput> inputs, string directory)
    {
        for (var i = 0; i < inputs.Count; i++)
        {
            var set = Directory.CreateDirectory(Path.Combine(directory, i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture))).FullName;
            for (var k = 0; k < inputs[i].Tensors.Count; k++)
                File.WriteAllBytes(Path.Combine(set, $"input_{k:D3}.npy"), TensorFiles.ToNpy(inputs[i].Tensors[k].Value));
        }
    }

    /// <summary>
    /// The specs <see cref="Read"/> checks a folder of <see cref="Write"/> against: the graph's input names in order, each
    /// with the element type its file in the first set holds (the writer took them from the model's own inputs).
    /// </summary>
    public static IReadOnlyList<TensorSpec> WrittenSpecs(IReadOnlyList<string> inputNames, string directory)
    {
        var first = Directory.GetDirectories(directory).Order(StringComparer.Ordinal).FirstOrDefault()
            ?? throw new FormatException($"{directory} holds no input sets");
        var files = TensorFiles.List(first);
        if (files.Count != inputNames.Count)
            throw new FormatException($"{first}: {files.Count} tensor file(s) for a model of {inputNames.Count} input(s)");
        return inputNames.Select((name, k) => new TensorSpec(name, TensorFiles.Read(files[k]).ElementType, [])).ToArray();
    }

    public static IReadOnlyList<LabInput> Create(IReadOnlyList<TensorSpec> specs, int perPattern, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perPattern, 1);
        var result = new List<LabInput>();
        foreach (var pattern in Enum.GetValues<InputPattern>())
        {
            for (int i = 0; i < perPattern; i++)
            {
                // Distinct seeds per family and index; the fixed-pattern families ignore them but are still
                // repeated N times, which catches run-to-run variation (threads) on identical inputs.
                var inputSeed = unchecked(seed * 1_000_003 + (int)pattern * 10_007 + i);
                result.Add(new LabInput(pattern, i, InputGenerator.Create(specs, pattern, inputSeed)));
            }
        }
        return result;
    }

    /// <summary>A compact identity of a run's outputs: the tensor hashes (type, shape and bytes) of every output.</summary>
    public static string OutputHash(IReadOnlyList<NamedTensor> outputs) =>
        string.Join("+", outputs.Select(o => o.Value.Hash.ToString()));
}
