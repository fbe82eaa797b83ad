using Chain.Inference.Admission;
using Chain.Inference.Onnx;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Tests.Admission;

/// <summary>
/// Seeded random ONNX models over every admitted op (MatMulInteger, QLinearMatMul, ConvInteger and
/// QLinearConv with groups/dilations/pads/strides/auto_pad, QuantizeLinear, DequantizeLinear, Add, Mul,
/// Max, Clip, Relu, MaxPool with ceil_mode/pads/auto_pad, Reshape, Flatten, Transpose, Concat, Gather,
/// ArgMax, Cast, Identity) and a few ops outside it: random broadcasts, scalar and per-channel zero
/// points, scales from ordinary to subnormal, huge, tiny and exact ties, and attributes that are
/// sometimes invalid. Constants are initializers or, sometimes, Constant nodes. The model is built with
/// the project's own <see cref="OnnxModel"/> writer.
///
/// Node by node: after each new node the partial model goes through admission, which gives the new
/// value's type and shape for later nodes to build on. A node admission refuses is usually dropped and
/// another tried, so graphs grow deep; sometimes it is kept and the model ends there, refused.
/// The same seed always gives the same model.
/// </summary>
public sealed class RandomModelGenerator
{
    private readonly Random _rng;
    private readonly long _opset;
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensor> _inits = [];
    private readonly List<OnnxValueInfo> _inputs = [];
    private readonly Dictionary<string, TensorInfo> _known = new(StringComparer.Ordinal); // values a node may consume
    private readonly List<string> _floatOutputs = [];                                      // DequantizeLinear outputs
    private readonly Dictionary<string, Tensor> _constants = new(StringComparer.Ordinal);  // initializers and Constant nodes
    private int _names;
    private readonly long _microsoftImport; // the com.microsoft version imported when used; 0: none

    private RandomModelGenerator(int seed)
    {
        _rng = new Random(seed);
        // Mostly opsets where every integer op is defined; sometimes older ones, whose rules admission enforces.
        _opset = _rng.Next(4) == 0 ? _rng.Next(10, 14) : _rng.Next(14, 26);
        _microsoftImport = _rng.Next(40) switch { 0 => 0, 1 => 2, _ => 1 };
    }

    /// <summary>The model for <paramref name="seed"/>.</summary>
    public static OnnxModel Generate(int seed) => new RandomModelGenerator(seed).Build();

    /// <summary>A readable listing of a model: opset, inputs, constants, nodes with attributes.</summary>
    public static string Describe(OnnxModel model)
    {
        var g = model.Graph;
        var lines = new List<string> { $"opset {model.DefaultOpset}" };
        lines.AddRange(g.Inputs.Select(v => $"input {v.Name}: {TensorElementTypes.Name(v.ElementType)}[{string.Join(",", v.Shape ?? [])}]"));
        foreach (var t in g.Initializers)
        {
            var values = t.Value.ElementType == T.Float
                ? string.Join(" ", t.Value.Elements<float>().ToArray().Take(8).Select(v => v.ToString("R")))
                : t.Value.ElementType == T.UInt64 ? "…" : string.Join(" ", ModelAdmissionValues(t.Value).Take(8));
            lines.Add($"const {t.Name}: {t.Value.ShapeText} {TensorElementTypes.Name(t.Value.ElementType)} = {values}{(t.Value.ElementCount > 8 ? " …" : "")}");
        }
        foreach (var n in g.Nodes)
        {
            var attrs = n.Attributes.Select(a => a.Name + "=" + a.Type switch
            {
                OnnxAttributeType.Int => a.I.ToString(),
                OnnxAttributeType.Ints => "[" + string.Join(",", a.Ints ?? []) + "]",
                OnnxAttributeType.String => a.AsString(),
                OnnxAttributeType.Float => a.F.ToString("R"),
                _ => a.Type.ToString(),
            });
            lines.Add($"{string.Join(", ", n.Outputs)} = {n.OpType}({string.Join(", ", n.Inputs)}) {string.Join(" ", attrs)}");
        }
        lines.Add("outputs: " + string.Join(", ", g.Outputs.Select(o => o.Name)));
        return string.Join("\n", lines);
    }

    private static IEnumerable<long> ModelAdmissionValues(Tensor t) => t.ElementType switch
    {
        T.UInt8 => t.Data.ToArray().Select(v => (long)v),
        T.Int8 => t.Elements<sbyte>().ToArray().Select(v => (long)v),
        T.UInt16 => t.Elements<ushort>().ToArray().Select(v => (long)v),
        T.Int16 => t.Elements<short>().ToArray().Select(v => (long)v),
        T.Int32 => t.Elements<int>().ToArray().Select(v => (long)v),
        T.UInt32 => t.Elements<uint>().ToArray().Select(v => (long)v),
        T.Int64 => t.Elements<long>().ToArray(),
        _ => [],
    };

    private static readonly string[] Ops =
    [
        "MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv", "QuantizeLinear", "DequantizeLinear", "Add", "Mul",
        "Max", "Clip", "Relu", "MaxPool", "Reshape", "Flatten", "Transpose", "Concat", "Gather", "ArgMax", "Cast", "Identity",
        "QLinearAdd", "QLinearMul", "QLinearAveragePool", "QLinearGlobalAveragePool",
    ];

    private const string Microsoft = "com.microsoft";

    private static readonly T[] IntTypes = [T.UInt8, T.Int8, T.UInt16, T.Int16, T.Int32, T.Int64, T.UInt32, T.UInt64];

    private OnnxModel Build()
    {
        for (var i = 0; i < 1 + _rng.Next(2); i++) NewInput(Pick(T.UInt8, T.Int8, T.UInt8, T.Int8, T.Int32, IntTypes[_rng.Next(IntTypes.Length)]), RandomShape(1, 4));
        var steps = 1 + _rng.Next(7);
        string? last = null;
        for (var step = 0; step < steps; step++)
        {
            var added = false;
            for (var attempt = 0; attempt < 6 && !added; attempt++)
            {
                var mark = (_nodes.Count, _inits.Count, _inputs.Count);
                var op = _rng.Next(40) == 0 ? Pick("Softmax", "MatMul", "Where") : Ops[_rng.Next(Ops.Length)];
                var output = Emit(op);
                var report = ModelAdmission.Check(Assemble([output], declare: false).ToBytes());
                if (report.Admitted)
                {
                    if (op == "DequantizeLinear") _floatOutputs.Add(output);
                    else _known[output] = report.Values[output];
                    last = output;
                    added = true;
                }
                else if (_rng.Next(8) == 0)
                {
                    // Keep the refused node: the model tests a refusal.
                    return Assemble([output], declare: true);
                }
                else Rollback(mark);
            }
        }
        if (last is null)
        {
            var x = _known.Keys.First();
            last = Fresh("v");
            _nodes.Add(Node("Identity", [x], last));
        }
        var outputs = new List<string> { last };
        foreach (var v in _known.Keys.Where(v => _nodes.Any(n => n.Outputs.Contains(v))))
            if (v != last && _rng.Next(4) == 0) outputs.Add(v);
        return Assemble(outputs, declare: true);
    }

    /// <summary>
    /// The model so far with these outputs (and every float output, which must leave the graph). With
    /// <paramref name="declare"/>, some outputs declare their type and shape (now and then a wrong one).
    /// </summary>
    private OnnxModel Assemble(IEnumerable<string> outputs, bool declare)
    {
        var outs = new List<OnnxValueInfo>();
        foreach (var name in outputs.Concat(_floatOutputs).Distinct())
        {
            if (declare && _known.TryGetValue(name, out var info) && _rng.Next(3) == 0)
            {
                var shape = info.Shape.Select(d => (long)d).ToArray();
                if (_rng.Next(10) == 0 && shape.Length > 0) shape[0]++;
                outs.Add(new OnnxValueInfo(name, (int)info.ElementType, shape.Select(OnnxDim.Fixed).ToArray()));
            }
            else outs.Add(new OnnxValueInfo(name, 0, null));
        }
        var graph = new OnnxGraph("random", _nodes.ToArray(), _inits.ToArray(), _inputs.ToArray(), outs, []);
        // The com.microsoft import when a node needs it (now and then missing, or a wrong version).
        OpsetImport[] opsets = _nodes.Any(n => n.Domain == Microsoft) && _microsoftImport != 0
            ? [new OpsetImport("", _opset), new OpsetImport(Microsoft, _microsoftImport)]
            : [new OpsetImport("", _opset)];
        return new OnnxModel(9, opsets, graph, "random-model-generator", "1");
    }

    private void Rollback((int Nodes, int Inits, int Inputs) mark)
    {
        foreach (var v in _inputs.Skip(mark.Inputs)) _known.Remove(v.Name);
        _nodes.RemoveRange(mark.Nodes, _nodes.Count - mark.Nodes);
        _inits.RemoveRange(mark.Inits, _inits.Count - mark.Inits);
        _inputs.RemoveRange(mark.Inputs, _inputs.Count - mark.Inputs);
    }

    // ---- ops ----

    private string Emit(string op) => op switch
    {
        "MatMulInteger" or "QLinearMatMul" => MatMul(op),
        "ConvInteger" or "QLinearConv" => Conv(op),
        "QuantizeLinear" => Quantize(),
        "DequantizeLinear" => Dequantize(),
        "Add" or "Mul" => Binary(op),
        "Max" => Max(),
        "Clip" => Clip(),
        "Relu" => Unary("Relu", Activation(t => t.ElementType is T.Int8 or T.Int16 or T.Int32 or T.Int64, Pick(T.Int8, T.Int32), 0, 4)),
        "MaxPool" => MaxPool(),
        "Reshape" => Reshape(),
        "Flatten" => Unary("Flatten", AnyActivation(), Maybe(2) ? [OnnxAttribute.Of("axis", (long)_rng.Next(-4, 5))] : []),
        "Transpose" => Transpose(),
        "Concat" => Concat(),
        "Gather" => Gather(),
        "ArgMax" => ArgMax(),
        "Cast" => Unary("Cast", AnyActivation(), [OnnxAttribute.Of("to", (long)(Maybe(12) ? Pick(T.Float, T.Bool, T.Double) : IntTypes[_rng.Next(IntTypes.Length)]))]),
        "Identity" => Unary("Identity", Maybe(15) ? Const(T.Int8, RandomShape(0, 3)) : AnyActivation()),
        "QLinearAdd" or "QLinearMul" => QLinearBinary(op),
        "QLinearAveragePool" or "QLinearGlobalAveragePool" => QLinearPool(op),
        _ => Unary(op, AnyActivation()),
    };

    private string MatMul(string op)
    {
        var qlinear = op == "QLinearMatMul";
        var a = Activation(t => IsEight(t.ElementType) && t.Rank is >= 1 and <= 4, Pick(T.UInt8, T.Int8), 1, 3);
        var ai = _known[a];
        int k = ai.Shape[^1], m = ai.Rank == 1 ? 1 : ai.Shape[^2], n = 1 + _rng.Next(5);
        var bType = Pick(T.UInt8, T.Int8, ai.ElementType);
        int[] bShape = Maybe(6) ? [k] : [.. BroadcastPartner(ai.Rank > 2 ? ai.Shape[..^2] : []), k, n];
        if (bShape.Length == 1) n = 1;
        // u8 × s8 needs constant s8 weights in [−64, 63] (the int16 pair bound); mostly respect it.
        var narrow = ai.ElementType != bType && !Maybe(8);
        var b = Maybe(5) && bType == ai.ElementType ? NewInput(bType, bShape) : Const(bType, bShape, narrow ? Narrow : null);
        if (!qlinear)
        {
            var aZp = Maybe(2) ? ZeroPoint(ai.ElementType, m) : "";
            var bZp = Maybe(2) ? ZeroPoint(bType, n) : "";
            return Add(op, [a, b, aZp, bZp]);
        }
        var yType = Pick(T.UInt8, T.Int8);
        return Add(op, [a, Scales(m), ZeroPoint(ai.ElementType, m), b, Scales(n), ZeroPoint(bType, n), Scales(m), ZeroPoint(yType, m)]);
    }

    private string Conv(string op)
    {
        var qlinear = op == "QLinearConv";
        var spatial = Maybe(25) ? 4 : Pick(1, 2, 2, 3);
        var x = Activation(t => IsEight(t.ElementType) && t.Rank == spatial + 2, Pick(T.UInt8, T.Int8), spatial + 2, spatial + 2,
            () => [1 + _rng.Next(2), 1 + _rng.Next(4), .. Enumerable.Range(0, spatial).Select(_ => 1 + _rng.Next(spatial == 3 ? 4 : 7))]);
        var xi = _known[x];
        var c = xi.Shape[1];
        var divisors = Enumerable.Range(1, Math.Max(1, c)).Where(g => c % g == 0).ToArray();
        var group = Maybe(3) ? divisors[_rng.Next(divisors.Length)] : 1;
        var mOut = group * (1 + _rng.Next(3));
        var kernel = Enumerable.Range(0, spatial).Select(_ => 1 + _rng.Next(3)).ToArray();
        var wType = Pick(T.UInt8, T.Int8, xi.ElementType);
        int[] wShape = [mOut, Math.Max(0, c / group), .. kernel];
        if (Maybe(25)) wShape[1]++;
        var narrow = xi.ElementType != wType && !Maybe(8);
        var w = Maybe(8) && wType == xi.ElementType ? NewInput(wType, wShape) : Const(wType, wShape, narrow ? Narrow : null);
        var attrs = WindowAttributes(spatial, kernel, pool: false);
        if (group != 1 || Maybe(4)) attrs.Add(OnnxAttribute.Of("group", Maybe(30) ? (long)(group + 1) : group));
        if (Maybe(3)) attrs.Add(OnnxAttribute.Of("kernel_shape", kernel.Select(d => Maybe(20) ? d + 1L : d).ToArray()));
        var xZp = Maybe(25) ? Const(xi.ElementType, [2]) : ZeroPointScalar(xi.ElementType);
        if (!qlinear) return Add(op, [x, w, Maybe(2) ? xZp : "", Maybe(2) ? ZeroPoint(wType, mOut) : ""], [.. attrs]);
        var bias = Maybe(2) ? Const(T.Int32, [Maybe(20) ? mOut + 1 : mOut], () => Maybe(10) ? _rng.Next(int.MinValue, int.MaxValue) : _rng.Next(-2000, 2000)) : null;
        string[] inputs = [x, Scales(1), xZp, w, Scales(mOut), ZeroPoint(wType, mOut), Scales(1), ZeroPointScalar(Pick(T.UInt8, T.Int8))];
        return Add(op, bias is null ? inputs : [.. inputs, bias], [.. attrs]);
    }

    /// <summary>strides, dilations, pads and auto_pad for a window over <paramref name="spatial"/> axes; sometimes invalid.</summary>
    private List<OnnxAttribute> WindowAttributes(int spatial, int[] kernel, bool pool)
    {
        var attrs = new List<OnnxAttribute>();
        long[] Per(int lo, int hi) => Enumerable.Range(0, spatial).Select(_ => (long)_rng.Next(lo, hi + 1)).ToArray();
        if (Maybe(2)) attrs.Add(OnnxAttribute.Of("strides", Maybe(30) ? Per(0, 3) : Per(1, 3)));
        if (Maybe(3)) attrs.Add(OnnxAttribute.Of("dilations", Per(1, 3)));
        var autoPad = Maybe(3) ? Pick("VALID", "SAME_UPPER", "SAME_LOWER", "NOTSET", Maybe(10) ? "BOGUS" : "SAME_UPPER") : null;
        if (autoPad is not null) attrs.Add(OnnxAttribute.Of("auto_pad", autoPad));
        if (autoPad is null or "NOTSET" ? Maybe(2) : Maybe(12))
        {
            // Pads below the kernel mostly (ONNX requires it for pooling), sometimes at or beyond it.
            var pads = Enumerable.Range(0, 2 * spatial).Select(i => (long)_rng.Next(0, Maybe(6) ? kernel[i % spatial] + 2 : kernel[i % spatial])).ToArray();
            if (Maybe(30) && pads.Length > 0) pads[0] = -1;
            attrs.Add(OnnxAttribute.Of("pads", Maybe(25) ? pads[1..] : pads));
        }
        if (pool && Maybe(3)) attrs.Add(OnnxAttribute.Of("ceil_mode", 1L));
        return attrs;
    }

    private string Quantize()
    {
        string x;
        if (Maybe(4))
        {
            // A float constant: ordinary values, ties, and now and then infinities or NaN.
            var shape = RandomShape(0, 3);
            x = ConstFloat(shape, () => _rng.Next(30) switch
            {
                0 => float.PositiveInfinity,
                1 => float.NegativeInfinity,
                2 => Maybe(3) ? float.NaN : 1e30f,
                3 => 0.5f,
                4 => -2.5f,
                _ => (float)(_rng.NextDouble() * 600 - 300),
            });
        }
        else x = Activation(t => t.ElementType == T.Int32, T.Int32, 0, 4);
        var xi = InfoOf(x);
        var attrs = new List<OnnxAttribute>();
        var zpType = Pick(T.UInt8, T.Int8, T.UInt8, T.Int8, T.UInt16, T.Int16);
        var (scale, zp) = AxisParameters(xi, zpType, attrs);
        if (Maybe(10)) attrs.Add(OnnxAttribute.Of("output_dtype", (long)Pick(zpType, T.UInt8, T.Int16, T.Int32)));
        if (Maybe(30)) attrs.Add(OnnxAttribute.Of("block_size", 2L));
        return Add("QuantizeLinear", Maybe(4) ? [x, scale] : [x, scale, zp], [.. attrs]);
    }

    /// <summary>com.microsoft QLinearAdd/QLinearMul: broadcast partners, scalar scales (now and then per-channel), optional zero points.</summary>
    private string QLinearBinary(string op)
    {
        var a = Activation(t => IsEight(t.ElementType), Pick(T.UInt8, T.Int8), 0, 4);
        var ai = _known[a];
        var b = Partner(ai);
        var type = ai.ElementType;
        string Zp() => Maybe(6) ? "" : Maybe(25) ? NewInput(type, []) : ZeroPointScalar(Maybe(25) ? T.Int32 : type);
        string Sc() => Maybe(25) ? Scales(3) : Scales(1);
        string[] inputs = Maybe(2) ? [a, Sc(), Zp(), b, Sc(), Zp(), Sc(), Zp()] : [b, Sc(), Zp(), a, Sc(), Zp(), Sc(), Zp()];
        return AddMicrosoft(op, inputs, []);
    }

    /// <summary>com.microsoft QLinearAveragePool (window attributes, count_include_pad) and QLinearGlobalAveragePool.</summary>
    private string QLinearPool(string op)
    {
        var spatial = Maybe(25) ? 4 : Pick(1, 2, 2, 3);
        var x = Activation(t => IsEight(t.ElementType) && t.Rank == spatial + 2, Pick(T.UInt8, T.Int8), spatial + 2, spatial + 2,
            () => [1 + _rng.Next(2), 1 + _rng.Next(3), .. Enumerable.Range(0, spatial).Select(_ => 1 + _rng.Next(spatial == 3 ? 5 : 8))]);
        var type = _known[x].ElementType;
        var attrs = new List<OnnxAttribute>();
        if (Maybe(20)) attrs.Add(OnnxAttribute.Of("channels_last", 1L));
        string[] inputs = [x, Scales(1), ZeroPointScalar(type), Scales(1), ZeroPointScalar(type)];
        if (op == "QLinearAveragePool")
        {
            var dims = _known[x].Shape[2..];
            var kernel = Enumerable.Range(0, spatial).Select(i => Maybe(5) && i < dims.Length ? Math.Max(1, dims[i]) : 1 + _rng.Next(3)).ToArray();
            attrs.AddRange(WindowAttributes(spatial, kernel, pool: true));
            if (!Maybe(30)) attrs.Add(OnnxAttribute.Of("kernel_shape", kernel.Select(k => (long)k).ToArray()));
            if (Maybe(2)) attrs.Add(OnnxAttribute.Of("count_include_pad", 1L));
            if (Maybe(3)) inputs[4] = "";
        }
        return AddMicrosoft(op, inputs, [.. attrs]);
    }

    private string AddMicrosoft(string op, string[] inputs, OnnxAttribute[] attrs)
    {
        var count = inputs.Length;
        while (count > 0 && inputs[count - 1].Length == 0) count--;
        var output = Fresh("v");
        _nodes.Add(new OnnxNode(Maybe(2) ? "" : "n" + _nodes.Count, op, Maybe(40) ? "" : Microsoft, inputs[..count], [output], attrs));
        return output;
    }

    private string Dequantize()
    {
        var x = Activation(t => t.ElementType is T.UInt8 or T.Int8 or T.Int32, Pick(T.UInt8, T.Int8, T.Int32), 0, 4);
        var xi = _known[x];
        var attrs = new List<OnnxAttribute>();
        var (scale, zp) = AxisParameters(xi, xi.ElementType, attrs);
        return Add("DequantizeLinear", Maybe(3) ? [x, scale] : [x, scale, zp], [.. attrs]);
    }

    /// <summary>A per-tensor or per-axis (with an axis attribute) scale and zero point for <paramref name="x"/>.</summary>
    private (string Scale, string ZeroPoint) AxisParameters(TensorInfo x, T zpType, List<OnnxAttribute> attrs)
    {
        if (x.Rank == 0 || Maybe(2)) return (Scales(1), ZeroPointScalar(zpType));
        var axis = _rng.Next(-x.Rank, x.Rank);
        if (axis != 1 || Maybe(2)) attrs.Add(OnnxAttribute.Of("axis", Maybe(30) ? 1L << 40 : axis));
        var length = x.Shape[axis < 0 ? axis + x.Rank : axis];
        if (Maybe(20)) length++;
        return (ConstFloat([length], Scale), Const(zpType, [Maybe(20) ? length + 1 : length]));
    }

    private string Binary(string op)
    {
        var a = AnyActivation();
        var ai = _known[a];
        var b = Partner(ai);
        return Maybe(2) ? Add(op, [a, b]) : Add(op, [b, a]);
    }

    private string Max()
    {
        var a = AnyActivation();
        var ai = _known[a];
        var inputs = new List<string> { a };
        for (var i = _rng.Next(3); i > 0; i--) inputs.Insert(_rng.Next(inputs.Count + 1), Partner(ai));
        return Add("Max", [.. inputs]);
    }

    /// <summary>Another operand for an elementwise op: same type (rarely not) and a shape that broadcasts with <paramref name="a"/>.</summary>
    private string Partner(TensorInfo a)
    {
        var type = Maybe(20) ? IntTypes[_rng.Next(IntTypes.Length)] : a.ElementType;
        var shape = BroadcastPartner(a.Shape);
        var existing = _known.Where(kv => kv.Value.ElementType == type && kv.Value.Shape.SequenceEqual(shape)).Select(kv => kv.Key).ToList();
        if (existing.Count > 0 && Maybe(3)) return existing[_rng.Next(existing.Count)];
        return Maybe(3) ? NewInput(type, shape) : Const(type, shape);
    }

    private string Clip()
    {
        var x = AnyActivation();
        var type = _known[x].ElementType;
        string Bound() => Maybe(3) ? "" : Maybe(15) ? NewInput(type, []) : Const(Maybe(20) ? T.Int64 : type, Maybe(4) ? [1] : Maybe(25) ? [2] : []);
        var inputs = new List<string> { x };
        var count = _rng.Next(3);
        for (var i = 0; i < count; i++) inputs.Add(Bound());
        return Add("Clip", [.. inputs]);
    }

    private string MaxPool()
    {
        var spatial = Maybe(25) ? 4 : Pick(1, 2, 2, 3);
        var x = Activation(t => IsEight(t.ElementType) && t.Rank == spatial + 2, Pick(T.UInt8, T.Int8), spatial + 2, spatial + 2,
            () => [1 + _rng.Next(2), 1 + _rng.Next(3), .. Enumerable.Range(0, spatial).Select(_ => 1 + _rng.Next(spatial == 3 ? 5 : 8))]);
        var kernel = Enumerable.Range(0, spatial).Select(_ => 1 + _rng.Next(3)).ToArray();
        var attrs = WindowAttributes(spatial, kernel, pool: true);
        if (!Maybe(30)) attrs.Add(OnnxAttribute.Of("kernel_shape", kernel.Select(k => (long)k).ToArray()));
        if (Maybe(30)) attrs.Add(OnnxAttribute.Of("storage_order", 1L));
        var outputs = Maybe(30) ? new[] { Fresh("v"), Fresh("idx") } : [Fresh("v")];
        _nodes.Add(new OnnxNode(Maybe(2) ? "" : "n" + _nodes.Count, "MaxPool", "", [x], outputs, [.. attrs]));
        return outputs[0];
    }

    private string Reshape()
    {
        var x = AnyActivation();
        var xi = _known[x];
        var count = xi.ElementCount;
        // A random factorization of the element count, then −1 and 0 (copy) where they mean something.
        var dims = new List<long>();
        var rest = count;
        var rank = 1 + _rng.Next(4);
        for (var i = 0; i < rank - 1 && rest > 1; i++)
        {
            var divisors = Enumerable.Range(1, (int)Math.Min(rest, 64)).Where(d => rest % d == 0).ToArray();
            var d = divisors[_rng.Next(divisors.Length)];
            dims.Add(d);
            rest /= d;
        }
        dims.Add(rest);
        if (Maybe(3)) dims[_rng.Next(dims.Count)] = -1;
        for (var i = 0; i < dims.Count && i < xi.Rank; i++)
            if (dims[i] == xi.Shape[i] && Maybe(3)) dims[i] = 0;
        if (Maybe(12)) dims[_rng.Next(dims.Count)] += 1;
        var attrs = Maybe(8) ? new[] { OnnxAttribute.Of("allowzero", 1L) } : [];
        var shape = Maybe(25) ? NewInput(T.Int64, [dims.Count]) : ConstLongs(dims.ToArray());
        return Add("Reshape", [x, shape], attrs);
    }

    private string Transpose()
    {
        var x = AnyActivation();
        var rank = _known[x].Rank;
        if (Maybe(4)) return Unary("Transpose", x);
        var perm = Enumerable.Range(0, rank).Select(i => (long)i).OrderBy(_ => _rng.Next()).ToArray();
        if (Maybe(15) && perm.Length > 0) perm[0] = rank;
        return Unary("Transpose", x, [OnnxAttribute.Of("perm", perm)]);
    }

    private string Concat()
    {
        var x = Activation(t => t.Rank >= 1, Pick(T.UInt8, T.Int8, T.Int32), 1, 4);
        var xi = _known[x];
        var axis = _rng.Next(-xi.Rank, xi.Rank);
        var a = axis < 0 ? axis + xi.Rank : axis;
        var inputs = new List<string> { x };
        for (var i = _rng.Next(3); i > 0; i--)
        {
            var shape = xi.Shape.ToArray();
            shape[a] = _rng.Next(0, 4);
            if (Maybe(15)) shape[(a + 1) % shape.Length]++;
            inputs.Add(Maybe(4) ? x : Maybe(2) ? Const(xi.ElementType, shape) : NewInput(xi.ElementType, shape));
        }
        OnnxAttribute[] attrs = Maybe(20) ? [] : [OnnxAttribute.Of("axis", Maybe(20) ? (long)xi.Rank : axis)];
        return Add("Concat", [.. inputs], attrs);
    }

    private string Gather()
    {
        string data, indices;
        int axisLength;
        var axis = 0L;
        var choice = _rng.Next(10);
        if (choice < 3)
        {
            // A lookup table indexed by a uint8 activation cast to int32/int64: in range exactly when the table has 256 entries.
            var table = Pick(256, 256, 255, 300);
            data = Const(Pick(T.UInt8, T.Int8, T.Int32), [table]);
            var u8 = Activation(t => t.ElementType == T.UInt8, T.UInt8, 0, 3);
            indices = Add("Cast", [u8], [OnnxAttribute.Of("to", (long)Pick(T.Int32, T.Int64))]);
            axisLength = table;
        }
        else
        {
            data = Maybe(3) ? Const(Pick(T.UInt8, T.Int16, T.Int64), RandomShape(1, 3)) : Activation(t => t.Rank >= 1, T.UInt8, 1, 3);
            var di = InfoOf(data);
            axis = _rng.Next(-di.Rank, di.Rank);
            axisLength = di.Shape[axis < 0 ? (int)axis + di.Rank : (int)axis];
            if (choice < 7)
            {
                var n = axisLength;
                indices = Const(Pick(T.Int32, T.Int64), RandomShape(0, 2),
                    () => n == 0 ? 0 : Maybe(25) ? n : _rng.Next(-n, n));
            }
            else if (choice < 9)
            {
                // ArgMax indices lie in [0, length − 1] of the reduced axis.
                var source = Activation(t => t.Rank >= 1 && t.Shape.Any(d => d > 0), T.Int8, 1, 3);
                var si = _known[source];
                var reduce = _rng.Next(si.Rank);
                indices = Add("ArgMax", [source], [OnnxAttribute.Of("axis", (long)reduce)]);
            }
            else indices = NewInput(Pick(T.Int64, T.Int32), RandomShape(0, 2));
        }
        OnnxAttribute[] attrs = axis != 0 ? [OnnxAttribute.Of("axis", axis)] : [];
        return Add("Gather", [data, indices], attrs);
    }

    private string ArgMax()
    {
        var x = Activation(t => t.Rank >= 1, Pick(T.UInt8, T.Int8, T.Int32), 1, 4);
        var rank = _known[x].Rank;
        var attrs = new List<OnnxAttribute>();
        if (Maybe(2)) attrs.Add(OnnxAttribute.Of("axis", (long)_rng.Next(-rank, Maybe(15) ? rank + 1 : rank)));
        if (Maybe(2)) attrs.Add(OnnxAttribute.Of("keepdims", (long)_rng.Next(2)));
        if (Maybe(3)) attrs.Add(OnnxAttribute.Of("select_last_index", 1L));
        return Unary("ArgMax", x, [.. attrs]);
    }

    private string Unary(string op, string x, OnnxAttribute[]? attrs = null) => Add(op, [x], attrs ?? []);

    // ---- values ----

    private string Add(string op, string[] inputs, OnnxAttribute[]? attrs = null)
    {
        // Trailing omitted optional inputs are dropped; inner ones stay "" (ONNX's convention).
        var count = inputs.Length;
        while (count > 0 && inputs[count - 1].Length == 0) count--;
        var output = Fresh("v");
        _nodes.Add(Node(op, inputs[..count], output, attrs ?? []));
        return output;
    }

    private OnnxNode Node(string op, string[] inputs, string output, params OnnxAttribute[] attrs) =>
        new(Maybe(2) ? "" : "n" + _nodes.Count, op, "", inputs, [output], attrs);

    private string Fresh(string prefix) => $"{prefix}{_names++}";

    private TensorInfo InfoOf(string name) =>
        _known.TryGetValue(name, out var info) ? info : new TensorInfo(_constants[name].ElementType, _constants[name].Shape.ToArray());

    private string AnyActivation() => Activation(_ => true, Pick(T.UInt8, T.Int8, T.Int32, T.Int16, T.Int64, T.UInt32, T.UInt64), 0, 4);

    /// <summary>An existing value that <paramref name="fits"/> (usually), else a new graph input of <paramref name="type"/>.</summary>
    private string Activation(Func<TensorInfo, bool> fits, T type, int minRank, int maxRank, Func<int[]>? shape = null)
    {
        var candidates = _known.Where(kv => fits(kv.Value)).Select(kv => kv.Key).ToList();
        if (candidates.Count > 0 && !Maybe(5)) return candidates[_rng.Next(candidates.Count)];
        return NewInput(type, shape?.Invoke() ?? RandomShape(minRank, maxRank));
    }

    private string NewInput(T type, int[] shape)
    {
        var name = Fresh("in");
        _inputs.Add(new OnnxValueInfo(name, (int)type, shape.Select(d => OnnxDim.Fixed(d)).ToArray()));
        _known[name] = new TensorInfo(type, shape);
        return name;
    }

    /// <summary>An integer constant: uniform over the type unless a generator is given; sometimes a Constant node.</summary>
    private string Const(T type, int[] shape, Func<long>? value = null)
    {
        var count = shape.Aggregate(1, (a, d) => a * d);
        var size = TensorElementTypes.SizeOf(type);
        var data = new byte[count * size];
        var (min, max) = Range(type);
        for (var i = 0; i < count; i++)
        {
            var v = value?.Invoke() ?? (Maybe(4) ? Pick(min, max, 0L) : min + (long)(_rng.NextDouble() * ((double)max - min)));
            for (var b = 0; b < size; b++) data[i * size + b] = (byte)(v >> (8 * b));
        }
        return AddConstant(Tensor.Create(type, shape, data));
    }

    private string ConstFloat(int[] shape, Func<float> value) =>
        AddConstant(Tensor.Create<float>(T.Float, shape, Enumerable.Range(0, shape.Aggregate(1, (a, d) => a * d)).Select(_ => value()).ToArray()));

    private string ConstLongs(long[] values) => AddConstant(Tensor.Create<long>(T.Int64, [values.Length], values));

    private string AddConstant(Tensor value)
    {
        var name = Fresh("c");
        _constants[name] = value;
        if (Maybe(6))
        {
            // The same constant as a Constant node, folded back into an initializer when the model is read.
            var attr = value.ElementType == T.Int64 && value.Rank == 1 && Maybe(2)
                ? OnnxAttribute.Of("value_ints", value.Elements<long>().ToArray())
                : OnnxAttribute.Of("value", value);
            _nodes.Add(new OnnxNode("", "Constant", "", [], [name], [attr]));
        }
        else _inits.Add(new OnnxTensor(name, value));
        return name;
    }

    /// <summary>One scale, or <paramref name="length"/> of them (and now and then a wrong count).</summary>
    private string Scales(int length)
    {
        var count = length == 1 || Maybe(2) ? 1 : length + (Maybe(20) ? 1 : 0);
        int[] shape = count == 1 ? (Maybe(4) ? [1] : []) : [count];
        return ConstFloat(shape, Scale);
    }

    /// <summary>Ordinary scales mostly; then exact powers of two (ties), tiny, huge, subnormal and invalid ones.</summary>
    private float Scale() => _rng.Next(40) switch
    {
        0 => 1e-45f,
        1 => 1e-40f,
        2 => 3e38f,
        3 => 1e30f,
        4 => 1e-30f,
        5 => 1e-20f,
        6 => 1e20f,
        7 => 0f,
        8 => Pick(-0.5f, float.NaN, float.PositiveInfinity),
        < 16 => Pick(0.5f, 0.25f, 1f, 2f, 0.125f),
        _ => (float)Math.Pow(2, _rng.NextDouble() * 16 - 12),
    };

    /// <summary>A zero point of <paramref name="type"/>: scalar, [1], per vector of <paramref name="length"/>, or a wrong length.</summary>
    private string ZeroPoint(T type, int length)
    {
        int[] shape = _rng.Next(10) switch
        {
            < 4 => [],
            4 => [1],
            < 8 => [length],
            8 => [length + 1],
            _ => new[] { 1, 1 },
        };
        return Const(type, shape);
    }

    private string ZeroPointScalar(T type) => Const(type, Maybe(4) ? [1] : []);

    private long Narrow() => _rng.Next(-64, 64);

    // ---- shapes ----

    private int[] RandomShape(int minRank, int maxRank) =>
        Enumerable.Range(0, _rng.Next(minRank, maxRank + 1)).Select(_ => Maybe(40) ? 0 : 1 + _rng.Next(5)).ToArray();

    /// <summary>A shape that broadcasts with <paramref name="dims"/>: a suffix of it with some dims 1 (or, where it has 1, larger), maybe extra leading dims.</summary>
    private int[] BroadcastPartner(int[] dims)
    {
        var keep = _rng.Next(dims.Length + 1);
        var result = new List<int>();
        if (Maybe(6)) result.Add(1 + _rng.Next(2));
        foreach (var d in dims[(dims.Length - keep)..])
            result.Add(_rng.Next(10) switch { < 6 => d, < 9 => 1, _ => d == 1 ? 2 : d + 1 });
        return [.. result];
    }

    // ---- small helpers ----

    private bool Maybe(int oneIn) => _rng.Next(oneIn) == 0;

    private TItem Pick<TItem>(params TItem[] items) => items[_rng.Next(items.Length)];

    private static bool IsEight(T t) => t is T.UInt8 or T.Int8;

    private static (long Min, long Max) Range(T type) => type switch
    {
        T.UInt8 => (0, 255),
        T.Int8 => (-128, 127),
        T.UInt16 => (0, 65535),
        T.Int16 => (-32768, 32767),
        T.Int32 => (int.MinValue, int.MaxValue),
        T.UInt32 => (0, uint.MaxValue),
        _ => (long.MinValue, long.MaxValue),
    };
}
