using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Chain.Inference.Kernels;

/// <summary>
/// B (K×N) of an int8 GEMM in canonical signed form (b−128 for uint8 sources, so every path multiplies
/// u8×s8), laid out once per call for the chosen path.
/// </summary>
internal sealed class PackedB
{
    /// <summary>Columns per panel of the SIMD layouts (two 8-lane int32 vectors).</summary>
    public const int PanelWidth = 16;

    public int K { get; }
    public int N { get; }
    /// <summary>K rounded up to the path's step (4 for VNNI and sdot, 2 for pmaddwd and smlal); the padding is zero.</summary>
    public int Kp { get; }
    public GemmPath Path { get; }

    private readonly Memory<byte> _data;
    private readonly Memory<byte> _sums;

    /// <summary>Scalar: column-major N×K so the reference dot product walks memory linearly.</summary>
    public ReadOnlySpan<sbyte> Columns => Path == GemmPath.Scalar ? MemoryMarshal.Cast<byte, sbyte>(_data.Span) : default;
    /// <summary>VNNI and sdot: per panel, per 4-k group, 16 columns × 4 consecutive k bytes.</summary>
    public ReadOnlySpan<sbyte> Quads => IsQuadPath(Path) ? MemoryMarshal.Cast<byte, sbyte>(_data.Span) : default;
    /// <summary>pmaddwd and smlal: per panel, per 2-k group, 16 columns × 2 consecutive k int16 values.</summary>
    public ReadOnlySpan<short> Pairs => Path != GemmPath.Scalar && !IsQuadPath(Path) ? MemoryMarshal.Cast<byte, short>(_data.Span) : default;
    /// <summary>Σ_k b[k,n] (canonical), for the zero-point correction of the SIMD paths.</summary>
    public ReadOnlySpan<int> ColumnSums => MemoryMarshal.Cast<byte, int>(_sums.Span);

    public int Panels => (N + PanelWidth - 1) / PanelWidth;

    /// <summary>Whether <paramref name="path"/> multiplies 4-k byte groups (the quad layout) rather than int16 pairs.</summary>
    public static bool IsQuadPath(GemmPath path) => path is GemmPath.AvxVnni or GemmPath.AdvSimdDp;

    private static long DataBytes(int k, int n, GemmPath path)
    {
        long panels = (n + PanelWidth - 1) / PanelWidth;
        return path switch
        {
            GemmPath.Scalar => (long)n * k,
            GemmPath.AvxVnni or GemmPath.AdvSimdDp => panels * ((k + 3) & ~3) * PanelWidth,
            _ => panels * ((k + 1) & ~1) * PanelWidth * sizeof(short),
        };
    }

    /// <summary>
    /// Bytes a packing of K×N needs on any path (the plan cannot know the validator's CPU): the largest
    /// layout plus the column sums, each rounded to the scratch alignment.
    /// </summary>
    public static long MaxStorageBytes(int k, int n)
    {
        var data = Math.Max(DataBytes(k, n, GemmPath.Scalar), Math.Max(DataBytes(k, n, GemmPath.AvxVnni), DataBytes(k, n, GemmPath.Avx2)));
        return Align(data) + Align((long)n * sizeof(int));
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    /// <summary>
    /// Packs element (k, n) found at <c>src[k*strideK + n*strideN]</c>; <paramref name="signed"/> says
    /// whether the source bytes are int8 (else uint8, shifted by −128). The layout lives in fresh arrays,
    /// or in kernel scratch when <paramref name="scratch"/> (transient operands inside a planned run).
    /// </summary>
    public PackedB(ReadOnlySpan<byte> src, bool signed, int k, int n, int strideK, int strideN, GemmPath path, bool scratch = false)
    {
        K = k;
        N = n;
        Path = path;
        var flip = signed ? (byte)0 : (byte)0x80;
        var dataBytes = DataBytes(k, n, path);
        _data = scratch ? KernelMemory.Scratch(dataBytes) : new byte[dataBytes];
        _sums = scratch ? KernelMemory.Scratch((long)n * sizeof(int)) : new byte[(long)n * sizeof(int)];
        var columnSums = MemoryMarshal.Cast<byte, int>(_sums.Span);
        switch (path)
        {
            case GemmPath.Scalar:
            {
                Kp = k;
                var columns = MemoryMarshal.Cast<byte, sbyte>(_data.Span);
                for (var j = 0; j < n; j++)
                for (var i = 0; i < k; i++)
                    columns[j * k + i] = (sbyte)(src[i * strideK + j * strideN] ^ flip);
                break;
            }
            case GemmPath.AvxVnni or GemmPath.AdvSimdDp:
            {
                Kp = (k + 3) & ~3;
                var quads = MemoryMarshal.Cast<byte, sbyte>(_data.Span);
                if (strideN == 1 && Avx2.IsSupported)
                {
                    PackQuadsRowMajor(src, flip, k, n, strideK, Kp, quads, columnSums);
                    break;
                }
                for (var i = 0; i < k; i++)
                for (var j = 0; j < n; j++)
                {
                    var v = (sbyte)(src[i * strideK + j * strideN] ^ flip);
                    quads[(j >> 4) * Kp * PanelWidth + (i >> 2) * 64 + (j & 15) * 4 + (i & 3)] = v;
                    columnSums[j] += v;
                }
                break;
            }
            default:
            {
                Kp = (k + 1) & ~1;
                var pairs = MemoryMarshal.Cast<byte, short>(_data.Span);
                for (var i = 0; i < k; i++)
                for (var j = 0; j < n; j++)
                {
                    var v = (sbyte)(src[i * strideK + j * strideN] ^ flip);
                    pairs[(j >> 4) * Kp * PanelWidth + (i >> 1) * 32 + (j & 15) * 2 + (i & 1)] = v;
                    columnSums[j] += v;
                }
                break;
            }
        }
    }

    /// <summary>
    /// The VNNI layout from a row-major source (columns contiguous): each 4-k group of 16 columns is a 4×16
    /// byte transpose done with byte and word unpacks. Same bytes and column sums as the element loop.
    /// </summary>
    private static unsafe void PackQuadsRowMajor(ReadOnlySpan<byte> src, byte flip, int k, int n, int strideK, int kp,
        Span<sbyte> quads, Span<int> columnSums)
    {
        var fullPanels = n / PanelWidth;
        if (k > 0 && (long)(k - 1) * strideK + n > src.Length) throw new ArgumentException("B source too short");
        var vf = Vector128.Create(flip);
        fixed (byte* s = src)
        fixed (sbyte* q = quads)
        {
            for (var p = 0; p < fullPanels; p++)
            {
                var dst = q + (long)p * kp * PanelWidth;
                var col = s + p * PanelWidth;
                for (var i = 0; i < kp; i += 4)
                {
                    var r0 = i < k ? Sse2.LoadVector128(col + (long)i * strideK) ^ vf : Vector128<byte>.Zero;
                    var r1 = i + 1 < k ? Sse2.LoadVector128(col + (long)(i + 1) * strideK) ^ vf : Vector128<byte>.Zero;
                    var r2 = i + 2 < k ? Sse2.LoadVector128(col + (long)(i + 2) * strideK) ^ vf : Vector128<byte>.Zero;
                    var r3 = i + 3 < k ? Sse2.LoadVector128(col + (long)(i + 3) * strideK) ^ vf : Vector128<byte>.Zero;
                    var lo01 = Sse2.UnpackLow(r0, r1).AsUInt16();   // c0:k0 k1, c1:k0 k1, ... c7
                    var hi01 = Sse2.UnpackHigh(r0, r1).AsUInt16();  // c8..c15
                    var lo23 = Sse2.UnpackLow(r2, r3).AsUInt16();
                    var hi23 = Sse2.UnpackHigh(r2, r3).AsUInt16();
                    var d = (byte*)(dst + i * PanelWidth);
                    Sse2.Store(d, Sse2.UnpackLow(lo01, lo23).AsByte());        // c0..c3 × k0..k3
                    Sse2.Store(d + 16, Sse2.UnpackHigh(lo01, lo23).AsByte());  // c4..c7
                    Sse2.Store(d + 32, Sse2.UnpackLow(hi01, hi23).AsByte());   // c8..c11
                    Sse2.Store(d + 48, Sse2.UnpackHigh(hi01, hi23).AsByte());  // c12..c15
                }
            }
            // Column sums of the canonical (signed) values, from the packed bytes: zero padding adds nothing.
            for (var p = 0; p < fullPanels; p++)
            {
                var b = q + (long)p * kp * PanelWidth;
                Vector256<int> c0 = default, c1 = default;
                for (var i = 0; i < kp; i += 4, b += 64)
                {
                    c0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Create((byte)1), Avx.LoadVector256(b)), Vector256.Create((short)1));
                    c1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Create((byte)1), Avx.LoadVector256(b + 32)), Vector256.Create((short)1));
                }
                fixed (int* cs = columnSums)
                {
                    Avx.Store(cs + p * PanelWidth, c0);
                    Avx.Store(cs + p * PanelWidth + 8, c1);
                }
            }
            // Remaining columns (fewer than a panel): element by element.
            for (var j = fullPanels * PanelWidth; j < n; j++)
            {
                var sum = 0;
                for (var i = 0; i < k; i++)
                {
                    var v = (sbyte)(s[(long)i * strideK + j] ^ flip);
                    q[(long)(j >> 4) * kp * PanelWidth + (i >> 2) * 64 + (j & 15) * 4 + (i & 3)] = v;
                    sum += v;
                }
                columnSums[j] = sum;
            }
        }
    }
}

/// <summary>
/// C[m,n] = Σ_k (a[m,k] − za[m]) · (b[k,n] − zb[n]) in int32 with two's-complement wraparound.
/// A is canonicalised to uint8 (int8 sources are xor-ed with 0x80, i.e. +128, with the zero point moved
/// the same way), B to int8; the differences, and so the result, are unchanged.
/// The SIMD paths compute Σab − zb·Σa − za·Σb + K·za·zb: equal to the direct sum modulo 2³², and so
/// bit-identical to the scalar path whatever the values (docs/inference-semantics.md).
/// </summary>
internal static class Int8Gemm
{
    private const int RowBlock = 64; // rows of A packed at a time: 64×K bytes stays in L2
    private const int MicroRows = 4;
    private const int VnniRows = 6; // VNNI: 12 accumulators hide vpdpbusd latency and halve the broadcasts per MAC

    /// <param name="a">Row-major M×K raw bytes, row stride <paramref name="lda"/>.</param>
    /// <param name="aSigned">Whether A's bytes are int8 (canonicalised by +128 here).</param>
    /// <param name="za">Canonical A zero point per row (length M): the raw zero point, +128 for int8 A.</param>
    /// <param name="zb">Canonical B zero point per column (length N): the raw zero point, −128 for uint8 B.</param>
    /// <param name="c">M×N output, row stride N.</param>
    public static void Multiply(int m, ReadOnlySpan<byte> a, int lda, bool aSigned, ReadOnlySpan<int> za,
        PackedB b, ReadOnlySpan<int> zb, Span<int> c)
    {
        int n = b.N, k = b.K;
        if (za.Length != m || zb.Length != n || c.Length < (long)m * n)
            throw new ArgumentException("GEMM operand sizes disagree");
        if (m == 0 || n == 0) return;
        if (k > 0 && (long)(m - 1) * lda + k > a.Length) throw new ArgumentException("A is shorter than M×K");
        var flip = aSigned ? (byte)0x80 : (byte)0;
        switch (b.Path)
        {
            case GemmPath.Scalar:
                MultiplyScalar(m, n, k, a, lda, flip, za, b.Columns, zb, c);
                break;
            default:
                MultiplySimd(m, n, k, a, lda, flip, za, b, zb, c);
                break;
        }
    }

    /// <summary>
    /// Scratch bytes <see cref="Multiply"/> takes in a planned run for an M×K A, on any path: the packed
    /// block of at most 64 rows (bytes for VNNI, int16 pairs otherwise) or one int32 row for the scalar path.
    /// </summary>
    public static long ScratchBytes(int m, int k)
    {
        long rows = Math.Min(RowBlock, m);
        long bytes = Math.Max(rows * ((k + 3) & ~3), Math.Max(rows * (((k + 1) & ~1) / 2) * sizeof(int), (long)k * sizeof(int)));
        return (bytes + 63) & ~63L;
    }

    private static void MultiplyScalar(int m, int n, int k, ReadOnlySpan<byte> a, int lda, byte flip,
        ReadOnlySpan<int> za, ReadOnlySpan<sbyte> bCols, ReadOnlySpan<int> zb, Span<int> c)
    {
        var mark = KernelMemory.Mark();
        var row = KernelMemory.Planned ? KernelMemory.Scratch<int>(k) : new int[k];
        for (var i = 0; i < m; i++)
        {
            var arow = a.Slice(i * lda, k);
            for (var t = 0; t < k; t++) row[t] = (arow[t] ^ flip) - za[i];
            for (var j = 0; j < n; j++)
            {
                var col = bCols.Slice(j * k, k);
                var z = zb[j];
                var s = 0;
                for (var t = 0; t < k; t++) s = unchecked(s + row[t] * (col[t] - z));
                c[i * n + j] = s;
            }
        }
        KernelMemory.Release(mark);
    }

    // Per-thread scratch for the packed A block (kernels are single-threaded; a thread reuses its buffers).
    [ThreadStatic] private static byte[]? _aBytes;
    [ThreadStatic] private static int[]? _aWords;

    private static void MultiplySimd(int m, int n, int k, ReadOnlySpan<byte> a, int lda, byte flip,
        ReadOnlySpan<int> za, PackedB b, ReadOnlySpan<int> zb, Span<int> c)
    {
        var mark = KernelMemory.Mark();
        try
        {
            MultiplySimdCore(m, n, k, a, lda, flip, za, b, zb, c);
        }
        finally
        {
            KernelMemory.Release(mark);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MultiplySimdCore(int m, int n, int k, ReadOnlySpan<byte> a, int lda, byte flip,
        ReadOnlySpan<int> za, PackedB b, ReadOnlySpan<int> zb, Span<int> c)
    {
        var kp = b.Kp;
        var quads = PackedB.IsQuadPath(b.Path);
        var vnni = b.Path == GemmPath.AvxVnni;
        // sdot multiplies s8×s8: A goes in shifted by −128 (xor 0x80 once more), its zero point with it, so
        // every difference a−za, and so the result, is unchanged.
        var dp = b.Path == GemmPath.AdvSimdDp;
        var aFlip = dp ? (byte)(flip ^ 0x80) : flip;
        var zaShift = dp ? 128 : 0;
        var rowBlock = Math.Min(RowBlock, m);
        // VNNI and sdot read A as bytes (4 per broadcast); pmaddwd and smlal paths as int32 words holding two uint16 values.
        Span<byte> aBytes = default;
        Span<int> aWords = default;
        if (KernelMemory.Planned)
        {
            // A planned run takes the packed-A block from the node's workspace (ScratchBytes counts it).
            if (quads) aBytes = KernelMemory.Scratch<byte>((long)rowBlock * kp);
            else aWords = KernelMemory.Scratch<int>((long)rowBlock * (kp / 2));
        }
        else if (quads)
        {
            if (_aBytes is null || _aBytes.Length < rowBlock * kp) _aBytes = new byte[Math.Max(rowBlock * kp, 4096)];
            aBytes = _aBytes;
        }
        else
        {
            if (_aWords is null || _aWords.Length < rowBlock * (kp / 2)) _aWords = new int[Math.Max(rowBlock * (kp / 2), 1024)];
            aWords = _aWords;
        }
        var rowSums = stackalloc int[RowBlock];
        var tp = stackalloc int[VnniRows * PackedB.PanelWidth];
        var panels = b.Panels;
        var groups = kp / 2;

        fixed (byte* ab = aBytes)
        fixed (int* aw = aWords)
        fixed (sbyte* bq = b.Quads)
        fixed (short* bp = b.Pairs)
        fixed (byte* ap = a)
        fixed (int* cp = c)
        fixed (int* zap = za)
        fixed (int* zbp = zb)
        fixed (int* csp = b.ColumnSums)
        {
            for (var m0 = 0; m0 < m; m0 += RowBlock)
            {
                var mb = Math.Min(RowBlock, m - m0);
                if (quads) PackABytes(ap, lda, aFlip, m0, mb, k, kp, ab, rowSums, signedSums: dp);
                else PackAWords(ap, lda, flip, m0, mb, k, groups, aw, rowSums);
                for (var p = 0; p < panels; p++)
                {
                    var n0 = p * PackedB.PanelWidth;
                    var nb = Math.Min(PackedB.PanelWidth, n - n0);
                    var panelOffset = (long)p * kp * PackedB.PanelWidth;
                    for (var r0 = 0; r0 < mb;)
                    {
                        int rows;
                        if (vnni && mb - r0 >= VnniRows)
                        {
                            rows = VnniRows;
                            KernelVnni6(ab + r0 * kp, kp, bq + panelOffset, tp);
                        }
                        else if (mb - r0 >= MicroRows)
                        {
                            rows = MicroRows;
                            switch (b.Path)
                            {
                                case GemmPath.AvxVnni:
                                    KernelVnni(ab + r0 * kp, kp, bq + panelOffset, tp);
                                    break;
                                case GemmPath.Avx2:
                                    KernelAvx2(aw + r0 * groups, groups, bp + panelOffset, tp);
                                    break;
                                case GemmPath.AdvSimdDp:
                                    KernelDp(ab + r0 * kp, kp, bq + panelOffset, tp);
                                    break;
                                case GemmPath.AdvSimd:
                                    for (var r = 0; r < MicroRows; r++)
                                        KernelAdvSimdx1(aw + (r0 + r) * groups, groups, bp + panelOffset, tp + r * PackedB.PanelWidth);
                                    break;
                                default:
                                    KernelSse2(aw + r0 * groups, groups, bp + panelOffset, tp);
                                    break;
                            }
                        }
                        else
                        {
                            // Fewer than four rows left (batch-1 GEMV, tails): one row at a time.
                            rows = mb - r0;
                            for (var r = 0; r < rows; r++)
                            {
                                var t1 = tp + r * PackedB.PanelWidth;
                                switch (b.Path)
                                {
                                    case GemmPath.AvxVnni:
                                        KernelVnni1(ab + (r0 + r) * kp, kp, bq + panelOffset, t1);
                                        break;
                                    case GemmPath.Avx2:
                                        KernelAvx2x1(aw + (r0 + r) * groups, groups, bp + panelOffset, t1);
                                        break;
                                    case GemmPath.AdvSimdDp:
                                        KernelDp1(ab + (r0 + r) * kp, kp, bq + panelOffset, t1);
                                        break;
                                    case GemmPath.AdvSimd:
                                        KernelAdvSimdx1(aw + (r0 + r) * groups, groups, bp + panelOffset, t1);
                                        break;
                                    default:
                                        KernelSse2x1(aw + (r0 + r) * groups, groups, bp + panelOffset, t1);
                                        break;
                                }
                            }
                        }
                        for (var r = 0; r < rows; r++)
                        {
                            var i = m0 + r0 + r;
                            Finish(tp + r * PackedB.PanelWidth, cp + (long)i * n + n0, nb, zap[i] - zaShift, rowSums[r0 + r], k,
                                zbp + n0, csp + n0);
                        }
                        r0 += rows;
                    }
                }
            }
        }
    }

    /// <summary>
    /// out[j] = dot[j] − zb[j]·Σa − za·Σb[j] + K·za·zb[j], all in wrapping int32 (the identity holds
    /// modulo 2^32); vectorised for whole 8-column groups, where the lanes do the same wrapping ops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Finish(int* dot, int* dst, int count, int za, int sumA, int k, int* zb, int* colSums)
    {
        var j = 0;
        unchecked
        {
            var kza = k * za;
            if (Avx2.IsSupported)
            {
                var vSumA = Vector256.Create(sumA);
                var vZa = Vector256.Create(za);
                var vKza = Vector256.Create(kza);
                for (; j + 8 <= count; j += 8)
                {
                    var z = Avx.LoadVector256(zb + j);
                    var v = Avx.LoadVector256(dot + j) - z * vSumA - vZa * Avx.LoadVector256(colSums + j) + vKza * z;
                    Avx.Store(dst + j, v);
                }
            }
            else if (AdvSimd.IsSupported)
            {
                var vSumA = Vector128.Create(sumA);
                var vZa = Vector128.Create(za);
                var vKza = Vector128.Create(kza);
                for (; j + 4 <= count; j += 4)
                {
                    var z = AdvSimd.LoadVector128(zb + j);
                    var v = AdvSimd.LoadVector128(dot + j) - z * vSumA - vZa * AdvSimd.LoadVector128(colSums + j) + vKza * z;
                    AdvSimd.Store(dst + j, v);
                }
            }
            for (; j < count; j++)
                dst[j] = dot[j] - zb[j] * sumA - za * colSums[j] + kza * zb[j];
        }
    }

    /// <summary>
    /// Rows m0..m0+mb of A, canonicalised (xor flip), zero-padded to kp bytes each; row sums of the packed
    /// bytes, read as uint8, or as int8 when <paramref name="signedSums"/> (the sdot path).
    /// </summary>
    private static unsafe void PackABytes(byte* a, int lda, byte flip, int m0, int mb, int k, int kp, byte* dst, int* rowSums,
        bool signedSums)
    {
        for (var r = 0; r < mb; r++)
        {
            var src = a + (long)(m0 + r) * lda;
            var d = dst + (long)r * kp;
            var t = 0;
            var sum = 0;
            if (Avx2.IsSupported && !signedSums)
            {
                var vf = Vector256.Create(flip);
                var acc = Vector256<ulong>.Zero;
                for (; t + 32 <= k; t += 32)
                {
                    var v = Avx.LoadVector256(src + t) ^ vf;
                    Avx.Store(d + t, v);
                    acc += Avx2.SumAbsoluteDifferences(v, Vector256<byte>.Zero).AsUInt64();
                }
                sum = (int)(acc.GetElement(0) + acc.GetElement(1) + acc.GetElement(2) + acc.GetElement(3));
            }
            for (; t < k; t++)
            {
                var v = (byte)(src[t] ^ flip);
                d[t] = v;
                sum += signedSums ? (sbyte)v : (int)v;
            }
            for (; t < kp; t++) d[t] = 0;
            rowSums[r] = sum;
        }
    }

    /// <summary>As <see cref="PackABytes"/>, but as int32 words holding two consecutive canonical values (low, high).</summary>
    private static unsafe void PackAWords(byte* a, int lda, byte flip, int m0, int mb, int k, int groups, int* dst, int* rowSums)
    {
        for (var r = 0; r < mb; r++)
        {
            var src = a + (long)(m0 + r) * lda;
            var d = dst + (long)r * groups;
            var sum = 0;
            var t = 0;
            for (; t + 2 <= k; t += 2)
            {
                int v0 = src[t] ^ flip, v1 = src[t + 1] ^ flip;
                d[t >> 1] = v0 | (v1 << 16);
                sum += v0 + v1;
            }
            if (t < k)
            {
                var v0 = src[t] ^ flip;
                d[t >> 1] = v0;
                sum += v0;
            }
            rowSums[r] = sum;
        }
    }

    // One row × 16 columns (GEMV and row tails): the k range split into two interleaved halves with their own
    // accumulators for instruction-level parallelism; int32 addition wraps, so the split does not change the sum.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelVnni1(byte* a, int kp, sbyte* b, int* tile)
    {
        Vector256<int> c0 = default, c1 = default, d0 = default, d1 = default;
        var t = 0;
        for (; t + 8 <= kp; t += 8)
        {
            var x = Vector256.Create(*(int*)(a + t)).AsByte();
            var y = Vector256.Create(*(int*)(a + t + 4)).AsByte();
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, x, Avx.LoadVector256(b));
            c1 = AvxVnni.MultiplyWideningAndAdd(c1, x, Avx.LoadVector256(b + 32));
            d0 = AvxVnni.MultiplyWideningAndAdd(d0, y, Avx.LoadVector256(b + 64));
            d1 = AvxVnni.MultiplyWideningAndAdd(d1, y, Avx.LoadVector256(b + 96));
            b += 128;
        }
        if (t < kp)
        {
            var x = Vector256.Create(*(int*)(a + t)).AsByte();
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, x, Avx.LoadVector256(b));
            c1 = AvxVnni.MultiplyWideningAndAdd(c1, x, Avx.LoadVector256(b + 32));
        }
        Avx.Store(tile, c0 + d0);
        Avx.Store(tile + 8, c1 + d1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelAvx2x1(int* a, int groups, short* b, int* tile)
    {
        Vector256<int> c0 = default, c1 = default, d0 = default, d1 = default;
        var g = 0;
        for (; g + 2 <= groups; g += 2)
        {
            var x = Vector256.Create(a[g]).AsInt16();
            var y = Vector256.Create(a[g + 1]).AsInt16();
            c0 = Avx2.Add(c0, Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256(b)));
            c1 = Avx2.Add(c1, Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256(b + 16)));
            d0 = Avx2.Add(d0, Avx2.MultiplyAddAdjacent(y, Avx.LoadVector256(b + 32)));
            d1 = Avx2.Add(d1, Avx2.MultiplyAddAdjacent(y, Avx.LoadVector256(b + 48)));
            b += 64;
        }
        if (g < groups)
        {
            var x = Vector256.Create(a[g]).AsInt16();
            c0 = Avx2.Add(c0, Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256(b)));
            c1 = Avx2.Add(c1, Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256(b + 16)));
        }
        Avx.Store(tile, Avx2.Add(c0, d0));
        Avx.Store(tile + 8, Avx2.Add(c1, d1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelSse2x1(int* a, int groups, short* b, int* tile)
    {
        Vector128<int> c0 = default, c1 = default, c2 = default, c3 = default;
        for (var g = 0; g < groups; g++)
        {
            var x = Vector128.Create(a[g]).AsInt16();
            c0 = Sse2.Add(c0, Sse2.MultiplyAddAdjacent(x, Sse2.LoadVector128(b)));
            c1 = Sse2.Add(c1, Sse2.MultiplyAddAdjacent(x, Sse2.LoadVector128(b + 8)));
            c2 = Sse2.Add(c2, Sse2.MultiplyAddAdjacent(x, Sse2.LoadVector128(b + 16)));
            c3 = Sse2.Add(c3, Sse2.MultiplyAddAdjacent(x, Sse2.LoadVector128(b + 24)));
            b += 32;
        }
        Sse2.Store(tile, c0); Sse2.Store(tile + 4, c1);
        Sse2.Store(tile + 8, c2); Sse2.Store(tile + 12, c3);
    }

    // 6 rows × 16 columns: 12 accumulators, 2 B loads and 6 broadcasts per 12 vpdpbusd.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelVnni6(byte* a, int kp, sbyte* b, int* tile)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        byte* a1 = a + kp, a2 = a1 + kp, a3 = a2 + kp, a4 = a3 + kp, a5 = a4 + kp;
        for (var t = 0; t < kp; t += 4)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 32);
            b += 64;
            var x = Vector256.Create(*(int*)(a + t)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0);
            c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + t)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0);
            c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + t)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0);
            c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + t)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0);
            c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
            x = Vector256.Create(*(int*)(a4 + t)).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, b0);
            c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, b1);
            x = Vector256.Create(*(int*)(a5 + t)).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, b0);
            c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, b1);
        }
        Avx.Store(tile, c00); Avx.Store(tile + 8, c01);
        Avx.Store(tile + 16, c10); Avx.Store(tile + 24, c11);
        Avx.Store(tile + 32, c20); Avx.Store(tile + 40, c21);
        Avx.Store(tile + 48, c30); Avx.Store(tile + 56, c31);
        Avx.Store(tile + 64, c40); Avx.Store(tile + 72, c41);
        Avx.Store(tile + 80, c50); Avx.Store(tile + 88, c51);
    }

    // 4 rows × 16 columns; per 4-k step: 2 B loads, 4 broadcasts, 8 vpdpbusd (exact: u8·s8 products
    // summed four at a time cannot exceed int32, and the accumulate wraps).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelVnni(byte* a, int kp, sbyte* b, int* tile)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        byte* a1 = a + kp, a2 = a1 + kp, a3 = a2 + kp;
        for (var t = 0; t < kp; t += 4)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 32);
            b += 64;
            var x = Vector256.Create(*(int*)(a + t)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0);
            c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + t)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0);
            c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + t)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0);
            c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + t)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0);
            c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
        }
        Avx.Store(tile, c00); Avx.Store(tile + 8, c01);
        Avx.Store(tile + 16, c10); Avx.Store(tile + 24, c11);
        Avx.Store(tile + 32, c20); Avx.Store(tile + 40, c21);
        Avx.Store(tile + 48, c30); Avx.Store(tile + 56, c31);
    }

    // Same tile with vpmaddwd: A and B widened to int16, so each pair product sum is at most
    // 2·255·128 and the instruction's only overflow case (−32768·−32768 twice) cannot occur.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelAvx2(int* a, int groups, short* b, int* tile)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        int* a1 = a + groups, a2 = a1 + groups, a3 = a2 + groups;
        for (var g = 0; g < groups; g++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 16);
            b += 32;
            var x = Vector256.Create(a[g]).AsInt16();
            c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(x, b0));
            c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(x, b1));
            x = Vector256.Create(a1[g]).AsInt16();
            c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(x, b0));
            c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(x, b1));
            x = Vector256.Create(a2[g]).AsInt16();
            c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(x, b0));
            c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(x, b1));
            x = Vector256.Create(a3[g]).AsInt16();
            c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(x, b0));
            c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(x, b1));
        }
        Avx.Store(tile, c00); Avx.Store(tile + 8, c01);
        Avx.Store(tile + 16, c10); Avx.Store(tile + 24, c11);
        Avx.Store(tile + 32, c20); Avx.Store(tile + 40, c21);
        Avx.Store(tile + 48, c30); Avx.Store(tile + 56, c31);
    }

    // 128-bit pmaddwd over the same packed layout, one half-panel (8 columns) at a time to stay within
    // the 16 xmm registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelSse2(int* a, int groups, short* b, int* tile)
    {
        for (var half = 0; half < 2; half++)
        {
            Vector128<int> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector128<int> c20 = default, c21 = default, c30 = default, c31 = default;
            int* a1 = a + groups, a2 = a1 + groups, a3 = a2 + groups;
            var bb = b + half * 16;
            for (var g = 0; g < groups; g++)
            {
                var b0 = Sse2.LoadVector128(bb);
                var b1 = Sse2.LoadVector128(bb + 8);
                bb += 32;
                var x = Vector128.Create(a[g]).AsInt16();
                c00 = Sse2.Add(c00, Sse2.MultiplyAddAdjacent(x, b0));
                c01 = Sse2.Add(c01, Sse2.MultiplyAddAdjacent(x, b1));
                x = Vector128.Create(a1[g]).AsInt16();
                c10 = Sse2.Add(c10, Sse2.MultiplyAddAdjacent(x, b0));
                c11 = Sse2.Add(c11, Sse2.MultiplyAddAdjacent(x, b1));
                x = Vector128.Create(a2[g]).AsInt16();
                c20 = Sse2.Add(c20, Sse2.MultiplyAddAdjacent(x, b0));
                c21 = Sse2.Add(c21, Sse2.MultiplyAddAdjacent(x, b1));
                x = Vector128.Create(a3[g]).AsInt16();
                c30 = Sse2.Add(c30, Sse2.MultiplyAddAdjacent(x, b0));
                c31 = Sse2.Add(c31, Sse2.MultiplyAddAdjacent(x, b1));
            }
            var t = tile + half * 8;
            Sse2.Store(t, c00); Sse2.Store(t + 4, c01);
            Sse2.Store(t + 16, c10); Sse2.Store(t + 20, c11);
            Sse2.Store(t + 32, c20); Sse2.Store(t + 36, c21);
            Sse2.Store(t + 48, c30); Sse2.Store(t + 52, c31);
        }
    }
    // arm64 sdot, 4 rows × 16 columns: per 4-k step 4 B loads, 4 broadcasts, 16 sdot into 16 of the 32
    // vector registers. Exact: four s8·s8 products sum to at most 2^16 in magnitude, and the accumulate wraps.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelDp(byte* a, int kp, sbyte* b, int* tile)
    {
        Vector128<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector128<int> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector128<int> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector128<int> c30 = default, c31 = default, c32 = default, c33 = default;
        byte* a1 = a + kp, a2 = a1 + kp, a3 = a2 + kp;
        for (var t = 0; t < kp; t += 4)
        {
            var b0 = AdvSimd.LoadVector128(b);
            var b1 = AdvSimd.LoadVector128(b + 16);
            var b2 = AdvSimd.LoadVector128(b + 32);
            var b3 = AdvSimd.LoadVector128(b + 48);
            b += 64;
            var x = Vector128.Create(*(int*)(a + t)).AsSByte();
            c00 = Dp.DotProduct(c00, x, b0); c01 = Dp.DotProduct(c01, x, b1);
            c02 = Dp.DotProduct(c02, x, b2); c03 = Dp.DotProduct(c03, x, b3);
            x = Vector128.Create(*(int*)(a1 + t)).AsSByte();
            c10 = Dp.DotProduct(c10, x, b0); c11 = Dp.DotProduct(c11, x, b1);
            c12 = Dp.DotProduct(c12, x, b2); c13 = Dp.DotProduct(c13, x, b3);
            x = Vector128.Create(*(int*)(a2 + t)).AsSByte();
            c20 = Dp.DotProduct(c20, x, b0); c21 = Dp.DotProduct(c21, x, b1);
            c22 = Dp.DotProduct(c22, x, b2); c23 = Dp.DotProduct(c23, x, b3);
            x = Vector128.Create(*(int*)(a3 + t)).AsSByte();
            c30 = Dp.DotProduct(c30, x, b0); c31 = Dp.DotProduct(c31, x, b1);
            c32 = Dp.DotProduct(c32, x, b2); c33 = Dp.DotProduct(c33, x, b3);
        }
        AdvSimd.Store(tile, c00); AdvSimd.Store(tile + 4, c01); AdvSimd.Store(tile + 8, c02); AdvSimd.Store(tile + 12, c03);
        AdvSimd.Store(tile + 16, c10); AdvSimd.Store(tile + 20, c11); AdvSimd.Store(tile + 24, c12); AdvSimd.Store(tile + 28, c13);
        AdvSimd.Store(tile + 32, c20); AdvSimd.Store(tile + 36, c21); AdvSimd.Store(tile + 40, c22); AdvSimd.Store(tile + 44, c23);
        AdvSimd.Store(tile + 48, c30); AdvSimd.Store(tile + 52, c31); AdvSimd.Store(tile + 56, c32); AdvSimd.Store(tile + 60, c33);
    }

    // One row × 16 columns with sdot (GEMV and row tails).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelDp1(byte* a, int kp, sbyte* b, int* tile)
    {
        Vector128<int> c0 = default, c1 = default, c2 = default, c3 = default;
        for (var t = 0; t < kp; t += 4)
        {
            var x = Vector128.Create(*(int*)(a + t)).AsSByte();
            c0 = Dp.DotProduct(c0, x, AdvSimd.LoadVector128(b));
            c1 = Dp.DotProduct(c1, x, AdvSimd.LoadVector128(b + 16));
            c2 = Dp.DotProduct(c2, x, AdvSimd.LoadVector128(b + 32));
            c3 = Dp.DotProduct(c3, x, AdvSimd.LoadVector128(b + 48));
            b += 64;
        }
        AdvSimd.Store(tile, c0); AdvSimd.Store(tile + 4, c1);
        AdvSimd.Store(tile + 8, c2); AdvSimd.Store(tile + 12, c3);
    }

    // arm64 without sdot, one row × 16 columns over the pmaddwd layout: smlal/smlal2 multiply the int16 lanes
    // [a0 a1 a0 a1 …] by [b(c,k0) b(c,k1) …] into int32 lanes still split by k parity; one pairwise add at the
    // end joins each column's two halves. Products fit int32 (|a·b| ≤ 255·128) and the accumulates wrap, so
    // the regrouped sum equals the scalar one modulo 2^32.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelAdvSimdx1(int* a, int groups, short* b, int* tile)
    {
        Vector128<int> l0 = default, h0 = default, l1 = default, h1 = default;
        Vector128<int> l2 = default, h2 = default, l3 = default, h3 = default;
        for (var g = 0; g < groups; g++)
        {
            var x = Vector128.Create(a[g]).AsInt16();
            var xl = x.GetLower();
            var b0 = AdvSimd.LoadVector128(b);
            var b1 = AdvSimd.LoadVector128(b + 8);
            var b2 = AdvSimd.LoadVector128(b + 16);
            var b3 = AdvSimd.LoadVector128(b + 24);
            b += 32;
            l0 = AdvSimd.MultiplyWideningLowerAndAdd(l0, xl, b0.GetLower()); h0 = AdvSimd.MultiplyWideningUpperAndAdd(h0, x, b0);
            l1 = AdvSimd.MultiplyWideningLowerAndAdd(l1, xl, b1.GetLower()); h1 = AdvSimd.MultiplyWideningUpperAndAdd(h1, x, b1);
            l2 = AdvSimd.MultiplyWideningLowerAndAdd(l2, xl, b2.GetLower()); h2 = AdvSimd.MultiplyWideningUpperAndAdd(h2, x, b2);
            l3 = AdvSimd.MultiplyWideningLowerAndAdd(l3, xl, b3.GetLower()); h3 = AdvSimd.MultiplyWideningUpperAndAdd(h3, x, b3);
        }
        AdvSimd.Store(tile, AdvSimd.Arm64.AddPairwise(l0, h0));
        AdvSimd.Store(tile + 4, AdvSimd.Arm64.AddPairwise(l1, h1));
        AdvSimd.Store(tile + 8, AdvSimd.Arm64.AddPairwise(l2, h2));
        AdvSimd.Store(tile + 12, AdvSimd.Arm64.AddPairwise(l3, h3));
    }
}
