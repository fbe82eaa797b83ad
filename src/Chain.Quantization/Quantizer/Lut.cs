namespace Chain.Quantization.Quantizer;

/// <summary>
/// 256-entry lookup tables that replace a unary float function on an int8 tensor. Entry <c>i</c> of a table
/// indexed by the int8 value <c>q</c> cast to int32 is read by ONNX Gather, where a negative index counts from
/// the end: so entries 0…127 hold q = 0…127 and entries 128…255 hold q = −128…−1 (<c>table[i] = F(i − 256)</c> for
/// i ≥ 128). Each entry is <c>saturate(roundHalfToEven(f((q − x_zp)·x_scale) / y_scale) + y_zp)</c>, computed here
/// in float64 offline: consensus only ever reads the table.
/// </summary>
public static class Lut
{
    /// <summary>The int8 value an entry of a Gather-indexed table answers for.</summary>
    public static int IndexToValue(int index) => index < 128 ? index : index - 256;

    /// <summary>The table for <paramref name="f"/> from input (scale, zp) to output (scale, zp).</summary>
    public static sbyte[] Build(Func<double, double> f, float xScale, int xZp, float yScale, int yZp)
    {
        var table = new sbyte[256];
        for (var i = 0; i < 256; i++) table[i] = Entry(f, IndexToValue(i), xScale, xZp, yScale, yZp);
        return table;
    }

    /// <summary>
    /// A per-channel table of C·256 entries indexed by <c>c·256 + q + 128</c> (the index the graph computes with
    /// Cast, an Add of per-channel offsets and a Clip that proves the range to admission).
    /// </summary>
    public static sbyte[] BuildPerChannel(int channels, Func<int, double, double> f, float xScale, int xZp, float yScale, int yZp)
    {
        var table = new sbyte[channels * 256];
        for (var c = 0; c < channels; c++)
            for (var q = -128; q <= 127; q++)
                table[c * 256 + q + 128] = Entry(v => f(c, v), q, xScale, xZp, yScale, yZp);
        return table;
    }

    public static sbyte Entry(Func<double, double> f, int q, float xScale, int xZp, float yScale, int yZp)
    {
        var x = (double)(q - xZp) * xScale;
        return Quantize(f(x), yScale, yZp);
    }

    /// <summary>Quantizes one real value: round half to even, saturate to int8; NaN maps to the zero point.</summary>
    public static sbyte Quantize(double y, float scale, int zp)
    {
        if (double.IsNaN(y)) return (sbyte)zp;
        var v = Math.Round(y / scale, MidpointRounding.ToEven) + zp;
        return (sbyte)Math.Clamp(v, -128, 127);
    }

    /// <summary>The float functions the quantizer turns into tables, by ONNX op (attributes with their ONNX defaults).</summary>
    public static Func<double, double>? Function(string op, Func<string, float, float> attr) => op switch
    {
        "Sigmoid" => x => 1 / (1 + Math.Exp(-x)),
        "Tanh" => Math.Tanh,
        "HardSigmoid" => HardSigmoid(attr("alpha", 0.2f), attr("beta", 0.5f)),
        "HardSwish" => x => x * HardSigmoid(1 / 6.0, 0.5)(x),
        "LeakyRelu" => LeakyRelu(attr("alpha", 0.01f)),
        "Elu" => Elu(attr("alpha", 1f)),
        "Celu" => Celu(attr("alpha", 1f)),
        "Selu" => Selu(attr("alpha", 1.67326319217681884765625f), attr("gamma", 1.05070102214813232421875f)),
        "ThresholdedRelu" => ThresholdedRelu(attr("alpha", 1f)),
        "Softplus" => x => x > 30 ? x : Math.Log(1 + Math.Exp(x)),
        "Softsign" => x => x / (1 + Math.Abs(x)),
        "Mish" => x => x * Math.Tanh(x > 30 ? x : Math.Log(1 + Math.Exp(x))),
        "Exp" => Math.Exp,
        "Abs" => Math.Abs,
        "Neg" => x => -x,
        "Sqrt" => x => x >= 0 ? Math.Sqrt(x) : double.NaN,
        "Reciprocal" => x => 1 / x,
        _ => null,
    };

    private static Func<double, double> HardSigmoid(double alpha, double beta) => x => Math.Max(0, Math.Min(1, alpha * x + beta));
    private static Func<double, double> LeakyRelu(double alpha) => x => x >= 0 ? x : alpha * x;
    private static Func<double, double> Elu(double alpha) => x => x > 0 ? x : alpha * (Math.Exp(x) - 1);
    private static Func<double, double> Celu(double alpha) => x => Math.Max(0, x) + Math.Min(0, alpha * (Math.Exp(x / alpha) - 1));
    private static Func<double, double> Selu(double alpha, double gamma) => x => x > 0 ? gamma * x : gamma * alpha * (Math.Exp(x) - 1);
    private static Func<double, double> ThresholdedRelu(double alpha) => x => x > alpha ? x : 0;
}
