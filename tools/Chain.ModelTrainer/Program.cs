using System.Diagnostics;
using System.Globalization;
using Chain.ModelTool;

// Trains and quantizes the genesis models: dotnet run -c Release --project tools/Chain.ModelTrainer --
//   [--data .data/mnist] [--out genesis/models] [--seed N] [--only mlp|cnn] [--per-tensor]
//   or: [--data ..] [--out genesis/models] --golden DIR   (no training: loads {out}/*.quant.json, prints int8 accuracy and
//        writes DIR/{mlp,cnn}.t10k-logits.u8, the reference u8 logits of all test images, 10 per image, for checking an export)
//   or: [--data ..] [--out genesis/models] --export   (no training: exports {out}/*.quant.json to {out}/*.onnx, checks admission,
//        measures canonical-executor accuracy on the 10k test set against the integer reference, writes {out}/vectors.json)
// --per-tensor quantizes weights with one scale per tensor instead of per output channel (for comparison).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string data = ".data/mnist", outDir = "genesis/models", only = "";
var seed = GenesisModelRecipe.DefaultSeed;
var perChannel = true;
string? golden = null;
var export = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data": data = args[++i]; break;
        case "--out": outDir = args[++i]; break;
        case "--seed": seed = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--only": only = args[++i]; break;
        case "--per-tensor": perChannel = false; break;
        case "--golden": golden = args[++i]; break;
        case "--export": export = true; break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}
if (!File.Exists(Path.Combine(data, "train-images-idx3-ubyte")))
{
    Console.Error.WriteLine($"MNIST not found in {data}: run `make mnist` first");
    return 1;
}
Directory.CreateDirectory(outDir);
Console.WriteLine($"seed {seed}, {Environment.ProcessorCount} cores, Vector256 hardware: {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}");
var total = Stopwatch.StartNew();
if (golden != null)
{
    Directory.CreateDirectory(golden);
    var t10k = MnistSet.Load(data, "t10k");
    foreach (var name in new[] { "mlp", "cnn" })
    {
        var model = QuantizedModelJson.Deserialize(File.ReadAllText(Path.Combine(outDir, $"{name}.quant.json")));
        var logits = new byte[t10k.Count * 10];
        var correct = 0;
        for (var i = 0; i < t10k.Count; i++)
        {
            var r = IntegerReference.Run(model, t10k.Image(i));
            r.Logits.CopyTo(logits, i * 10);
            correct += r.Class == t10k.Labels[i] ? 1 : 0;
        }
        File.WriteAllBytes(Path.Combine(golden, $"{name}.t10k-logits.u8"), logits);
        Console.WriteLine($"{name}: int8 test accuracy {correct / (double)t10k.Count:P2}; reference logits in {golden}");
    }
    return 0;
}
if (export)
{
    var t10k = MnistSet.Load(data, "t10k");
    var reports = new List<GenesisExportReport>();
    foreach (var name in new[] { "mlp", "cnn" })
    {
        var clock = Stopwatch.StartNew();
        var model = QuantizedModelJson.Deserialize(File.ReadAllText(Path.Combine(outDir, $"{name}.quant.json")));
        var r = GenesisExport.Export(model, Path.Combine(outDir, $"{name}.onnx"), t10k);
        reports.Add(r);
        Console.WriteLine($"{name}: {r.OnnxBytes:N0} bytes, model id {r.ModelId}, {r.Macs:N0} MACs, gas {r.Gas:N0}; " +
            $"canonical int8 accuracy {r.CanonicalAccuracy:P2} on {t10k.Count:N0} test images; {r.ReferenceMismatches} differences from the integer reference ({clock.Elapsed.TotalSeconds:F1} s)");
        if (r.ReferenceMismatches != 0) return 1;
    }
    File.WriteAllText(Path.Combine(outDir, "vectors.json"), GenesisExport.VectorsJson(reports));
    return 0;
}
var train = MnistSet.Load(data, "train");
var test = MnistSet.Load(data, "t10k");
if (only is "" or "mlp")
    Run("mlp", () => GenesisModelRecipe.TrainMlp(train, test, GenesisModelRecipe.MlpOptions(seed) with { PerChannelWeights = perChannel },
        GenesisModelRecipe.MlpHidden, Console.WriteLine));
if (only is "" or "cnn")
    Run("cnn", () => GenesisModelRecipe.TrainCnn(train, test, GenesisModelRecipe.CnnOptions(seed) with { PerChannelWeights = perChannel },
        GenesisModelRecipe.CnnChannels1, GenesisModelRecipe.CnnChannels2, Console.WriteLine));
Console.WriteLine($"total wall time {total.Elapsed.TotalSeconds:F1} s");
return 0;

void Run(string name, Func<ModelReport> train)
{
    Console.WriteLine($"== {name}");
    var r = train();
    var json = QuantizedModelJson.Serialize(r.Model);
    var path = Path.Combine(outDir, $"{name}.quant.json");
    File.WriteAllText(path, json);
    var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)));
    Console.WriteLine($"  model {r.Model.Name}: {r.Options}");
    Console.WriteLine($"  float32 test accuracy {r.FloatAccuracy:P2}, int8 test accuracy {r.Int8Accuracy:P2}, int8/float agreement {r.Int8AgreementWithFloat:P2}");
    Console.WriteLine($"  MACs/inference {r.Model.MacCount:N0}; parameters {r.Model.ParameterCount:N0} (float {r.FloatParameterCount:N0}); int8 constants {r.Model.ParameterBytes:N0} bytes");
    Console.WriteLine($"  train {r.TrainTime.TotalSeconds:F1} s, calibrate+quantize {r.QuantizeTime.TotalSeconds:F1} s");
    foreach (var l in r.Model.Layers.OfType<QLinearConvLayer>())
        Console.WriteLine($"  {l.Name}: w [{string.Join(",", l.WeightShape)}] x_scale {l.InputScale:G6} y_scale {l.OutputScale:G6} y_zp {l.OutputZeroPoint} w_scale[0] {l.WeightScales[0]:G6}");
    Console.WriteLine($"  wrote {path} ({json.Length:N0} bytes, sha256 {hash})");
}
