using Chain.Inference.Onnx;
using Chain.Testing.FloatModels;

// chain-zoo-export OUT_DIR: for every zoo model, OUT_DIR/NAME.onnx (float32), OUT_DIR/NAME/calibration/*.npy
// (64 labelled in-distribution inputs) and OUT_DIR/NAME/samples/LABEL-I.npy (8 held-out ones, label in the name).
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Chain.ZooExport OUT_DIR");
    return 2;
}
var root = Directory.CreateDirectory(args[0]).FullName;
foreach (var model in FloatModelZoo.All())
{
    File.WriteAllBytes(Path.Combine(root, model.Name + ".onnx"), model.Bytes);
    var calibration = Directory.CreateDirectory(Path.Combine(root, model.Name, "calibration")).FullName;
    var samples = Directory.CreateDirectory(Path.Combine(root, model.Name, "samples")).FullName;
    var i = 0;
    foreach (var s in FloatModelZoo.Samples(model, 64, seed: 1))
        File.WriteAllBytes(Path.Combine(calibration, $"{i++:D3}.npy"), TensorFiles.ToNpy(s.Input));
    i = 0;
    foreach (var s in FloatModelZoo.Samples(model, 8, seed: 2))
        File.WriteAllBytes(Path.Combine(samples, $"{(model.Kind == FloatModelKind.Classifier ? s.Label.ToString() : "x")}-{i++}.npy"), TensorFiles.ToNpy(s.Input));
    Console.WriteLine($"{model.Name,-18} {model.Bytes.Length,8} bytes  input {model.InputName} [{string.Join(",", model.InputShape)}]  {model.Kind}  {string.Join(" ", model.OpTypes)}");
}
Console.WriteLine($"wrote {FloatModelZoo.All().Count} float models with calibration and sample inputs to {root}");
return 0;
