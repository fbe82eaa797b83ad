using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;

namespace Chain.Lab;

/// <summary>
/// A model the lab measures: its bytes, and whether it runs under ONNX Runtime only (<paramref name="IsFloat"/>: the
/// float contrast model, or a researcher's model that admission refuses; never consensus).
/// </summary>
/// <param name="FloatMacs">Multiply-accumulates per inference of a float model, which admission does not count.</param>
/// <param name="NotAdmitted">Why admission refused the model (its first reasons); null when admitted or built in.</param>
/// <param name="InputShapes">Concrete shapes for inputs whose declared shape is symbolic (others' symbolic dimensions become 1).</param>
/// <param name="Quantized">For the int8 twin `--quantize` made of a float model: which, and at what accuracy cost.</param>
public sealed record LabModel(string Name, byte[] Bytes, bool IsFloat = false, long FloatMacs = 0, string? NotAdmitted = null,
    IReadOnlyDictionary<string, long[]>? InputShapes = null, LabQuantizedInfo? Quantized = null)
{
    /// <summary>
    /// A researcher's model file: admitted ones are measured like consensus models; any other ONNX model runs the
    /// ONNX Runtime configurations only, with admission's reasons kept for the report.
    /// </summary>
    /// <exception cref="FormatException">The bytes are not an ONNX model at all.</exception>
    public static LabModel FromFile(string name, byte[] bytes, IReadOnlyDictionary<string, long[]>? inputShapes = null)
    {
        var admission = ModelAdmission.Check(bytes);
        if (admission.Admitted) return new LabModel(name, bytes, InputShapes: inputShapes);
        var reasons = string.Join("; ", admission.Reasons.Take(3));
        try
        {
            OnnxModel.ParseForTooling(bytes); // what PreparedModel reads; a file that is not ONNX at all stops here
        }
        catch (Chain.Inference.Protobuf.OnnxFormatException e)
        {
            throw new FormatException($"{name} is not admitted: {reasons}; nor can it be read as ONNX to run under ONNX Runtime ({e.Message})");
        }
        return new LabModel(name, bytes, IsFloat: true, NotAdmitted: reasons, InputShapes: inputShapes);
    }
}

/// <summary>
/// Models built in code to stress the places where integer kernels usually disagree: rounding ties in
/// requantization, accumulators at the edge of int32, K that no SIMD width divides, odd channel counts.
/// Everything is seeded, so the bytes (and model ids) are the same on every machine.
/// </summary>
public static class LabModels
{
    public const string GenesisMlp = "genesis/models/mlp.onnx";
    public const string GenesisCnn = "genesis/models/cnn.onnx";

    private const long Opset = 13;
    private const long IrVersion = 7;

    /// <summary>K for the ties model: not a multiple of 4, 16 or 64.</summary>
    public const int TiesK = 999;

    /// <summary>K for the big-accumulator model: the largest K with 255·64·K ≤ 2^31−1 (131586 = 2 mod 4).</summary>
    public const int BigAccK = (int)(AdmissionLimits.MaxAccumulator / (255 * 64));

    public static IReadOnlyList<LabModel> Adversarial() => [GemmTies(), GemmBigAccumulator(), ConvOdd()];

    /// <summary>
    /// The two genesis models, looked up as genesis/models/*.onnx in <paramref name="startDirectory"/> or the
    /// nearest folder above it (so the command works from anywhere inside the repository).
    /// </summary>
    /// <exception cref="FileNotFoundException">A genesis model is in none of those folders.</exception>
    public static IReadOnlyList<LabModel> Genesis(string startDirectory)
    {
        var list = new List<LabModel>();
        foreach (var relative in new[] { GenesisMlp, GenesisCnn })
        {
            string? found = null;
            for (var dir = new DirectoryInfo(startDirectory); dir is not null && found is null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate)) found = candidate;
            }
            if (found is null)
                throw new FileNotFoundException($"genesis model {relative} not found in {startDirectory} or any folder above it", relative);
            list.Add(new LabModel("genesis-" + Path.GetFileNameWithoutExtension(relative), File.ReadAllBytes(found)));
        }
        return list;
    }

    /// <summary>
    /// QLinearMatMul u8×s8 with a_scale=1, b_scale=1, y_scale=2: the requantization multiplier is exactly 0.5,
    /// so every odd accumulator lands on a .5 tie. Sparse ±1 weights keep outputs mostly unsaturated.
    /// </summary>
    public static LabModel GemmTies()
    {
        const int n = 37;
        var random = new Random(999);
        var weights = new sbyte[TiesK * n];
        for (int i = 0; i < weights.Length; i++)
        {
            var r = random.Next(100);
            weights[i] = (sbyte)(r == 0 ? -1 : r == 1 ? 1 : 0);
        }
        var graph = new OnnxGraph("gemm-ties",
            [Node("ties", "QLinearMatMul", ["a", "a_scale", "a_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp"], "y")],
            [
                Scalar("a_scale", 1f), ScalarU8("a_zp", 128),
                Const("w", TensorElementType.Int8, [TiesK, n], weights),
                Scalar("w_scale", 1f), ScalarS8("w_zp", 0),
                Scalar("y_scale", 2f), ScalarU8("y_zp", 128),
            ],
            [Value("a", TensorElementType.UInt8, 1, TiesK)],
            [Value("y", TensorElementType.UInt8, 1, n)],
            []);
        return new LabModel("gemm-ties", Build(graph));
    }

    /// <summary>
    /// MatMulInteger u8×s8 with K=131586: column 0 is all −64 (AllMax input gives −2,147,483,520, 127 above
    /// −2^31), column 1 all +63, column 2 alternates, so both signs of the int32 edge are reached.
    /// </summary>
    public static LabModel GemmBigAccumulator()
    {
        const int n = 3;
        var weights = new sbyte[BigAccK * n];
        for (int k = 0; k < BigAccK; k++)
        {
            weights[k * n] = -64;
            weights[k * n + 1] = 63;
            weights[k * n + 2] = (sbyte)((k & 1) == 0 ? -64 : 63);
        }
        var graph = new OnnxGraph("gemm-bigacc",
            [Node("bigacc", "MatMulInteger", ["a", "w"], "y")],
            [Const("w", TensorElementType.Int8, [BigAccK, n], weights)],
            [Value("a", TensorElementType.UInt8, 1, BigAccK)],
            [Value("y", TensorElementType.Int32, 1, n)],
            []);
        return new LabModel("gemm-bigacc", Build(graph));
    }

    /// <summary>
    /// A large GEMM for throughput: MatMulInteger u8 [M,K] × s8 [K,N] with seeded weights in [−64, 63]
    /// (admissible on every x86 path). Not in the determinism sets; used by the benchmarks.
    /// </summary>
    public static LabModel LargeGemm(int m = 256, int k = 1024, int n = 1024)
    {
        var random = new Random(1024);
        var weights = new sbyte[k * n];
        for (int i = 0; i < weights.Length; i++) weights[i] = (sbyte)random.Next(-64, 64);
        var graph = new OnnxGraph("gemm-large",
            [Node("gemm", "MatMulInteger", ["a", "w"], "y")],
            [Const("w", TensorElementType.Int8, [k, n], weights)],
            [Value("a", TensorElementType.UInt8, m, k)],
            [Value("y", TensorElementType.Int32, m, n)],
            []);
        return new LabModel($"gemm-{m}x{k}x{n}", Build(graph));
    }

    /// <summary>Two QLinearConvs with odd channel counts (3→5 padded, 5→7 strided) and per-channel weight scales.</summary>
    public static LabModel ConvOdd() => ConvOdd(corruptSecondLayer: false);

    /// <summary>
    /// The conv model, optionally with one weight of the second layer changed: the same graph computing a
    /// different function from node 2 on, which the divergence localiser must pin to that node.
    /// </summary>
    internal static LabModel ConvOdd(bool corruptSecondLayer)
    {
        var random = new Random(35);
        sbyte[] Weights(int count)
        {
            var w = new sbyte[count];
            for (int i = 0; i < count; i++) w[i] = (sbyte)random.Next(-64, 64);
            return w;
        }
        int[] Bias(int count)
        {
            var b = new int[count];
            for (int i = 0; i < count; i++) b[i] = random.Next(-2000, 2000);
            return b;
        }
        float[] Scales(int count)
        {
            var s = new float[count];
            for (int i = 0; i < count; i++) s[i] = 0.002f + 0.001f * random.Next(10);
            return s;
        }
        var w1 = Weights(5 * 3 * 3 * 3);
        var w2 = Weights(7 * 5 * 3 * 3);
        if (corruptSecondLayer) w2[17] = (sbyte)(w2[17] == 63 ? 62 : w2[17] + 1);
        var graph = new OnnxGraph("conv-odd",
            [
                Node("conv1", "QLinearConv", ["x", "x_scale", "x_zp", "w1", "w1_scale", "w1_zp", "h_scale", "h_zp", "b1"], "h",
                    OnnxAttribute.Of("pads", new long[] { 1, 1, 1, 1 })),
                Node("conv2", "QLinearConv", ["h", "h_scale", "h_zp", "w2", "w2_scale", "w2_zp", "y_scale", "y_zp", "b2"], "y",
                    OnnxAttribute.Of("strides", new long[] { 2, 2 })),
            ],
            [
                Scalar("x_scale", 0.05f), ScalarU8("x_zp", 7),
                Const("w1", TensorElementType.Int8, [5, 3, 3, 3], w1),
                Const("w1_scale", TensorElementType.Float, [5], Scales(5)), Const("w1_zp", TensorElementType.Int8, [5], new sbyte[5]),
                Const("b1", TensorElementType.Int32, [5], Bias(5)),
                Scalar("h_scale", 0.04f), ScalarU8("h_zp", 100),
                Const("w2", TensorElementType.Int8, [7, 5, 3, 3], w2),
                Const("w2_scale", TensorElementType.Float, [7], Scales(7)), Const("w2_zp", TensorElementType.Int8, [7], new sbyte[7]),
                Const("b2", TensorElementType.Int32, [7], Bias(7)),
                Scalar("y_scale", 0.03f), ScalarU8("y_zp", 128),
            ],
            [Value("x", TensorElementType.UInt8, 1, 3, 9, 7)],
            [Value("y", TensorElementType.UInt8, 1, 7, 4, 3)],
            []);
        return new LabModel(corruptSecondLayer ? "conv-odd-corrupt" : "conv-odd", Build(graph));
    }

    /// <summary>The float contrast model: MatMul+Add+Relu, 784→256→10, seeded uniform (Glorot-style) weights.</summary>
    public static LabModel FloatMlp()
    {
        var random = new Random(784);
        float[] Uniform(int count, int fanIn)
        {
            var limit = MathF.Sqrt(6f / fanIn);
            var v = new float[count];
            for (int i = 0; i < count; i++) v[i] = (float)(random.NextDouble() * 2 - 1) * limit;
            return v;
        }
        var graph = new OnnxGraph("float-mlp",
            [
                Node("fc1", "MatMul", ["x", "w1"], "fc1"),
                Node("bias1", "Add", ["fc1", "b1"], "h1"),
                Node("relu1", "Relu", ["h1"], "r1"),
                Node("fc2", "MatMul", ["r1", "w2"], "fc2"),
                Node("bias2", "Add", ["fc2", "b2"], "y"),
            ],
            [
                Const("w1", TensorElementType.Float, [784, 256], Uniform(784 * 256, 784)),
                Const("b1", TensorElementType.Float, [256], Uniform(256, 784)),
                Const("w2", TensorElementType.Float, [256, 10], Uniform(256 * 10, 256)),
                Const("b2", TensorElementType.Float, [10], Uniform(10, 256)),
            ],
            [Value("x", TensorElementType.Float, 1, 784)],
            [Value("y", TensorElementType.Float, 1, 10)],
            // Intermediate types are declared so the divergence localiser can expose them as outputs.
            [
                Value("fc1", TensorElementType.Float, 1, 256), Value("h1", TensorElementType.Float, 1, 256),
                Value("r1", TensorElementType.Float, 1, 256), Value("fc2", TensorElementType.Float, 1, 10),
            ]);
        return new LabModel("float-mlp", Build(graph), IsFloat: true, FloatMacs: 784L * 256 + 256L * 10);
    }

    private static byte[] Build(OnnxGraph graph) =>
        new OnnxModel(IrVersion, [new OpsetImport("", Opset)], graph, "chain-lab", "1").ToBytes();

    private static OnnxNode Node(string name, string op, string[] inputs, string output, params OnnxAttribute[] attributes) =>
        new(name, op, "", inputs, [output], attributes);

    private static OnnxValueInfo Value(string name, TensorElementType type, params long[] shape) =>
        new(name, (int)type, shape.Select(OnnxDim.Fixed).ToArray());

    private static OnnxTensor Const<T>(string name, TensorElementType type, int[] shape, T[] values) where T : unmanaged =>
        new(name, Tensor.Create<T>(type, shape, values));

    private static OnnxTensor Scalar(string name, float value) => Const(name, TensorElementType.Float, [], new[] { value });
    private static OnnxTensor ScalarU8(string name, byte value) => Const(name, TensorElementType.UInt8, [], new[] { value });
    private static OnnxTensor ScalarS8(string name, sbyte value) => Const(name, TensorElementType.Int8, [], new[] { value });
}
