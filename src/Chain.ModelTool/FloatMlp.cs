namespace Chain.ModelTool;

/// <summary>784 → H (ReLU) → 10. W1 is stored [784, H] so the forward pass is one axpy per non-zero pixel.</summary>
internal sealed class FloatMlp : FloatNet
{
    public const int Inputs = 784, Classes = 10;
    public readonly int Hidden;
    public readonly float[] W1, B1, W2, B2;

    public FloatMlp(int hidden, Rng rng)
    {
        Hidden = hidden;
        W1 = new float[Inputs * hidden];
        B1 = new float[hidden];
        W2 = new float[hidden * Classes];
        B2 = new float[Classes];
        InitUniform(W1, Inputs, rng);
        InitUniform(W2, hidden, rng);
    }

    public override float[][] Parameters => [W1, B1, W2, B2];

    private sealed class Ws(int hidden)
    {
        public readonly float[] X = new float[Inputs], Z1 = new float[hidden], Dz1 = new float[hidden], Z2 = new float[Classes], Dz2 = new float[Classes];
    }

    public override object CreateWorkspace() => new Ws(Hidden);

    /// <summary>Fills Z1 with the ReLU hidden activations and Z2 with the logits.</summary>
    private void Forward(ReadOnlySpan<byte> image, Ws ws)
    {
        LoadPixels(image, ws.X);
        B1.CopyTo(ws.Z1, 0);
        for (var k = 0; k < Inputs; k++)
            if (image[k] != 0) Simd.Axpy(ws.X[k], W1.AsSpan(k * Hidden, Hidden), ws.Z1);
        for (var i = 0; i < Hidden; i++) ws.Z1[i] = MathF.Max(ws.Z1[i], 0f);
        B2.CopyTo(ws.Z2, 0);
        for (var i = 0; i < Hidden; i++)
            if (ws.Z1[i] != 0f) Simd.Axpy(ws.Z1[i], W2.AsSpan(i * Classes, Classes), ws.Z2);
    }

    public override float Accumulate(ReadOnlySpan<byte> image, int label, float[][] grads, object workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        var loss = Simd.SoftmaxCrossEntropy(ws.Z2, label, ws.Dz2);
        float[] gW1 = grads[0], gB1 = grads[1], gW2 = grads[2], gB2 = grads[3];
        Simd.Add(ws.Dz2, gB2);
        for (var i = 0; i < Hidden; i++)
        {
            // Z1 holds ReLU outputs: zero means the unit was off and passes no gradient.
            if (ws.Z1[i] == 0f) { ws.Dz1[i] = 0f; continue; }
            Simd.Axpy(ws.Z1[i], ws.Dz2, gW2.AsSpan(i * Classes, Classes));
            ws.Dz1[i] = Simd.Dot(W2.AsSpan(i * Classes, Classes), ws.Dz2);
        }
        Simd.Add(ws.Dz1, gB1);
        for (var k = 0; k < Inputs; k++)
            if (image[k] != 0) Simd.Axpy(ws.X[k], ws.Dz1, gW1.AsSpan(k * Hidden, Hidden));
        return loss;
    }

    public override int Predict(ReadOnlySpan<byte> image, object workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        return Simd.ArgMax(ws.Z2);
    }

    /// <summary>Values at the quantization points for calibration: [hidden ReLU outputs, logits].</summary>
    public float[][] Activations(ReadOnlySpan<byte> image, object workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        return [(float[])ws.Z1.Clone(), (float[])ws.Z2.Clone()];
    }

    /// <summary>W1 as ONNX conv weights [H, 784] (output-major).</summary>
    public float[] W1OutputMajor() => Transpose(W1, Inputs, Hidden);

    public float[] W2OutputMajor() => Transpose(W2, Hidden, Classes);

    private static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (var r = 0; r < rows; r++)
        for (var c = 0; c < cols; c++)
            t[c * rows + r] = a[r * cols + c];
        return t;
    }
}
