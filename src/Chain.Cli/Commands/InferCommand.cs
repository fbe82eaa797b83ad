using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Chain.Core.Codec;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain infer --model FILE --input FILE|random:SEED [--executor canonical|ort] [--trace] [--json]`:
/// one inference, with the hashes a receipt would carry.
/// </summary>
internal static class InferCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ONNX model file", Required = true };
        var input = new Option<string>("--input")
        {
            Description = "Input tensor file (canonical .bin, NumPy .npy, ONNX TensorProto .pb or JSON; float32 is quantized with the model's recorded parameters), or random:SEED",
            Required = true,
        };
        var executor = new Option<string>("--executor")
        {
            Description = "canonical (the consensus definition) or ort (the ONNX Runtime fast path, pinned settings)",
            DefaultValueFactory = _ => "canonical",
        };
        executor.AcceptOnlyFromAmong("canonical", "ort");
        var trace = new Option<bool>("--trace") { Description = "Also print the hash of every node output (canonical executor)" };
        var outputFile = new Option<string?>("--output") { Description = "Write the first output as a canonical tensor to this file" };
        var json = new Option<bool>("--json") { Description = "Print as JSON" };
        var command = new Command("infer", "Run one inference and print the output and its hash")
        {
            model, input, executor, trace, outputFile, json,
        };
        command.SetAction(result => CliApp.Run(result, output =>
        {
            var bytes = ReadFile(result.GetValue(model)!, "model");
            using var canonical = LoadCanonical(bytes);
            var metadata = FloatTensors.MetadataOf(bytes);
            var inputs = ReadInputs(result.GetValue(input)!, canonical.Inputs, metadata);
            var useOrt = result.GetValue(executor) == "ort";
            if (useOrt && result.GetValue(trace)) throw new CliException("--trace needs the canonical executor");
            using var ort = useOrt ? new OrtExecutor(bytes, OrtSettings.Pinned) : null;
            IModelExecutor chosen = ort is null ? canonical : ort;

            var clock = Stopwatch.StartNew();
            IReadOnlyList<NamedTensor> outputs;
            IReadOnlyList<NodeOutputHash> nodeHashes = [];
            try
            {
                if (result.GetValue(trace)) (outputs, nodeHashes) = canonical.RunTraced(inputs);
                else outputs = chosen.Run(inputs);
            }
            catch (Inference.Kernels.InferenceException e)
            {
                throw new CliException($"inference failed: {e.Message}");
            }
            var elapsed = clock.Elapsed;

            if (result.GetValue(outputFile) is { } path) File.WriteAllBytes(path, Canonical.Encode(outputs[0].Value));
            Print(output, result.GetValue(json), canonical, chosen, inputs, outputs, nodeHashes, elapsed, metadata);
            return 0;
        }));
        return command;
    }

    internal static byte[] ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {what} file {path}: {e.Message}");
        }
    }

    internal static CanonicalExecutor LoadCanonical(byte[] bytes)
    {
        try
        {
            return CanonicalExecutor.Load(bytes);
        }
        catch (ModelRefusedException e)
        {
            throw new CliException(e.Message + " (run `chain model check` for the full report)");
        }
    }

    private static IReadOnlyList<NamedTensor> ReadInputs(string value, IReadOnlyList<TensorSpec> specs, QuantizationMetadata? metadata)
    {
        if (value.StartsWith("random:", StringComparison.Ordinal))
        {
            if (!int.TryParse(value.AsSpan("random:".Length), out var seed))
                throw new CliException($"--input {value}: the seed after random: must be an integer");
            return InputGenerator.Create(specs, InputPattern.Random, seed);
        }
        if (specs.Count != 1)
            throw new CliException($"the model takes {specs.Count} inputs; a file gives one (use random:SEED)");
        var tensor = FloatTensors.Prepare(FloatTensors.Read(value), specs[0].Name, metadata);
        return [new NamedTensor(specs[0].Name, tensor)];
    }

    private static void Print(TextWriter output, bool json, CanonicalExecutor model, IModelExecutor executor,
        IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> outputs, IReadOnlyList<NodeOutputHash> nodeHashes, TimeSpan elapsed,
        QuantizationMetadata? metadata)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                model_id = model.ModelId.ToString(),
                executor = executor.Description,
                inputs = inputs.Select(i => new { name = i.Name, tensor = i.Value.ToString(), hash = i.Value.Hash.ToString() }),
                outputs = outputs.Select(o => new
                {
                    name = o.Name, tensor = o.Value.ToString(), hash = o.Value.Hash.ToString(), values = Preview(o.Value, 64),
                    dequantized = metadata?.Output(o.Name) is { } q && q.Type == o.Value.ElementType ? QuantizationMetadata.Dequantize(q, o.Value).Take(64) : null,
                }),
                nodes = nodeHashes.Select(n => new { index = n.NodeIndex, node = n.Node, op = n.OpType, output = n.Output, hash = n.Hash.ToString() }),
                elapsed_ms = elapsed.TotalMilliseconds,
            }, new JsonSerializerOptions { WriteIndented = true }));
            return;
        }
        output.WriteLine($"model     {model.ModelId}");
        output.WriteLine($"executor  {executor.Description}");
        foreach (var i in inputs) output.WriteLine($"input     {i.Name} {i.Value} hash {i.Value.Hash}");
        foreach (var o in outputs)
        {
            output.WriteLine($"output    {o.Name} {o.Value} hash {o.Value.Hash}");
            output.WriteLine($"          [{string.Join(", ", Preview(o.Value, 16))}{(o.Value.ElementCount > 16 ? ", …" : "")}]");
            foreach (var line in FloatTensors.Describe(o.Name, o.Value, metadata)) output.WriteLine($"          {line}");
        }
        foreach (var n in nodeHashes) output.WriteLine($"node {n.NodeIndex,4} {n.OpType,-16} {n.Output,-24} {n.Hash}");
        output.WriteLine($"time      {elapsed.TotalMilliseconds:F3} ms");
    }

    private static IEnumerable<string> Preview(Tensor t, int max) =>
        Enumerable.Range(0, (int)Math.Min(max, t.ElementCount)).Select(i => t.ElementType switch
        {
            TensorElementType.UInt8 => t.Elements<byte>()[i].ToString(),
            TensorElementType.Int8 => t.Elements<sbyte>()[i].ToString(),
            TensorElementType.Int16 => t.Elements<short>()[i].ToString(),
            TensorElementType.Int32 => t.Elements<int>()[i].ToString(),
            TensorElementType.Int64 => t.Elements<long>()[i].ToString(),
            TensorElementType.Float => t.Elements<float>()[i].ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            _ => "?",
        });
}
