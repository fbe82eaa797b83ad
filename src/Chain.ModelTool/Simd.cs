using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Chain.ModelTool;

/// <summary>
/// Float kernels for training. They use Vector256 explicitly (not Vector&lt;T&gt;, whose width varies by
/// machine) and separate multiply and add (never FMA), and reduce lanes in a fixed order, so results
/// are the same bits wherever they run.
/// </summary>
internal static class Simd
{
    /// <summary>y += a * x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        var n = x.Length;
        if (y.Length < n) throw new ArgumentException("axpy length mismatch");
        var i = 0;
        var va = Vector256.Create(a);
        ref var rx = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref var ry = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        for (; i + 8 <= n; i += 8)
        {
            var vy = Vector256.LoadUnsafe(ref ry, (nuint)i);
            var vx = Vector256.LoadUnsafe(ref rx, (nuint)i);
            (vy + va * vx).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref ry, i) += a * Unsafe.Add(ref rx, i);
    }

    /// <summary>Σ x[i]·y[i] with eight lane accumulators summed in lane order, then the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        var n = x.Length;
        if (y.Length < n) throw new ArgumentException("dot length mismatch");
        ref var rx = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref var ry = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i + 8 <= n; i += 8)
            acc += Vector256.LoadUnsafe(ref rx, (nuint)i) * Vector256.LoadUnsafe(ref ry, (nuint)i);
        var s = 0f;
        for (var l = 0; l < 8; l++) s += acc.GetElement(l);
        for (; i < n; i++) s += Unsafe.Add(ref rx, i) * Unsafe.Add(ref ry, i);
        return s;
    }

    public static float Sum(ReadOnlySpan<float> x)
    {
        var s = 0f;
        foreach (var v in x) s += v;
        return s;
    }

    /// <summary>y += x element-wise.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y) => Axpy(1f, x, y);

    /// <summary>Softmax cross-entropy: writes p − onehot(label) into <paramref name="grad"/>, returns −log p[label].</summary>
    public static float SoftmaxCrossEntropy(ReadOnlySpan<float> logits, int label, Span<float> grad)
    {
        var max = logits[0];
        for (var j = 1; j < logits.Length; j++) max = MathF.Max(max, logits[j]);
        var sum = 0f;
        for (var j = 0; j < logits.Length; j++)
        {
            grad[j] = MathF.Exp(logits[j] - max);
            sum += grad[j];
        }
        var inv = 1f / sum;
        var loss = -(logits[label] - max - MathF.Log(sum));
        for (var j = 0; j < logits.Length; j++) grad[j] *= inv;
        grad[label] -= 1f;
        return loss;
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        var best = 0;
        for (var j = 1; j < x.Length; j++) if (x[j] > x[best]) best = j;
        return best;
    }
}
