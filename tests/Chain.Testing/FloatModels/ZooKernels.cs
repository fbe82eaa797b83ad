namespace Chain.Testing.FloatModels;

/// <summary>
/// Reference float kernels for the zoo's calibration pass: NCHW per sample, double accumulation in a fixed
/// order, only + - * / and sqrt (bit-identical on every IEEE host, no FMA contraction in .NET).
/// </summary>
internal static class ZooKernels
{
    public static Act Conv(Act a, float[] w, float[] b, int outC, int k, int stride, int pad, int dilation, int group)
    {
        int inC = a.Shape[0], h = a.Shape[1], wd = a.Shape[2];
        int oh = (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
        int ow = (wd + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
        int icPerG = inC / group, ocPerG = outC / group;
        var rows = new float[a.N][];
        // Samples are independent, so running them in parallel changes no result.
        Parallel.For(0, a.N, n =>
        {
            var x = a.Rows[n];
            var o = new float[outC * oh * ow];
            var acc = new double[oh * ow];
            for (var oc = 0; oc < outC; oc++)
            {
                var g = oc / ocPerG;
                Array.Fill(acc, b[oc]);
                // Each output sums over (ic, ky, kx) in that order.
                for (var ic = 0; ic < icPerG; ic++)
                {
                    var plane = (g * icPerG + ic) * h * wd;
                    for (var ky = 0; ky < k; ky++)
                        for (var kx = 0; kx < k; kx++)
                        {
                            double wv = w[((oc * icPerG + ic) * k + ky) * k + kx];
                            for (var oy = 0; oy < oh; oy++)
                            {
                                var iy = oy * stride - pad + ky * dilation;
                                if (iy < 0 || iy >= h) continue;
                                var inRow = plane + iy * wd;
                                var outRow = oy * ow;
                                for (var ox = 0; ox < ow; ox++)
                                {
                                    var ix = ox * stride - pad + kx * dilation;
                                    if (ix < 0 || ix >= wd) continue;
                                    acc[outRow + ox] += wv * x[inRow + ix];
                                }
                            }
                        }
                }
                for (var i = 0; i < acc.Length; i++) o[oc * oh * ow + i] = (float)acc[i];
            }
            rows[n] = o;
        });
        return new Act([outC, oh, ow], rows);
    }

    public static Act Pool(Act a, int k, int stride, int pad, bool max, bool countIncludePad)
    {
        int c = a.Shape[0], h = a.Shape[1], wd = a.Shape[2];
        int oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1;
        var rows = new float[a.N][];
        for (var n = 0; n < a.N; n++)
        {
            var x = a.Rows[n];
            var o = new float[c * oh * ow];
            for (var ch = 0; ch < c; ch++)
                for (var oy = 0; oy < oh; oy++)
                    for (var ox = 0; ox < ow; ox++)
                    {
                        double acc = max ? double.NegativeInfinity : 0;
                        var count = 0;
                        for (var ky = 0; ky < k; ky++)
                            for (var kx = 0; kx < k; kx++)
                            {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                var v = x[(ch * h + iy) * wd + ix];
                                acc = max ? Math.Max(acc, v) : acc + v;
                                count++;
                            }
                        o[(ch * oh + oy) * ow + ox] = (float)(max ? acc : acc / (countIncludePad ? k * k : count));
                    }
            rows[n] = o;
        }
        return new Act([c, oh, ow], rows);
    }

    /// <summary>Mean over all but the channel axis: [C, ...] to [C].</summary>
    public static Act SpatialMean(Act a)
    {
        int c = a.Channels, s = a.Spatial;
        var rows = a.Rows.Select(r =>
        {
            var o = new float[c];
            for (var ch = 0; ch < c; ch++)
            {
                double sum = 0;
                for (var i = ch * s; i < (ch + 1) * s; i++) sum += r[i];
                o[ch] = (float)(sum / s);
            }
            return o;
        }).ToArray();
        return new Act([c], rows);
    }

    /// <summary>y = W x + b with W stored [out, in].</summary>
    public static Act Dense(Act a, float[] w, float[] b, int outF)
    {
        var inF = a.Rows[0].Length;
        var rows = a.Rows.Select(x =>
        {
            var o = new float[outF];
            for (var j = 0; j < outF; j++)
            {
                double sum = b[j];
                for (var i = 0; i < inF; i++) sum += (double)w[j * inF + i] * x[i];
                o[j] = (float)sum;
            }
            return o;
        }).ToArray();
        return new Act([outF], rows);
    }

    /// <summary>
    /// Ridge regression with a bias column: minimises |[F 1] S - Y|^2 + lambda |S|^2 (bias not penalised), solved by
    /// Cholesky. Returns S as [features + 1][targets], the last row the bias.
    /// </summary>
    public static double[][] Ridge(float[][] features, double[][] targets, double lambda)
    {
        int n = features.Length, d = features[0].Length + 1, t = targets[0].Length;
        var m = new double[d * d];
        var rhs = new double[d * t];
        var row = new double[d];
        for (var s = 0; s < n; s++)
        {
            for (var i = 0; i < d - 1; i++) row[i] = features[s][i];
            row[d - 1] = 1;
            for (var i = 0; i < d; i++)
            {
                var ri = row[i];
                if (ri == 0) continue;
                for (var j = 0; j <= i; j++) m[i * d + j] += ri * row[j];
                for (var j = 0; j < t; j++) rhs[i * t + j] += ri * targets[s][j];
            }
        }
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < i; j++) m[j * d + i] = m[i * d + j];
            m[i * d + i] += i < d - 1 ? lambda : 1e-6;
        }
        // Cholesky: m = L L^T, in place (lower triangle).
        for (var j = 0; j < d; j++)
        {
            var diag = m[j * d + j];
            for (var k = 0; k < j; k++) diag -= m[j * d + k] * m[j * d + k];
            diag = Math.Sqrt(diag);
            m[j * d + j] = diag;
            for (var i = j + 1; i < d; i++)
            {
                var v = m[i * d + j];
                for (var k = 0; k < j; k++) v -= m[i * d + k] * m[j * d + k];
                m[i * d + j] = v / diag;
            }
        }
        var solution = new double[d][];
        for (var i = 0; i < d; i++) solution[i] = new double[t];
        for (var c = 0; c < t; c++)
        {
            var y = new double[d];
            for (var i = 0; i < d; i++)
            {
                var v = rhs[i * t + c];
                for (var k = 0; k < i; k++) v -= m[i * d + k] * y[k];
                y[i] = v / m[i * d + i];
            }
            for (var i = d - 1; i >= 0; i--)
            {
                var v = y[i];
                for (var k = i + 1; k < d; k++) v -= m[k * d + i] * solution[k][c];
                solution[i][c] = v / m[i * d + i];
            }
        }
        return solution;
    }
}
