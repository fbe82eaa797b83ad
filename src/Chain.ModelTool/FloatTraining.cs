namespace Chain.ModelTool;

/// <summary>Hyper-parameters of one training run; everything that decides the result is in here.</summary>
public sealed record TrainingOptions(
    int Epochs,
    int BatchSize,
    float LearningRate,
    ulong Seed,
    int CalibrationImages = 2000,
    double ActivationPercentile = 99.99,
    bool PerChannelWeights = true,
    int Partitions = 8);

/// <summary>A float32 network trained sample by sample; gradients accumulate into caller-owned buffers.</summary>
internal abstract class FloatNet
{
    /// <summary>Every trainable array, in a fixed order (the optimizer and gradient buffers follow it).</summary>
    public abstract float[][] Parameters { get; }

    public abstract object CreateWorkspace();

    /// <summary>Forward and backward for one image (pixels scaled by 1/255); adds to <paramref name="grads"/> and returns the loss.</summary>
    public abstract float Accumulate(ReadOnlySpan<byte> image, int label, float[][] grads, object workspace);

    public abstract int Predict(ReadOnlySpan<byte> image, object workspace);

    public float[][] NewLike() => Array.ConvertAll(Parameters, p => new float[p.Length]);

    protected static void InitUniform(float[] w, int fanIn, Rng rng)
    {
        // Kaiming-uniform for ReLU nets: U(±sqrt(6/fan_in)).
        var bound = MathF.Sqrt(6f / fanIn);
        for (var i = 0; i < w.Length; i++) w[i] = rng.Uniform(bound);
    }

    protected static void LoadPixels(ReadOnlySpan<byte> image, Span<float> x)
    {
        for (var i = 0; i < image.Length; i++) x[i] = image[i] * (1f / 255f);
    }
}

/// <summary>Result of <see cref="Trainer.Train"/>: mean loss per epoch.</summary>
internal sealed record TrainingLog(double[] EpochLoss);

/// <summary>
/// Mini-batch Adam. Each batch is cut into a fixed number of contiguous partitions (independent of the core
/// count); partitions run in parallel into their own gradient buffers, which are then summed in partition
/// order. The result is therefore the same bits whether 1 or 16 cores run it.
/// </summary>
internal static class Trainer
{
    public static TrainingLog Train(FloatNet net, MnistSet set, TrainingOptions o, Action<string>? log, int maxThreads = -1)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxThreads };
        var rng = new Rng(o.Seed ^ 0x5EED_0F_0DE5UL);
        var order = Enumerable.Range(0, set.Count).ToArray();
        var parts = o.Partitions;
        var grads = Enumerable.Range(0, parts).Select(_ => net.NewLike()).ToArray();
        var workspaces = Enumerable.Range(0, parts).Select(_ => net.CreateWorkspace()).ToArray();
        var losses = new float[parts];
        var adam = new Adam(net.Parameters);
        var epochLoss = new double[o.Epochs];
        for (var epoch = 0; epoch < o.Epochs; epoch++)
        {
            rng.Shuffle(order);
            // Linear decay to lr/Epochs in the last epoch: no transcendental functions in the schedule.
            var lr = o.LearningRate * (o.Epochs - epoch) / o.Epochs;
            double total = 0;
            for (var start = 0; start < set.Count; start += o.BatchSize)
            {
                var count = Math.Min(o.BatchSize, set.Count - start);
                Parallel.For(0, parts, parallel, p =>
                {
                    var g = grads[p];
                    foreach (var a in g) Array.Clear(a);
                    var loss = 0f;
                    for (var i = start + p * count / parts; i < start + (p + 1) * count / parts; i++)
                    {
                        var s = order[i];
                        loss += net.Accumulate(set.Image(s), set.Labels[s], g, workspaces[p]);
                    }
                    losses[p] = loss;
                });
                for (var p = 1; p < parts; p++)
                for (var a = 0; a < grads[0].Length; a++)
                    Simd.Add(grads[p][a], grads[0][a]);
                for (var p = 0; p < parts; p++) total += losses[p];
                adam.Step(grads[0], lr, 1f / count);
            }
            epochLoss[epoch] = total / set.Count;
            log?.Invoke($"  epoch {epoch + 1}/{o.Epochs}: lr {lr:G4}, mean loss {epochLoss[epoch]:F5}");
        }
        return new TrainingLog(epochLoss);
    }

    public static double Accuracy(FloatNet net, MnistSet set)
    {
        var correct = new int[set.Count];
        Parallel.For(0, set.Count, () => net.CreateWorkspace(), (i, _, ws) =>
        {
            correct[i] = net.Predict(set.Image(i), ws) == set.Labels[i] ? 1 : 0;
            return ws;
        }, _ => { });
        return correct.Sum() / (double)set.Count;
    }
}

/// <summary>Adam (β1 0.9, β2 0.999, ε 1e-8); bias corrections by running products, not Pow.</summary>
internal sealed class Adam(float[][] parameters)
{
    private const float B1 = 0.9f, B2 = 0.999f, Eps = 1e-8f;
    private readonly float[][] _m = Array.ConvertAll(parameters, p => new float[p.Length]);
    private readonly float[][] _v = Array.ConvertAll(parameters, p => new float[p.Length]);
    private float _b1t = 1f, _b2t = 1f;

    public void Step(float[][] grads, float lr, float gradScale)
    {
        _b1t *= B1;
        _b2t *= B2;
        var c1 = 1f / (1f - _b1t);
        var c2 = 1f / (1f - _b2t);
        for (var a = 0; a < parameters.Length; a++)
        {
            float[] p = parameters[a], g = grads[a], m = _m[a], v = _v[a];
            for (var i = 0; i < p.Length; i++)
            {
                var gi = g[i] * gradScale;
                m[i] = B1 * m[i] + (1f - B1) * gi;
                v[i] = B2 * v[i] + (1f - B2) * (gi * gi);
                p[i] -= lr * (m[i] * c1) / (MathF.Sqrt(v[i] * c2) + Eps);
            }
        }
    }
}
