namespace Chain.ModelTool;

/// <summary>
/// 1×28×28 → conv3×3 pad 1 (C1, ReLU) → maxpool 2 → conv3×3 pad 1 (C2, ReLU) → maxpool 2 → FC 10.
/// Convolutions are im2col + axpy/dot; weights are stored [out, in·3·3] in ONNX [M,C,kH,kW] order and
/// the FC weights [10, C2·7·7] in NCHW flatten order, so they map onto QLinearConv without reordering.
/// </summary>
internal sealed class FloatCnn : FloatNet
{
    public const int Classes = 10, H0 = 28, H1 = 14, H2 = 7;
    public readonly int C1, C2;
    public readonly float[] W1, B1, W2, B2, W3, B3;

    public FloatCnn(int c1, int c2, Rng rng)
    {
        C1 = c1;
        C2 = c2;
        W1 = new float[c1 * 9];
        B1 = new float[c1];
        W2 = new float[c2 * c1 * 9];
        B2 = new float[c2];
        W3 = new float[Classes * c2 * H2 * H2];
        B3 = new float[Classes];
        InitUniform(W1, 9, rng);
        InitUniform(W2, c1 * 9, rng);
        InitUniform(W3, c2 * H2 * H2, rng);
    }

    public override float[][] Parameters => [W1, B1, W2, B2, W3, B3];

    private sealed class Ws
    {
        public readonly float[] X, Cols1, Z1, P1, Cols2, Z2, P2, Logits, DLogits, DP2, DZ2, DCols2, DP1, DZ1;
        public readonly int[] Idx1, Idx2;

        public Ws(int c1, int c2)
        {
            X = new float[H0 * H0];
            Cols1 = new float[9 * H0 * H0];
            Z1 = new float[c1 * H0 * H0];
            P1 = new float[c1 * H1 * H1];
            Idx1 = new int[c1 * H1 * H1];
            Cols2 = new float[c1 * 9 * H1 * H1];
            Z2 = new float[c2 * H1 * H1];
            P2 = new float[c2 * H2 * H2];
            Idx2 = new int[c2 * H2 * H2];
            Logits = new float[Classes];
            DLogits = new float[Classes];
            DP2 = new float[c2 * H2 * H2];
            DZ2 = new float[c2 * H1 * H1];
            DCols2 = new float[c1 * 9 * H1 * H1];
            DP1 = new float[c1 * H1 * H1];
            DZ1 = new float[c1 * H0 * H0];
        }
    }

    public override object CreateWorkspace() => new Ws(C1, C2);

    private static void Im2Col(float[] input, int channels, int size, float[] cols)
    {
        var plane = size * size;
        for (var c = 0; c < channels; c++)
        for (var ky = 0; ky < 3; ky++)
        for (var kx = 0; kx < 3; kx++)
        {
            var row = cols.AsSpan(((c * 3 + ky) * 3 + kx) * plane, plane);
            for (var y = 0; y < size; y++)
            {
                var iy = y + ky - 1;
                for (var x = 0; x < size; x++)
                {
                    var ix = x + kx - 1;
                    row[y * size + x] = (uint)iy < (uint)size && (uint)ix < (uint)size ? input[(c * size + iy) * size + ix] : 0f;
                }
            }
        }
    }

    private static void Col2ImAdd(float[] cols, int channels, int size, float[] output)
    {
        var plane = size * size;
        Array.Clear(output);
        for (var c = 0; c < channels; c++)
        for (var ky = 0; ky < 3; ky++)
        for (var kx = 0; kx < 3; kx++)
        {
            var row = cols.AsSpan(((c * 3 + ky) * 3 + kx) * plane, plane);
            for (var y = 0; y < size; y++)
            {
                var iy = y + ky - 1;
                if ((uint)iy >= (uint)size) continue;
                for (var x = 0; x < size; x++)
                {
                    var ix = x + kx - 1;
                    if ((uint)ix < (uint)size) output[(c * size + iy) * size + ix] += row[y * size + x];
                }
            }
        }
    }

    /// <summary>z[o,:] = b[o] + Σ_k w[o,k]·cols[k,:].</summary>
    private static void ConvForward(float[] w, float[] b, int outC, int k, float[] cols, int plane, float[] z)
    {
        for (var o = 0; o < outC; o++)
        {
            var zo = z.AsSpan(o * plane, plane);
            zo.Fill(b[o]);
            for (var j = 0; j < k; j++) Simd.Axpy(w[o * k + j], cols.AsSpan(j * plane, plane), zo);
        }
    }

    /// <summary>2×2 max pool of the pre-activation with ReLU after it (the two commute); remembers the winner.</summary>
    private static void PoolRelu(float[] z, int channels, int size, float[] pooled, int[] idx)
    {
        var half = size / 2;
        for (var c = 0; c < channels; c++)
        for (var y = 0; y < half; y++)
        for (var x = 0; x < half; x++)
        {
            var best = (c * size + 2 * y) * size + 2 * x;
            foreach (var cand in (ReadOnlySpan<int>)[best + 1, best + size, best + size + 1])
                if (z[cand] > z[best]) best = cand;
            var o = (c * half + y) * half + x;
            idx[o] = best;
            pooled[o] = MathF.Max(z[best], 0f);
        }
    }

    private void Forward(ReadOnlySpan<byte> image, Ws ws)
    {
        LoadPixels(image, ws.X);
        Im2Col(ws.X, 1, H0, ws.Cols1);
        ConvForward(W1, B1, C1, 9, ws.Cols1, H0 * H0, ws.Z1);
        PoolRelu(ws.Z1, C1, H0, ws.P1, ws.Idx1);
        Im2Col(ws.P1, C1, H1, ws.Cols2);
        ConvForward(W2, B2, C2, C1 * 9, ws.Cols2, H1 * H1, ws.Z2);
        PoolRelu(ws.Z2, C2, H1, ws.P2, ws.Idx2);
        var k = C2 * H2 * H2;
        for (var j = 0; j < Classes; j++) ws.Logits[j] = B3[j] + Simd.Dot(W3.AsSpan(j * k, k), ws.P2);
    }

    public override float Accumulate(ReadOnlySpan<byte> image, int label, float[][] grads, object workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        var loss = Simd.SoftmaxCrossEntropy(ws.Logits, label, ws.DLogits);
        float[] gW1 = grads[0], gB1 = grads[1], gW2 = grads[2], gB2 = grads[3], gW3 = grads[4], gB3 = grads[5];
        var k3 = C2 * H2 * H2;
        Simd.Add(ws.DLogits, gB3);
        Array.Clear(ws.DP2);
        for (var j = 0; j < Classes; j++)
        {
            Simd.Axpy(ws.DLogits[j], ws.P2, gW3.AsSpan(j * k3, k3));
            Simd.Axpy(ws.DLogits[j], W3.AsSpan(j * k3, k3), ws.DP2);
        }
        Unpool(ws.DP2, ws.P2, ws.Idx2, ws.DZ2);
        ConvBackward(W2, gW2, gB2, C2, C1 * 9, ws.Cols2, H1 * H1, ws.DZ2, ws.DCols2);
        Col2ImAdd(ws.DCols2, C1, H1, ws.DP1);
        Unpool(ws.DP1, ws.P1, ws.Idx1, ws.DZ1);
        ConvBackward(W1, gW1, gB1, C1, 9, ws.Cols1, H0 * H0, ws.DZ1, null);
        return loss;
    }

    /// <summary>Routes each pooled gradient to its winning position, through the ReLU.</summary>
    private static void Unpool(float[] dPooled, float[] pooled, int[] idx, float[] dz)
    {
        Array.Clear(dz);
        for (var i = 0; i < dPooled.Length; i++)
            if (pooled[i] > 0f) dz[idx[i]] = dPooled[i];
    }

    private static void ConvBackward(float[] w, float[] gW, float[] gB, int outC, int k, float[] cols, int plane, float[] dz, float[]? dCols)
    {
        for (var o = 0; o < outC; o++)
        {
            var dzo = dz.AsSpan(o * plane, plane);
            gB[o] += Simd.Sum(dzo);
            for (var j = 0; j < k; j++) gW[o * k + j] += Simd.Dot(dzo, cols.AsSpan(j * plane, plane));
        }
        if (dCols == null) return;
        for (var j = 0; j < k; j++)
        {
            var dc = dCols.AsSpan(j * plane, plane);
            dc.Clear();
            for (var o = 0; o < outC; o++) Simd.Axpy(w[o * k + j], dz.AsSpan(o * plane, plane), dc);
        }
    }

    public override int Predict(ReadOnlySpan<byte> image, object workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        return Simd.ArgMax(ws.Logits);
    }

    /// <summary>Values at the quantization points: [ReLU(conv1) before pooling, ReLU(conv2) before pooling, logits].</summary>
    public float[][] Activations(ReadOnlySpan<byte> image, object workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        return [Array.ConvertAll(ws.Z1, v => MathF.Max(v, 0f)), Array.ConvertAll(ws.Z2, v => MathF.Max(v, 0f)), (float[])ws.Logits.Clone()];
    }
}
