namespace Chain.Inference.Kernels;

public static partial class CanonicalOps
{
    private static readonly TensorElementType[] QuantTypes =
        [TensorElementType.UInt8, TensorElementType.Int8, TensorElementType.UInt16, TensorElementType.Int16];

    /// <summary>
    /// ONNX QuantizeLinear: y = saturate(roundHalfToEven(float32(x) / y_scale) + y_zp), the division a
    /// single float32 IEEE division (x is float32, or int32 converted to float32 with round-to-nearest-even).
    /// y_scale/y_zero_point: scalar (per tensor) or 1-D along <paramref name="axis"/> (per axis; blocked
    /// quantization is not supported). Output type: y_zero_point's, else <paramref name="outputType"/>, else uint8.
    /// NaN inputs are refused.
    /// </summary>
    public static Tensor QuantizeLinear(Tensor x, Tensor yScale, Tensor? yZeroPoint = null, int axis = 1,
        TensorElementType? outputType = null)
    {
        const string op = "QuantizeLinear";
        KernelArgs.RequireType(op, "x", x, TensorElementType.Float, TensorElementType.Int32);
        var type = yZeroPoint?.ElementType ?? outputType ?? TensorElementType.UInt8;
        if (yZeroPoint is not null && outputType is { } ot && ot != type)
            throw new InferenceException(op, "output_dtype differs from y_zero_point's type");
        if (Array.IndexOf(QuantTypes, type) < 0)
            throw new InferenceException(op, $"cannot quantize to {TensorElementTypes.Name(type)}");
        var (scales, zps, inner, channels) = AxisParams(op, x, yScale, yZeroPoint, axis, "y");
        var (qmin, qmax) = KernelArgs.Range(type);
        var count = (int)x.ElementCount;
        var size = TensorElementTypes.SizeOf(type);
        var result = KernelMemory.Output(type, x.Shape.ToArray(), out var data);
        var xf = x.ElementType == TensorElementType.Float ? x.Elements<float>() : default;
        var xi = x.ElementType == TensorElementType.Int32 ? x.Elements<int>() : default;
        for (var i = 0; i < count; i++)
        {
            var ch = (int)(i / inner % channels);
            var v = x.ElementType == TensorElementType.Float ? xf[i] : (float)xi[i];
            if (float.IsNaN(v)) throw new InferenceException(op, "input contains NaN");
            var r = MathF.Round(v / scales[ch], MidpointRounding.ToEven);
            float lo = qmin - zps[ch], hi = qmax - zps[ch];
            if (r < lo) r = lo;
            if (r > hi) r = hi;
            var q = (int)r + zps[ch];
            for (var b = 0; b < size; b++) data[i * size + b] = unchecked((byte)(q >> (8 * b)));
        }
        return result;
    }

    /// <summary>
    /// ONNX DequantizeLinear to float32: y = float32(x − x_zp) · x_scale, the subtraction exact in
    /// integers, then one conversion and one float32 multiply. For final outputs only, never fed back
    /// into consensus arithmetic. int32 x requires a zero (or absent) zero point, as ONNX does.
    /// </summary>
    public static Tensor DequantizeLinear(Tensor x, Tensor xScale, Tensor? xZeroPoint = null, int axis = 1)
    {
        const string op = "DequantizeLinear";
        KernelArgs.RequireType(op, "x", x, [.. QuantTypes, TensorElementType.Int32]);
        if (xZeroPoint is not null && xZeroPoint.ElementType != x.ElementType)
            throw new InferenceException(op, "x_zero_point type differs from x");
        var (scales, zps, inner, channels) = AxisParams(op, x, xScale, xZeroPoint, axis, "x");
        if (x.ElementType == TensorElementType.Int32 && zps.Any(z => z != 0))
            throw new InferenceException(op, "int32 input requires a zero zero point");
        var result = KernelMemory.Output<float>(TensorElementType.Float, x.Shape.ToArray(), out var y);
        switch (x.ElementType)
        {
            case TensorElementType.UInt8: Dequantize(x.Elements<byte>(), scales, zps, inner, channels, y); break;
            case TensorElementType.Int8: Dequantize(x.Elements<sbyte>(), scales, zps, inner, channels, y); break;
            case TensorElementType.UInt16: Dequantize(x.Elements<ushort>(), scales, zps, inner, channels, y); break;
            case TensorElementType.Int16: Dequantize(x.Elements<short>(), scales, zps, inner, channels, y); break;
            default: Dequantize(x.Elements<int>(), scales, zps, inner, channels, y); break;
        }
        return result;
    }

    private static void Dequantize<T>(ReadOnlySpan<T> xs, float[] scales, int[] zps, long inner, int channels, Span<float> y)
        where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        for (var i = 0; i < xs.Length; i++)
        {
            var ch = (int)(i / inner % channels);
            y[i] = (float)(long.CreateTruncating(xs[i]) - zps[ch]) * scales[ch];
        }
    }

    /// <summary>Scale and zero point per channel of <paramref name="axis"/> (one channel when per tensor).</summary>
    private static (float[] Scales, int[] Zps, long Inner, int Channels) AxisParams(string op, Tensor x, Tensor scale,
        Tensor? zeroPoint, int axis, string prefix)
    {
        var scales = KernelArgs.Scales(op, prefix + "_scale", scale);
        if (zeroPoint is not null && !zeroPoint.ShapeEquals(scale.Shape) && !(zeroPoint.ElementCount == 1 && scales.Length == 1))
            throw new InferenceException(op, $"{prefix}_zero_point {zeroPoint.ShapeText} and {prefix}_scale {scale.ShapeText} differ in shape");
        if (scales.Length == 1 && scale.Rank <= 1)
        {
            var zp = zeroPoint is null ? 0 : KernelArgs.Ints(zeroPoint)[0];
            return ([scales[0]], [zp], 1, 1);
        }
        if (scale.Rank != 1) throw new InferenceException(op, $"{prefix}_scale must be a scalar or 1-D (blocked quantization is not supported)");
        var a = KernelArgs.NormalizeAxis(op, axis, x.Rank);
        if (x.Shape[a] != scales.Length)
            throw new InferenceException(op, $"{prefix}_scale has {scales.Length} values but axis {axis} of x has {x.Shape[a]}");
        var zps = zeroPoint is null ? new int[scales.Length] : KernelArgs.Ints(zeroPoint);
        return (scales, zps, KernelArgs.Product(x.Shape, a + 1), scales.Length);
    }
}
