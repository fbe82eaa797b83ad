using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;

namespace Chain.Cli.Bench;

/// <summary>
/// One model of `chain bench gas`: a tiny admitted graph whose time is dominated by the nodes of one
/// <see cref="GasKind"/> (those named <c>op*</c>); other nodes only widen an input (<c>prep*</c>) or shrink
/// the output to one row (<c>sink*</c>) so that copying the graph's inputs and outputs in and out costs
/// little beside them.
/// </summary>
internal sealed record GasBenchModel(GasKind Kind, string Name, OnnxModel Model)
{
    /// <summary>The prefix of the measured nodes' names.</summary>
    public const string MeasuredPrefix = "op";
}

/// <summary>
/// The representative models of every gas kind, at realistic sizes (~1M elements for element-wise ops,
/// GEMMs and convolutions of the sizes small vision and MLP models use).
/// </summary>
internal static class GasBenchModels
{
    private const TensorElementType U8 = TensorElementType.UInt8, S8 = TensorElementType.Int8,
        S32 = TensorElementType.Int32, S64 = TensorElementType.Int64, F32 = TensorElementType.Float;

    public static IReadOnlyList<GasBenchModel> All() =>
    [
        // Gemm: int8 GEMM per MAC.
        new(GasKind.Gemm, "MatMulInteger u8[1,512]×s8[512,512]", MatMul(1, 512, 512, qlinear: false)),
        new(GasKind.Gemm, "MatMulInteger u8[64,256]×s8[256,256]", MatMul(64, 256, 256, qlinear: false)),
        new(GasKind.Gemm, "MatMulInteger u8[1,512]×u8[512,512] B input", MatMulDynamic(1, 512, 512)),
        new(GasKind.Gemm, "MatMulInteger u8[64,256]×u8[256,256] B input", MatMulDynamic(64, 256, 256)),
        new(GasKind.Gemm, "ConvInteger 3×3 u8[1,16,32,32]→32", Conv(16, 32, 32, group: 1, qlinear: false)),
        new(GasKind.Gemm, "ConvInteger depthwise 3×3 u8[1,64,32,32]", Conv(64, 64, 32, group: 64, qlinear: false)),

        // GemmRequantize: the same GEMMs plus float32 requantization per output.
        new(GasKind.GemmRequantize, "QLinearMatMul u8[1,512]×s8[512,512]", MatMul(1, 512, 512, qlinear: true)),
        new(GasKind.GemmRequantize, "QLinearMatMul u8[64,256]×s8[256,256]", MatMul(64, 256, 256, qlinear: true)),
        new(GasKind.GemmRequantize, "QLinearConv 3×3 u8[1,16,32,32]→32", Conv(16, 32, 32, group: 1, qlinear: true)),
        new(GasKind.GemmRequantize, "QLinearConv depthwise 3×3 u8[1,64,32,32]", Conv(64, 64, 32, group: 64, qlinear: true)),
        new(GasKind.GemmRequantize, "QLinearConv 1×1 fully connected u8[1,1024,1,1]→512", FullyConnected(1024, 512)),

        // Pool: per window comparison.
        new(GasKind.Pool, "MaxPool 2×2/2 u8[1,64,64,64]", MaxPool(U8, 64, 64, kernel: 2, stride: 2, pad: 0)),
        new(GasKind.Pool, "MaxPool 3×3/2 u8[1,64,64,64]", MaxPool(U8, 64, 64, kernel: 3, stride: 2, pad: 0)),
        new(GasKind.Pool, "MaxPool 3×3/1 pad 1 s8[1,32,64,64]", MaxPool(S8, 32, 64, kernel: 3, stride: 1, pad: 1)),

        // Elementwise: same-shape operands, 4 chained ops on [1024,1024] (the 4- and 8-byte ones widened by a Concat).
        new(GasKind.Elementwise, "Add u8[1024,1024] ×4", Chain(U8, "Add", 4)),
        new(GasKind.Elementwise, "Mul s32[1024,1024] ×4", Chain(S32, "Mul", 4)),
        new(GasKind.Elementwise, "Max s64[1024,1024] ×4", Chain(S64, "Max", 4)),

        // Clamp: Clip and Relu, a compare-and-select per element.
        new(GasKind.Clamp, "Clip/Relu s8[1024,1024] ×4", ClipRelu()),
        new(GasKind.Clamp, "Relu s32[1024,1024] ×4", Unary(S32, "Relu")),
        new(GasKind.Clamp, "Clip u8[1024,1024] ×4", Unary(U8, "Clip")),

        // ElementwiseBroadcast: an operand broadcast along some axis.
        new(GasKind.ElementwiseBroadcast, "Add u8[1024,1]+[1,1024]", Outer(U8, "Add")),
        new(GasKind.ElementwiseBroadcast, "Mul s64[1024,1]×[1,1024]", Outer(S64, "Mul")),
        new(GasKind.ElementwiseBroadcast, "Add s32[1,64,64,64]+[1,64,1,1] ×4", ChannelBias(4)),

        // Cast: widening and narrowing per element.
        new(GasKind.Cast, "Cast s8→s64 [1024,1024]", Casts(S8, [S64])),
        new(GasKind.Cast, "Cast s8→s64→s8 ×2 [1024,1024]", Casts(S8, [S64, S8, S64, S8])),
        new(GasKind.Cast, "Cast u8→s32 [1024,1024]", Casts(U8, [S32])),

        // Quantize: one float32 division or multiplication per element.
        new(GasKind.Quantize, "QuantizeLinear s32→u8 [1024,1024]", Quantize(perAxis: false)),
        new(GasKind.Quantize, "QuantizeLinear per-axis s32→s8 [1,64,64,64]", Quantize(perAxis: true)),
        new(GasKind.Quantize, "DequantizeLinear u8→f32 [1024,1024]", Dequantize()),

        // Copy: block copies.
        new(GasKind.Copy, "Reshape u8[1024,1024] ×4", Reshapes(U8, 4)),
        new(GasKind.Copy, "Flatten/Identity s32[1,64,64,64] ×4", FlattenIdentity()),
        new(GasKind.Copy, "Reshape s64[1024,1024] ×4", Reshapes(S64, 4)),
        new(GasKind.Copy, "Concat 8×s64[128,1024]", ConcatModel()),

        // Gather: index-driven copies.
        new(GasKind.Gather, "Transpose u8[1,64,64,64] NCHW→NHWC", Transpose(U8)),
        new(GasKind.Gather, "Transpose s32[1,64,64,64] NCHW→NHWC", Transpose(S32)),
        new(GasKind.Gather, "Gather u8 LUT[256] by s32[512,1024]", Lut()),
        new(GasKind.Gather, "Gather rows s8[1000,256] by s64[1024]", Rows()),

        // Reduce: one comparison per element.
        new(GasKind.Reduce, "ArgMax u8[1024,1024] axis 1", ArgMax(U8, [1024, 1024], axis: 1)),
        new(GasKind.Reduce, "ArgMax s32[256,1024] axis 0", ArgMax(S32, [256, 1024], axis: 0)),
        new(GasKind.Reduce, "ArgMax s64[1,131072] axis 1", ArgMax(S64, [1, 131072], axis: 1)),
        new(GasKind.Reduce, "QLinearGlobalAveragePool u8[1,256,64,64]", GlobalPool(256, 64)),

        // QLinearElementwise: com.microsoft QLinearAdd/QLinearMul, per element read and written.
        new(GasKind.QLinearElementwise, "QLinearAdd u8[1,64,128,128]+same", QLinearBinary("QLinearAdd", U8, perChannel: false)),
        new(GasKind.QLinearElementwise, "QLinearAdd s8[1,64,128,128]+[1,64,1,1]", QLinearBinary("QLinearAdd", S8, perChannel: true)),
        new(GasKind.QLinearElementwise, "QLinearMul u8[1,64,128,128]×same", QLinearBinary("QLinearMul", U8, perChannel: false)),
        new(GasKind.QLinearElementwise, "QLinearMul s8[1,64,128,128]×[1,64,1,1]", QLinearBinary("QLinearMul", S8, perChannel: true)),

        // AveragePool: com.microsoft QLinearAveragePool, per window position plus output element.
        new(GasKind.AveragePool, "QLinearAveragePool 3×3/1 pad 1 u8[1,32,64,64] count_include_pad", AveragePool(U8, 32, 64, 3, 1, 1)),
        new(GasKind.AveragePool, "QLinearAveragePool 2×2/2 s8[1,64,64,64]", AveragePool(S8, 64, 64, 2, 2, 0)),
        new(GasKind.AveragePool, "QLinearAveragePool 5×5/2 pad 2 u8[1,16,64,64]", AveragePool(U8, 16, 64, 5, 2, 2)),
    ];

    // ---- com.microsoft QLinear ops ----

    private static OnnxNode MsNode(string name, string op, string[] inputs, string[] outputs, params OnnxAttribute[] attributes) =>
        new(name, op, "com.microsoft", inputs, outputs, attributes);

    private static OnnxModel MsModel(OnnxNode node, IEnumerable<OnnxValueInfo> inputs, IEnumerable<OnnxValueInfo> outputs,
        IEnumerable<OnnxTensor> initializers) =>
        new(9, [new OpsetImport("", 17), new OpsetImport("com.microsoft", 1)],
            new OnnxGraph("gas-bench", [node], initializers.ToArray(), inputs.ToArray(), outputs.ToArray(), []),
            "chain-bench-gas", "1");

    /// <summary>A [1,64,128,128] activation with a same-shape one, or with a constant per-channel [1,64,1,1].</summary>
    private static OnnxModel QLinearBinary(string op, TensorElementType type, bool perChannel)
    {
        var inits = new List<OnnxTensor> { Scalar("as", 0.05f), Zp("az", type, 3), Scalar("bs", 0.07f), Zp("bz", type, 5), Scalar("ys", 0.1f), Zp("yz", type, 7) };
        var inputs = new List<OnnxValueInfo> { Value("a", type, 1, 64, 128, 128) };
        if (perChannel)
        {
            var b = new byte[64];
            new Random(7).NextBytes(b);
            inits.Add(Init("b", type, [1, 64, 1, 1], b));
        }
        else inputs.Add(Value("b", type, 1, 64, 128, 128));
        return MsModel(MsNode("op", op, ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"]), inputs,
            [Value("y", type, 1, 64, 128, 128)], inits);
    }

    private static OnnxModel AveragePool(TensorElementType type, int c, int hw, int kernel, int stride, int pad)
    {
        var o = (hw + 2 * pad - kernel) / stride + 1;
        return MsModel(
            MsNode("op", "QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], OnnxAttribute.Of("kernel_shape", new long[] { kernel, kernel }),
                OnnxAttribute.Of("strides", new long[] { stride, stride }), OnnxAttribute.Of("pads", new long[] { pad, pad, pad, pad }),
                OnnxAttribute.Of("count_include_pad", pad > 0 ? 1L : 0L)),
            [Value("x", type, 1, c, hw, hw)], [Value("y", type, 1, c, o, o)],
            [Scalar("xs", 0.05f), Zp("xz", type, 3), Scalar("ys", 0.04f), Zp("yz", type, 9)]);
    }

    private static OnnxModel GlobalPool(int c, int hw) =>
        MsModel(MsNode("op", "QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"]),
            [Value("x", U8, 1, c, hw, hw)], [Value("y", U8, 1, c, 1, 1)],
            [Scalar("xs", 0.05f), Zp("xz", U8, 128), Scalar("ys", 0.05f), Zp("yz", U8, 128)]);

    // ---- GEMMs ----

    /// <summary>u8 [m,k] × s8 [k,n] weights in [−64, 63] (the u8×s8 saturation bound), to int32 or requantized to u8.</summary>
    private static OnnxModel MatMul(int m, int k, int n, bool qlinear)
    {
        var random = new Random(1);
        var w = Weights(random, k * n);
        if (!qlinear)
            return Model([Node("op", "MatMulInteger", ["x", "w"], ["y"])], [Value("x", U8, m, k)], [Value("y", S32, m, n)],
                [Init("w", S8, [k, n], w)]);
        return Model(
            [Node("op", "QLinearMatMul", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])],
            [Value("x", U8, m, k)], [Value("y", U8, m, n)],
            [Init("w", S8, [k, n], w), Scalar("xs", 0.02f), Zp("xz", U8, 128), Scalar("ws", 0.01f), Zp("wz", S8, 0),
             Scalar("ys", 0.5f), Zp("yz", U8, 128)]);
    }

    /// <summary>u8 [m,k] × u8 [k,n] with both operands computed (attention-like): B is packed on every run.</summary>
    private static OnnxModel MatMulDynamic(int m, int k, int n) =>
        Model([Node("op", "MatMulInteger", ["a", "b"], ["y"])], [Value("a", U8, m, k), Value("b", U8, k, n)], [Value("y", S32, m, n)]);

    /// <summary>3×3, pad 1, stride 1 convolution of u8 [1,c,hw,hw] to m channels (group 1 or depthwise).</summary>
    private static OnnxModel Conv(int c, int m, int hw, int group, bool qlinear)
    {
        var random = new Random(2);
        var w = Weights(random, m * (c / group) * 9);
        int[] wShape = [m, c / group, 3, 3];
        OnnxAttribute[] attrs = [OnnxAttribute.Of("kernel_shape", [3L, 3L]), OnnxAttribute.Of("pads", [1L, 1L, 1L, 1L]),
            OnnxAttribute.Of("group", (long)group)];
        if (!qlinear)
            return Model([Node("op", "ConvInteger", ["x", "w"], ["y"], attrs)], [Value("x", U8, 1, c, hw, hw)],
                [Value("y", S32, 1, m, hw, hw)], [Init("w", S8, wShape, w)]);
        var bias = Enumerable.Range(0, m).Select(i => (i * 37 % 201) - 100).ToArray();
        return Model(
            [Node("op", "QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], attrs)],
            [Value("x", U8, 1, c, hw, hw)], [Value("y", U8, 1, m, hw, hw)],
            [Init("w", S8, wShape, w), Scalar("xs", 0.02f), Zp("xz", U8, 128), Scalar("ws", 0.01f), Zp("wz", S8, 0),
             Scalar("ys", 0.5f), Zp("yz", U8, 128), new OnnxTensor("b", Tensor.Create<int>(S32, [m], bias))]);
    }

    /// <summary>A fully connected layer as a 1×1 QLinearConv on [1,c,1,1] (as the genesis MLP has them): one output position.</summary>
    private static OnnxModel FullyConnected(int c, int m)
    {
        var w = Weights(new Random(5), m * c);
        return Model(
            [Node("op", "QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], OnnxAttribute.Of("kernel_shape", [1L, 1L]))],
            [Value("x", U8, 1, c, 1, 1)], [Value("y", U8, 1, m, 1, 1)],
            [Init("w", S8, [m, c, 1, 1], w), Scalar("xs", 0.02f), Zp("xz", U8, 128), Scalar("ws", 0.01f), Zp("wz", S8, 0),
             Scalar("ys", 0.5f), Zp("yz", U8, 128)]);
    }

    private static byte[] Weights(Random random, int count)
    {
        var w = new byte[count];
        for (var i = 0; i < count; i++) w[i] = unchecked((byte)(sbyte)random.Next(-64, 64));
        return w;
    }

    // ---- pooling ----

    private static OnnxModel MaxPool(TensorElementType type, int c, int hw, int kernel, int stride, int pad)
    {
        var o = (hw + 2 * pad - kernel) / stride + 1;
        return Model(
            [Node("op", "MaxPool", ["x"], ["y"], OnnxAttribute.Of("kernel_shape", new long[] { kernel, kernel }),
                OnnxAttribute.Of("strides", new long[] { stride, stride }), OnnxAttribute.Of("pads", new long[] { pad, pad, pad, pad }))],
            [Value("x", type, 1, c, hw, hw)], [Value("y", type, 1, c, o, o)]);
    }

    // ---- element-wise ----

    /// <summary>
    /// The input widened to [1024,1024] by concatenating copies of it (graph inputs carry at most 1 MiB),
    /// then <paramref name="count"/> same-shape ops each taking the previous result and the widened input.
    /// </summary>
    private static OnnxModel Chain(TensorElementType type, string op, int count)
    {
        var (nodes, x, input) = Widened(type);
        var previous = x;
        for (var i = 0; i < count; i++)
        {
            nodes.Add(Node($"op{i}", op, [previous, x], [$"t{i}"]));
            previous = $"t{i}";
        }
        nodes.Add(SinkRow(previous, "y"));
        return Model(nodes, [input], [Value("y", type, 1, 1024)], [SinkIndex()]);
    }

    /// <summary><paramref name="op"/> (Clip with no bounds, or Relu) applied 4 times to a [1024,1024] tensor.</summary>
    private static OnnxModel Unary(TensorElementType type, string op)
    {
        var (nodes, x, input) = Widened(type);
        var previous = x;
        for (var i = 0; i < 4; i++)
        {
            nodes.Add(Node($"op{i}", op, [previous], [$"t{i}"]));
            previous = $"t{i}";
        }
        nodes.Add(SinkRow(previous, "y"));
        return Model(nodes, [input], [Value("y", type, 1, 1024)], [SinkIndex()]);
    }

    private static OnnxModel ClipRelu()
    {
        var nodes = new List<OnnxNode>
        {
            Node("op0", "Clip", ["x", "lo", "hi"], ["t0"]),
            Node("op1", "Relu", ["t0"], ["t1"]),
            Node("op2", "Clip", ["t1", "lo", "hi"], ["t2"]),
            Node("op3", "Relu", ["t2"], ["t3"]),
            SinkRow("t3", "y"),
        };
        return Model(nodes, [Value("x", S8, 1024, 1024)], [Value("y", S8, 1, 1024)],
            [Init("lo", S8, [], [unchecked((byte)-100)]), Init("hi", S8, [], [100]), SinkIndex()]);
    }

    /// <summary>[1024,1] op [1,1024]: the outer broadcast, one op, then a row of it.</summary>
    private static OnnxModel Outer(TensorElementType type, string op) =>
        Model([Node("op", op, ["a", "b"], ["t"]), SinkRow("t", "y")],
            [Value("a", type, 1024, 1), Value("b", type, 1, 1024)], [Value("y", type, 1, 1024)], [SinkIndex()]);

    /// <summary>A per-channel bias added <paramref name="count"/> times to int32 [1,64,64,64].</summary>
    private static OnnxModel ChannelBias(int count)
    {
        var nodes = new List<OnnxNode>();
        var previous = "x";
        for (var i = 0; i < count; i++)
        {
            nodes.Add(Node($"op{i}", "Add", [previous, "b"], [$"t{i}"]));
            previous = $"t{i}";
        }
        nodes.Add(Node("sink", "Gather", [previous, "sink_index"], ["y"], OnnxAttribute.Of("axis", 1L)));
        var bias = Enumerable.Range(0, 64).Select(i => i * 1000 - 7).ToArray();
        return Model(nodes, [Value("x", S32, 1, 64, 64, 64)], [Value("y", S32, 1, 1, 64, 64)],
            [new OnnxTensor("b", Tensor.Create<int>(S32, [1, 64, 1, 1], bias)), SinkIndex()]);
    }

    // ---- casts and quantization ----

    private static OnnxModel Casts(TensorElementType from, TensorElementType[] chain)
    {
        var nodes = new List<OnnxNode>();
        var previous = "x";
        for (var i = 0; i < chain.Length; i++)
        {
            nodes.Add(Node($"op{i}", "Cast", [previous], [$"t{i}"], OnnxAttribute.Of("to", (long)chain[i])));
            previous = $"t{i}";
        }
        nodes.Add(SinkRow(previous, "y"));
        return Model(nodes, [Value("x", from, 1024, 1024)], [Value("y", chain[^1], 1, 1024)], [SinkIndex()]);
    }

    private static OnnxModel Quantize(bool perAxis)
    {
        if (!perAxis)
        {
            var (nodes, x, input) = Widened(S32);
            nodes.Add(Node("op", "QuantizeLinear", [x, "s", "z"], ["t"]));
            nodes.Add(SinkRow("t", "y"));
            return Model(nodes, [input], [Value("y", U8, 1, 1024)], [Scalar("s", 1.7e7f), Zp("z", U8, 128), SinkIndex()]);
        }
        var scales = Enumerable.Range(0, 64).Select(i => 1e7f + i * 1e6f).ToArray();
        return Model(
            [Node("op", "QuantizeLinear", ["x", "s", "z"], ["t"], OnnxAttribute.Of("axis", 1L)),
             Node("sink", "Gather", ["t", "sink_index"], ["y"], OnnxAttribute.Of("axis", 1L))],
            [Value("x", S32, 1, 64, 64, 64)], [Value("y", S8, 1, 1, 64, 64)],
            [new OnnxTensor("s", Tensor.Create<float>(F32, [64], scales)),
             new OnnxTensor("z", Tensor.Create<sbyte>(S8, [64], new sbyte[64])), SinkIndex()]);
    }

    /// <summary>DequantizeLinear may only produce a graph output, so this one returns its 4 MiB of float32.</summary>
    private static OnnxModel Dequantize() =>
        Model([Node("op", "DequantizeLinear", ["x", "s", "z"], ["y"])], [Value("x", U8, 1024, 1024)], [Value("y", F32, 1024, 1024)],
            [Scalar("s", 0.05f), Zp("z", U8, 128)]);

    // ---- copies ----

    private static OnnxModel Reshapes(TensorElementType type, int count)
    {
        var (nodes, x, input) = Widened(type);
        var previous = x;
        for (var i = 0; i < count; i++)
        {
            nodes.Add(Node($"op{i}", "Reshape", [previous, i % 2 == 0 ? "flat" : "square"], [$"t{i}"]));
            previous = $"t{i}";
        }
        if (count % 2 == 1) nodes.Add(Node("sink_square", "Reshape", [previous, "square"], [previous = "ts"]));
        nodes.Add(SinkRow(previous, "y"));
        return Model(nodes, [input], [Value("y", type, 1, 1024)],
            [Ints64("flat", [1024 * 1024]), Ints64("square", [1024, 1024]), SinkIndex()]);
    }

    private static OnnxModel FlattenIdentity()
    {
        var nodes = new List<OnnxNode>
        {
            Node("op0", "Flatten", ["x"], ["t0"], OnnxAttribute.Of("axis", 2L)),
            Node("op1", "Identity", ["t0"], ["t1"]),
            Node("op2", "Flatten", ["t1"], ["t2"], OnnxAttribute.Of("axis", 1L)),
            Node("op3", "Identity", ["t2"], ["t3"]),
            SinkRow("t3", "y"),
        };
        return Model(nodes, [Value("x", S32, 1, 64, 64, 64)], [Value("y", S32, 1, 4096)], [SinkIndex()]);
    }

    private static OnnxModel ConcatModel() =>
        Model([Node("op", "Concat", Enumerable.Repeat("x", 8).ToArray(), ["t"], OnnxAttribute.Of("axis", 0L)), SinkRow("t", "y")],
            [Value("x", S64, 128, 1024)], [Value("y", S64, 1, 1024)], [SinkIndex()]);

    // ---- index-driven copies ----

    private static OnnxModel Transpose(TensorElementType type) =>
        Model([Node("op", "Transpose", ["x"], ["t"], OnnxAttribute.Of("perm", [0L, 2L, 3L, 1L])),
               Node("sink", "Gather", ["t", "sink_index"], ["y"], OnnxAttribute.Of("axis", 1L))],
            [Value("x", type, 1, 64, 64, 64)], [Value("y", type, 1, 1, 64, 64)], [SinkIndex()]);

    /// <summary>
    /// A u8 lookup table indexed element by element (a table-driven activation). The indices are a constant:
    /// admission wants graph-computed indices provably in range, and a Cast u8→int32 before the Gather would
    /// be a second kind in the measured time.
    /// </summary>
    private static OnnxModel Lut()
    {
        var random = new Random(4);
        var table = Enumerable.Range(0, 256).Select(i => (byte)(255 - i)).ToArray();
        var indices = Enumerable.Range(0, 512 * 1024).Select(_ => random.Next(256)).ToArray();
        return Model([Node("op", "Gather", ["lut", "i"], ["t"]), SinkRow("t", "y")],
            [], [Value("y", U8, 1, 1024)],
            [Init("lut", U8, [256], table), new OnnxTensor("i", Tensor.Create<int>(S32, [512, 1024], indices)), SinkIndex()]);
    }

    /// <summary>Embedding rows: 1024 constant indices, each copying a row of 256 bytes.</summary>
    private static OnnxModel Rows()
    {
        var random = new Random(3);
        var table = new byte[1000 * 256];
        random.NextBytes(table);
        var indices = Enumerable.Range(0, 1024).Select(_ => (long)random.Next(1000)).ToArray();
        return Model([Node("op", "Gather", ["table", "i"], ["t"]), SinkRow("t", "y")],
            [], [Value("y", S8, 1, 256)],
            [Init("table", S8, [1000, 256], table), new OnnxTensor("i", Tensor.Create<long>(S64, [1024], indices)), SinkIndex()]);
    }

    // ---- reductions ----

    private static OnnxModel ArgMax(TensorElementType type, int[] shape, int axis)
    {
        var outShape = shape.Select((d, i) => i == axis ? 1L : d).ToArray();
        return Model([Node("op", "ArgMax", ["x"], ["y"], OnnxAttribute.Of("axis", (long)axis))],
            [Value("x", type, shape.Select(d => (long)d).ToArray())], [Value("y", S64, outShape)]);
    }

    // ---- helpers ----

    /// <summary>
    /// A [1024,1024] tensor of <paramref name="type"/> from a graph input of at most 1 MiB: the input itself
    /// for 1-byte types, else Concat of copies of a [1024/w,1024] input along axis 0 (a block copy).
    /// </summary>
    private static (List<OnnxNode> Nodes, string Name, OnnxValueInfo Input) Widened(TensorElementType type)
    {
        var size = TensorElementTypes.SizeOf(type);
        if (size == 1) return ([], "x", Value("x", type, 1024, 1024));
        return ([Node("prep", "Concat", Enumerable.Repeat("x", size).ToArray(), ["wide"], OnnxAttribute.Of("axis", 0L))], "wide",
            Value("x", type, 1024 / size, 1024));
    }

    /// <summary>Row 0 of a [1024,…] tensor: the output shrunk so that copying it out costs nothing to speak of.</summary>
    private static OnnxNode SinkRow(string input, string output) => Node("sink", "Gather", [input, "sink_index"], [output]);

    private static OnnxTensor SinkIndex() => new("sink_index", Tensor.Create<long>(S64, [1], [0L]));

    private static OnnxValueInfo Value(string name, TensorElementType type, params long[] shape) =>
        new(name, (int)type, shape.Select(OnnxDim.Fixed).ToArray());

    private static OnnxNode Node(string name, string op, string[] inputs, string[] outputs, params OnnxAttribute[] attributes) =>
        new(name, op, "", inputs, outputs, attributes);

    private static OnnxTensor Init(string name, TensorElementType type, int[] shape, byte[] data) => new(name, Tensor.Create(type, shape, data));

    private static OnnxTensor Ints64(string name, long[] values) => new(name, Tensor.Create<long>(S64, [values.Length], values));

    private static OnnxTensor Scalar(string name, float value) => new(name, Tensor.Create<float>(F32, [], [value]));

    private static OnnxTensor Zp(string name, TensorElementType type, int value) => Init(name, type, [], [unchecked((byte)value)]);

    private static OnnxModel Model(IEnumerable<OnnxNode> nodes, IEnumerable<OnnxValueInfo> inputs, IEnumerable<OnnxValueInfo> outputs,
        IEnumerable<OnnxTensor>? initializers = null) =>
        new(9, [new OpsetImport("", 17)],
            new OnnxGraph("gas-bench", nodes.ToArray(), (initializers ?? []).ToArray(), inputs.ToArray(), outputs.ToArray(), []),
            "chain-bench-gas", "1");
}
