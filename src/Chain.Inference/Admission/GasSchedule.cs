namespace Chain.Inference.Admission;

/// <summary>The cost classes of the gas schedule: ops whose canonical kernels cost about the same per unit of work.</summary>
public enum GasKind
{
    /// <summary>MatMulInteger, ConvInteger: int8 GEMM, per multiply-accumulate (plus the operand terms).</summary>
    Gemm,
    /// <summary>QLinearMatMul, QLinearConv: GEMM plus float32 requantization of every output element.</summary>
    GemmRequantize,
    /// <summary>MaxPool: per window comparison and output element.</summary>
    Pool,
    /// <summary>Add, Mul, Max with every operand already of the output's shape (or a scalar).</summary>
    Elementwise,
    /// <summary>Add, Mul, Max with an operand broadcast along some axis (index arithmetic per element).</summary>
    ElementwiseBroadcast,
    /// <summary>Cast: byte-wise widening or narrowing per element.</summary>
    Cast,
    /// <summary>QuantizeLinear, DequantizeLinear: one float32 division or multiplication per element.</summary>
    Quantize,
    /// <summary>Reshape, Flatten, Identity, Concat: block copies, per byte read and written.</summary>
    Copy,
    /// <summary>Transpose (per element read and written), Gather (per index: read it, copy its slice).</summary>
    Gather,
    /// <summary>ArgMax: one comparison per input element; QLinearGlobalAveragePool: one integer addition per input element.</summary>
    Reduce,
    /// <summary>Clip, Relu: a compare-and-select per element (the canonical kernel is slower per element than Add's).</summary>
    Clamp,
    /// <summary>QLinearAdd, QLinearMul (com.microsoft): float32 requantization of every output element.</summary>
    QLinearElementwise,
    /// <summary>QLinearAveragePool (com.microsoft): a float32 addition per window position, a division and requantization per output.</summary>
    AveragePool,
}

/// <summary>
/// The gas one inference costs (docs/onnx-subset.md, "Cost and gas"), in one place: a consensus rule. Each
/// node's work is counted in units by its <see cref="GasKind"/> — per multiply-accumulate for GEMMs, per window
/// comparison for pooling, per byte for block copies, per element read and written otherwise — weighted so that
/// one unit takes about the same time for every kind; GEMMs add what their operands cost beside the MACs
/// (<see cref="GemmStreamWeight"/>, <see cref="GemmPackWeight"/>, <see cref="RequantizeWeight"/>) and Gather
/// the bytes it copies. `chain bench gas` measures nanoseconds per gas for every kind and their spread; the
/// weights below were calibrated with it. The planned arena is charged too, since each run touches it.
/// <code>gas = GasBase + ceil(Σ work / WorkPerGas) + ceil(arenaBytes / ArenaBytesPerGas)</code>
/// </summary>
public static class GasSchedule
{
    public const long GasBase = 1_000;

    /// <summary>Work units (milli-units, so weights can be fractions of one MAC) per gas.</summary>
    public const long WorkPerGas = 1_000_000;

    /// <summary>Arena bytes per gas: each run zeroes and walks its planned outputs and scratch.</summary>
    public const long ArenaBytesPerGas = 4_096;

    /// <summary>Milli-units per unit of work of each kind (per MAC, comparison, byte or element; see <see cref="Classify"/>).</summary>
    public static long Weight(GasKind kind) => kind switch
    {
        GasKind.Gemm => 1_000,
        GasKind.GemmRequantize => 1_000,
        GasKind.Pool => 130_000,
        GasKind.Elementwise => 22_000,
        GasKind.ElementwiseBroadcast => 160_000,
        GasKind.Cast => 200_000,
        GasKind.Quantize => 150_000,
        GasKind.Copy => 2_000,
        GasKind.Gather => 125_000,
        GasKind.Reduce => 90_000,
        GasKind.Clamp => 55_000,
        GasKind.QLinearElementwise => 16_000,
        GasKind.AveragePool => 90_000,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Milli-units per output element of the requantizing GEMMs (rounding, clamping, zero point).</summary>
    public const long RequantizeWeight = 100_000;

    /// <summary>
    /// Milli-units per element of a GEMM operand the kernel streams once per row of the output: the B of a
    /// MatMul (batch·K·N = MACs/M elements) and the weights of a convolution with one output position
    /// (a fully connected layer as a convolution: M·K per image = MACs). It is what makes a matrix-vector
    /// product (M = 1) cost what it takes: there every weight read serves one MAC.
    /// </summary>
    public const long GemmStreamWeight = 3_000;

    /// <summary>
    /// Milli-units per element of a GEMM operand built and packed on every run: a convolution's patch
    /// matrix (im2col, N·group·K·positions = MACs/(M/group) elements), and a MatMul B or one-position
    /// convolution's weights that are not constant initializers (constant ones are packed once per model).
    /// </summary>
    public const long GemmPackWeight = 150_000;

    /// <summary>
    /// The kind of a node and its units of work: MACs (GEMMs, convolutions); window comparisons plus output
    /// elements (MaxPool, comparisons counted in <paramref name="macs"/> by admission); bytes read plus written
    /// (Reshape, Flatten, Identity, Concat); two per index (Gather: the index read, its slice written, whose
    /// bytes <see cref="NodeWork"/> adds at the Copy weight); elements read plus written otherwise.
    /// </summary>
    public static (GasKind Kind, long Units) Classify(string opType, IReadOnlyList<TensorInfo?> inputs, TensorInfo output, long macs)
    {
        long read = 0;
        var broadcast = false;
        foreach (var i in inputs)
        {
            if (i is null) continue;
            read += i.ElementCount;
            if (i.ElementCount != 1 && !i.Shape.AsSpan().SequenceEqual(output.Shape)) broadcast = true;
        }
        var written = output.ElementCount;
        long size = TensorElementTypes.SizeOf(output.ElementType);
        return opType switch
        {
            "MatMulInteger" or "ConvInteger" => (GasKind.Gemm, macs),
            "QLinearMatMul" or "QLinearConv" => (GasKind.GemmRequantize, macs),
            "MaxPool" => (GasKind.Pool, macs + written),
            "Add" or "Mul" or "Max" => (broadcast ? GasKind.ElementwiseBroadcast : GasKind.Elementwise, read + written),
            "Clip" or "Relu" => (GasKind.Clamp, read + written),
            "Cast" => (GasKind.Cast, read + written),
            "QuantizeLinear" or "DequantizeLinear" => (GasKind.Quantize, inputs[0]!.ElementCount + written),
            "Concat" => (GasKind.Copy, Saturating(read + written, size)),
            "Reshape" or "Flatten" or "Identity" => (GasKind.Copy, Saturating(inputs[0]!.ElementCount + written, size)),
            "Transpose" => (GasKind.Gather, read + written),
            "Gather" => (GasKind.Gather, 2 * (inputs.Count > 1 && inputs[1] is { } idx ? idx.ElementCount : 0)),
            "ArgMax" => (GasKind.Reduce, read + written),
            "QLinearAdd" or "QLinearMul" => (GasKind.QLinearElementwise, read + written),
            "QLinearAveragePool" => (GasKind.AveragePool, macs + written),
            "QLinearGlobalAveragePool" => (GasKind.Reduce, read + written),
            _ => throw new ArgumentOutOfRangeException(nameof(opType), opType, "no gas kind"),
        };
    }

    /// <summary>
    /// A node's work in milli-units, saturating (admission refuses anything near the limit anyway): its units
    /// times its kind's weight, plus for GEMMs the operand terms and the requantization, and for Gather the
    /// bytes it copies (read and written) at the Copy weight. <paramref name="constant"/> says, per input,
    /// whether it is a constant initializer; without it a GEMM's weight operand counts as constant only where
    /// admission proves it so (the s8 operand of a u8×s8 product, see the int16 saturation hazard), and
    /// otherwise as packed on every run.
    /// </summary>
    public static long NodeWork(string opType, IReadOnlyList<TensorInfo?> inputs, TensorInfo output, long macs,
        IReadOnlyList<bool>? constant = null)
    {
        var (kind, units) = Classify(opType, inputs, output, macs);
        var work = Saturating(units, Weight(kind));
        if (kind is GasKind.Gemm or GasKind.GemmRequantize) work = SaturatingAdd(work, OperandWork(opType, inputs, output, macs, constant));
        if (kind == GasKind.GemmRequantize) work = SaturatingAdd(work, Saturating(output.ElementCount, RequantizeWeight));
        if (opType == "Gather")
        {
            var bytes = Saturating(output.ElementCount, TensorElementTypes.SizeOf(output.ElementType));
            work = SaturatingAdd(work, Saturating(Saturating(bytes, 2), Weight(GasKind.Copy)));
        }
        return work;
    }

    /// <summary>The operand terms of a GEMM node (<see cref="GemmStreamWeight"/>, <see cref="GemmPackWeight"/>).</summary>
    private static long OperandWork(string opType, IReadOnlyList<TensorInfo?> inputs, TensorInfo output, long macs,
        IReadOnlyList<bool>? constant)
    {
        if (macs <= 0) return 0;
        var weightIndex = opType is "QLinearMatMul" or "QLinearConv" ? 3 : 1;
        if (inputs.Count <= weightIndex || inputs[0] is not { } a || inputs[weightIndex] is not { } b) return 0;
        var constantWeights = constant is not null && weightIndex < constant.Count
            ? constant[weightIndex]
            : a.ElementType == TensorElementType.UInt8 && b.ElementType == TensorElementType.Int8;
        if (opType is "MatMulInteger" or "QLinearMatMul")
        {
            var rows = a.Rank >= 2 ? a.Shape[^2] : 1;
            var streamed = CeilDiv(macs, Math.Max(1, rows)); // batch·K·N: B once per row block
            var work = Saturating(streamed, GemmStreamWeight);
            return constantWeights ? work : SaturatingAdd(work, Saturating(streamed, GemmPackWeight));
        }
        // Convolution: X [N, C, …], W [M, C/group, k…].
        if (a.Rank < 3 || b.Rank != a.Rank || b.Shape[0] == 0 || b.Shape[1] == 0 || a.Shape[0] == 0) return 0;
        long images = a.Shape[0], maps = b.Shape[0], group = Math.Max(1, a.Shape[1] / b.Shape[1]);
        var perGroup = Math.Max(1, maps / group);
        var positions = output.ElementCount / (images * maps);
        if (positions > 1) return Saturating(CeilDiv(macs, perGroup), GemmPackWeight); // the patch matrix
        // One position: one GEMM row per image, streaming the weights (M·K per image, MACs in all).
        var one = Saturating(macs, GemmStreamWeight);
        return constantWeights ? one : SaturatingAdd(one, Saturating(CeilDiv(macs, images), GemmPackWeight));
    }

    /// <summary>The gas of one inference from its total work and planned arena.</summary>
    public static long Gas(long work, long arenaBytes) =>
        SaturatingAdd(GasBase, SaturatingAdd(CeilDiv(work, WorkPerGas), CeilDiv(arenaBytes, ArenaBytesPerGas)));

    private static long CeilDiv(long a, long b) => a / b + (a % b != 0 ? 1 : 0);

    private static long Saturating(long a, long b) => a != 0 && b > long.MaxValue / a ? long.MaxValue : a * b;

    internal static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
