namespace Chain.Inference.Kernels;

/// <summary>
/// The canonical kernels. Each takes already-decoded ONNX inputs and attributes, follows the ONNX
/// operator semantics, and throws <see cref="InferenceException"/> on anything outside them.
/// </summary>
public static partial class CanonicalOps
{
    private static readonly TensorElementType[] Int8Types = [TensorElementType.UInt8, TensorElementType.Int8];

    /// <summary>
    /// ONNX MatMulInteger: numpy-matmul of u8/s8 A and B (N-D, batch dimensions broadcast, 1-D operands
    /// promoted and their dimension dropped) with zero points subtracted, int32 output.
    /// aZeroPoint: scalar or 1-D of M (per row); bZeroPoint: scalar or 1-D of N (per column).
    /// </summary>
    public static Tensor MatMulInteger(Tensor a, Tensor b, Tensor? aZeroPoint = null, Tensor? bZeroPoint = null)
    {
        const string op = "MatMulInteger";
        var g = MatMulGeometry.Of(op, a, b);
        var za = ZeroPoints(op, "a_zero_point", a, aZeroPoint, g.M, "per row");
        var zb = ZeroPoints(op, "b_zero_point", b, bZeroPoint, g.N, "per column");
        // The int32 result is computed in place in the output tensor (no copy).
        var result = KernelMemory.Output<int>(TensorElementType.Int32, g.OutShape, out var c);
        MatMulAccumulate(g, a, b, za, zb, c);
        return result;
    }

    /// <summary>
    /// ONNX QLinearMatMul with the chain's requantization: acc as MatMulInteger, then
    /// y = saturate(roundHalfToEven(float32(acc) · m) + y_zp), m = float32(float32(a_s·b_s)/y_s).
    /// a_scale/a_zero_point and y_scale/y_zero_point: scalar or 1-D of M; b_scale/b_zero_point: scalar or 1-D of N.
    /// Output type is y_zero_point's (uint8 or int8).
    /// </summary>
    public static Tensor QLinearMatMul(Tensor a, Tensor aScale, Tensor aZeroPoint, Tensor b, Tensor bScale,
        Tensor bZeroPoint, Tensor yScale, Tensor yZeroPoint)
    {
        const string op = "QLinearMatMul";
        var g = MatMulGeometry.Of(op, a, b);
        var za = ZeroPoints(op, "a_zero_point", a, aZeroPoint, g.M, "per row");
        var zb = ZeroPoints(op, "b_zero_point", b, bZeroPoint, g.N, "per column");
        KernelArgs.RequireType(op, "y_zero_point", yZeroPoint, Int8Types);
        var yzp = KernelArgs.Expand(op, "y_zero_point", yZeroPoint, KernelArgs.Ints(yZeroPoint), g.M, "per row");
        var sa = KernelArgs.Expand(op, "a_scale", aScale, KernelArgs.Scales(op, "a_scale", aScale), g.M, "per row");
        var sb = KernelArgs.Expand(op, "b_scale", bScale, KernelArgs.Scales(op, "b_scale", bScale), g.N, "per column");
        var sy = KernelArgs.Expand(op, "y_scale", yScale, KernelArgs.Scales(op, "y_scale", yScale), g.M, "per row");
        var (qmin, qmax) = KernelArgs.Range(yZeroPoint.ElementType);
        var result = KernelMemory.Output(yZeroPoint.ElementType, g.OutShape, out var y);
        if (g.BatchCount * g.M * g.N == 0) return result; // no output element: no scale is read
        var mark = KernelMemory.Mark();
        var acc = KernelMemory.Scratch<int>(g.BatchCount * g.M * g.N);
        MatMulAccumulate(g, a, b, za, zb, acc);

        var perTensor = aScale.ElementCount == 1 && bScale.ElementCount == 1 && yScale.ElementCount == 1;
        var m0 = CheckedMultiplier(op, sa[0], sb[0], sy[0]);
        var rows = acc.Length / Math.Max(1, g.N) / Math.Max(1, g.M);
        var simd = KernelOptions.Current != GemmPath.Scalar;
        for (var batch = 0; batch < rows; batch++)
        for (var i = 0; i < g.M; i++)
        {
            var row = (int)(((long)batch * g.M + i) * g.N);
            if (perTensor)
            {
                // One multiplier for the row: the vector requantization, proven byte-identical to Apply.
                Requantize.Run(acc.Slice(row, g.N), 0, m0, yzp[i], qmin, qmax, y.Slice(row, g.N), simd);
                continue;
            }
            for (var j = 0; j < g.N; j++)
                y[row + j] = (byte)Requantize.Apply(acc[row + j], CheckedMultiplier(op, sa[i], sb[j], sy[i]), yzp[i], qmin, qmax);
        }
        KernelMemory.Release(mark);
        return result;
    }

    internal static float CheckedMultiplier(string op, float aScale, float bScale, float yScale)
    {
        var m = Requantize.Multiplier(aScale, bScale, yScale);
        if (!float.IsFinite(m))
            throw new InferenceException(op, $"requantization multiplier {aScale}·{bScale}/{yScale} is not finite");
        return m;
    }

    /// <summary>Canonical zero points (A: +128 when int8; B: −128 when uint8), expanded to one per row/column.</summary>
    private static int[] ZeroPoints(string op, string name, Tensor x, Tensor? zp, int length, string what)
    {
        int[] raw;
        if (zp is null) raw = new int[length];
        else
        {
            if (zp.ElementType != x.ElementType)
                throw new InferenceException(op, $"{name} has type {TensorElementTypes.Name(zp.ElementType)} but its input is {TensorElementTypes.Name(x.ElementType)}");
            raw = KernelArgs.Expand(op, name, zp, KernelArgs.Ints(zp), length, what);
        }
        return raw;
    }

    /// <summary>Shapes of a numpy matmul, resolved once.</summary>
    private sealed class MatMulGeometry
    {
        public int M, K, N;
        public int[] OutShape = [];
        public int[] OutBatch = [];
        public long[] ABatchStrides = [], BBatchStrides = []; // in matrices, 0 where broadcast
        public long BatchCount, ABatchCount, BBatchCount;

        public static MatMulGeometry Of(string op, Tensor a, Tensor b)
        {
            KernelArgs.RequireType(op, "A", a, Int8Types);
            KernelArgs.RequireType(op, "B", b, Int8Types);
            if (a.Rank == 0 || b.Rank == 0) throw new InferenceException(op, "operands must have rank ≥ 1");
            var aShape = a.Rank == 1 ? new[] { 1, a.Shape[0] } : a.Shape.ToArray();
            var bShape = b.Rank == 1 ? new[] { b.Shape[0], 1 } : b.Shape.ToArray();
            var g = new MatMulGeometry { M = aShape[^2], K = aShape[^1], N = bShape[^1] };
            if (bShape[^2] != g.K)
                throw new InferenceException(op, $"inner dimensions differ: A {a.ShapeText}, B {b.ShapeText}");
            var aBatch = aShape[..^2];
            var bBatch = bShape[..^2];
            g.OutBatch = KernelArgs.Broadcast(op, aBatch, bBatch);
            g.ABatchStrides = KernelArgs.BroadcastStrides(aBatch, g.OutBatch);
            g.BBatchStrides = KernelArgs.BroadcastStrides(bBatch, g.OutBatch);
            g.BatchCount = KernelArgs.Product(g.OutBatch);
            g.ABatchCount = KernelArgs.Product(aBatch);
            g.BBatchCount = KernelArgs.Product(bBatch);
            var shape = new List<int>(g.OutBatch);
            if (a.Rank != 1) shape.Add(g.M);
            if (b.Rank != 1) shape.Add(g.N);
            g.OutShape = shape.ToArray();
            KernelArgs.CheckedCount(op, g.BatchCount * g.M * g.N);
            return g;
        }
    }

    /// <summary>The int32 accumulators of every output element, into <paramref name="c"/>.</summary>
    private static void MatMulAccumulate(MatMulGeometry g, Tensor a, Tensor b, int[] zaRaw, int[] zbRaw, Span<int> c)
    {
        var path = KernelOptions.Current;
        bool aSigned = a.ElementType == TensorElementType.Int8, bSigned = b.ElementType == TensorElementType.Int8;
        var za = zaRaw.Select(z => aSigned ? z + 128 : z).ToArray();
        var zb = zbRaw.Select(z => bSigned ? z : z - 128).ToArray();
        int m = g.M, n = g.N, k = g.K;
        if (c.Length == 0) return;
        var aData = a.Data;
        var mark = KernelMemory.Mark();
        if (g.BBatchCount == 1)
        {
            // One B for every batch: pack it once and run the batches as one tall GEMM (A's matrices
            // are contiguous and in output order, because only B could have been broadcast).
            var packed = PackedWeightCache.Get(b, 0, bSigned, k, n, n, 1, path);
            if (g.ABatchCount == g.BatchCount)
            {
                var rows = (int)(g.BatchCount * m);
                var zaAll = KernelMemory.Scratch<int>(rows);
                for (var r = 0; r < rows; r++) zaAll[r] = za[r % m];
                Int8Gemm.Multiply(rows, aData, k, aSigned, zaAll, packed, zb, c);
            }
            else
            {
                // A broadcast along a batch dimension of B that is 1: A is a single matrix repeated.
                for (long ob = 0; ob < g.BatchCount; ob++)
                    Int8Gemm.Multiply(m, aData.Slice((int)(Offset(ob, g.OutBatch, g.ABatchStrides) * m * k), m * k), k, aSigned, za,
                        packed, zb, c.Slice((int)(ob * m * n), m * n));
            }
            KernelMemory.Release(mark);
            return;
        }

        for (long ob = 0; ob < g.BatchCount; ob++)
        {
            // Constant B matrices are packed once and cached; an activation's is packed into scratch per batch.
            var bo = Offset(ob, g.OutBatch, g.BBatchStrides);
            var packed = PackedWeightCache.Get(b, (int)(bo * k * n), bSigned, k, n, n, 1, path);
            var ao = Offset(ob, g.OutBatch, g.ABatchStrides);
            Int8Gemm.Multiply(m, aData.Slice((int)(ao * m * k), m * k), k, aSigned, za, packed, zb,
                c.Slice((int)(ob * m * n), m * n));
            KernelMemory.Release(mark);
        }
    }

    /// <summary>
    /// Scratch a planned MatMulInteger/QLinearMatMul takes besides its output: the int32 accumulators when
    /// requantizing, one packed B, the per-row zero points of the tall GEMM, and the GEMM's own scratch.
    /// </summary>
    internal static long MatMulScratchBytes(long batch, int m, int k, int n, bool requantize)
    {
        static long Align(long v) => (v + 63) & ~63L;
        var rows = (int)Math.Min(int.MaxValue, batch * m);
        return (requantize ? Align(batch * m * n * sizeof(int)) : 0) + PackedB.MaxStorageBytes(k, n) +
               Align((long)rows * sizeof(int)) + Int8Gemm.ScratchBytes(rows, k);
    }

    /// <summary>Linear index in an operand of the output batch index <paramref name="flat"/>.</summary>
    private static long Offset(long flat, int[] outShape, long[] strides)
    {
        long off = 0;
        for (var d = outShape.Length - 1; d >= 0; d--)
        {
            var i = flat % outShape[d];
            flat /= outShape[d];
            off += i * strides[d];
        }
        return off;
    }
}
