using System.Diagnostics.CodeAnalysis;
using Chain.Inference.Kernels;
using Chain.Inference.Onnx;

namespace Chain.Inference.Admission;

public static partial class ModelAdmission
{
    private sealed partial class Checker
    {
        /// <summary>Thrown to stop checking the current node once it has a reason (or an input already failed).</summary>
        private sealed class Abort : Exception;

        private OnnxNode _node = null!;

        private TensorInfo?[]? CheckNode(OnnxNode node, out long macs)
        {
            _node = node;
            macs = 0;
            try
            {
                CheckAttributeNames(node);
                if (node.Domain == AdmissionLimits.MicrosoftDomain)
                {
                    if (!_microsoft) Fail("opset", $"op {node.OpType} is in domain {node.Domain}, which the model does not import");
                    switch (node.OpType)
                    {
                        case "QLinearAdd": return [QLinearBinaryOp(mul: false)];
                        case "QLinearMul": return [QLinearBinaryOp(mul: true)];
                        case "QLinearAveragePool": return [QLinearAveragePoolOp(out macs)];
                        case "QLinearGlobalAveragePool": return [QLinearGlobalAveragePoolOp(out macs)];
                        default:
                            Fail("unsupported-op", $"op {node.OpType} of domain {node.Domain} is not supported; from {node.Domain} only " +
                                                   "QLinearAdd, QLinearMul, QLinearAveragePool and QLinearGlobalAveragePool are admitted");
                            return null;
                    }
                }
                if (node.Domain is not ("" or "ai.onnx"))
                    Fail("unsupported-op", $"op '{node.Domain}.{node.OpType}' is outside the ai.onnx and com.microsoft domains");
                switch (node.OpType)
                {
                    case "MatMulInteger": return [MatMulInteger(out macs)];
                    case "QLinearMatMul": return [QLinearMatMul(out macs)];
                    case "ConvInteger": return [ConvInteger(out macs)];
                    case "QLinearConv": return [QLinearConv(out macs)];
                    case "QuantizeLinear": return [QuantizeLinear()];
                    case "DequantizeLinear": return [DequantizeLinear()];
                    case "Add" or "Mul": return [Binary()];
                    case "Max": return [Max()];
                    case "Clip": return [Clip()];
                    case "Relu": return [Relu()];
                    case "MaxPool": return [MaxPool(out macs)];
                    case "Reshape": return [Reshape()];
                    case "Flatten": return [Flatten()];
                    case "Transpose": return [Transpose()];
                    case "Concat": return [Concat()];
                    case "Gather": return [Gather()];
                    case "ArgMax": return [ArgMax()];
                    case "Cast": return [Cast()];
                    case "Identity": return [Identity()];
                    default:
                        Fail("unsupported-op", $"op {node.OpType} is not in the admitted subset");
                        return null;
                }
            }
            catch (Abort)
            {
                return null;
            }
            catch (Protobuf.OnnxFormatException e)
            {
                // An attribute of the wrong kind (e.g. axis given as a float).
                Refuse("attribute", $"{node.OpType}: {e.Message}", node);
                return null;
            }
            catch (OverflowException)
            {
                Refuse("limit", $"{node.OpType}: sizes overflow 64-bit arithmetic", node);
                return null;
            }
        }

        [DoesNotReturn]
        private void Fail(string code, string message)
        {
            Refuse(code, message, _node);
            throw new Abort();
        }

        private string Op => _node.OpType;

        private void MinOpset(long version, string what)
        {
            if (_opset < version) Fail("opset", $"{Op} {what} needs opset {version} or later (model imports {_opset})");
        }

        private void Outputs(int max)
        {
            for (var i = max; i < _node.Outputs.Count; i++)
                if (_node.Outputs[i].Length > 0) Fail("unsupported-op", $"{Op} output {i} ('{_node.Outputs[i]}') is not supported");
            if (_node.Outputs.Count == 0 || _node.Outputs[0].Length == 0) Fail("graph", $"{Op} has no output");
        }

        private void InputCount(int min, int max)
        {
            if (_node.Inputs.Count < min || _node.Inputs.Count > max)
                Fail("graph", $"{Op} takes {min}–{max} inputs, got {_node.Inputs.Count}");
        }

        /// <summary>Input <paramref name="index"/>'s type, or null when it is optional and omitted.</summary>
        private TensorInfo? Input(int index, bool required)
        {
            var name = _node.InputAt(index);
            if (name is null)
            {
                if (required) Fail("graph", $"{Op} input {index} is required but missing");
                return null;
            }
            // Unknown means an upstream value was already refused; that reason suffices.
            return _values.TryGetValue(name, out var info) ? info : throw new Abort();
        }

        /// <summary>An input that takes part in arithmetic: it must be an integer tensor.</summary>
        private TensorInfo Int(int index) => IntOpt(index, true)!;

        private TensorInfo? IntOpt(int index, bool required = false)
        {
            var info = Input(index, required);
            if (info is null) return null;
            var t = info.ElementType;
            if (t is TensorElementType.Float or TensorElementType.Double)
                Fail("float", $"{Op} computes on {TensorElementTypes.Name(t)} input '{_node.Inputs[index]}'; float values may only be quantization scales or a final DequantizeLinear output");
            if (!TensorElementTypes.IsInteger(t))
                Fail("type", $"{Op} input '{_node.Inputs[index]}' is {TensorElementTypes.Name(t)}, which is not supported");
            return info;
        }

        private void RequireTypes(TensorInfo info, int index, params TensorElementType[] allowed)
        {
            if (!allowed.Contains(info.ElementType))
                Fail("type", $"{Op} input '{_node.Inputs[index]}' is {TensorElementTypes.Name(info.ElementType)}; allowed: {string.Join(", ", allowed.Select(TensorElementTypes.Name))}");
        }

        /// <summary>
        /// A quantization scale: a constant float initializer holding at least one value, every one finite,
        /// positive and normal (a subnormal scale such as 1E-45 drives requantization multipliers to
        /// infinity or strips their precision).
        /// </summary>
        private Tensor Scale(int index)
        {
            var name = _node.InputAt(index) ?? Fail<string>("graph", $"{Op} scale input {index} is missing");
            if (!_values.ContainsKey(name)) throw new Abort();
            if (!_consts.TryGetValue(name, out var t) || t.ElementType != TensorElementType.Float)
                Fail("float", $"{Op} scale '{name}' must be a float32 constant initializer (a computed or input float would put float arithmetic in consensus)");
            if (t.ElementCount == 0) Fail("shape", $"{Op} scale '{name}' holds no values");
            foreach (var v in t.Elements<float>())
            {
                if (!float.IsFinite(v) || v <= 0) Fail("scale", $"{Op} scale '{name}' holds {v}; scales must be finite and positive");
                if (float.IsSubnormal(v))
                    Fail("scale", $"{Op} scale '{name}' holds the subnormal {v:R}; scales must be normal float32 numbers (at least {MinNormal:R})");
            }
            return t;
        }

        private const float MinNormal = 1.17549435E-38f; // the smallest normal float32, 2^-126

        /// <summary>
        /// A per-tensor or per-vector parameter (scale or zero point) as the kernels accept it: one value
        /// (any shape), or 1-D with exactly <paramref name="length"/> values, one per <paramref name="per"/>.
        /// </summary>
        private void PerVector(int index, int[] shape, int length, string per)
        {
            var count = shape.Aggregate(1L, (a, d) => a * d);
            if (count != 1 && !(shape.Length == 1 && shape[0] == length))
                Fail("shape", $"{Op} input '{_node.Inputs[index]}' has shape [{string.Join(",", shape)}]; it must hold one value or be 1-D with {length} values (one per {per})");
        }

        /// <summary>
        /// The requantization multipliers the kernel computes, m = Requantize.Multiplier(a, b, y) with a and y
        /// per row (one value or one per row) and b per column or channel: the float32 product a·b and m must
        /// both be normal numbers (finite, non-zero, not subnormal). Float32 rounding is monotone, so for a
        /// row the extremes of a·b and of m over b lie at b's smallest and largest value: checking those two
        /// (real multipliers of the kernel) checks every one.
        /// </summary>
        private void CheckMultipliers(Tensor aScale, Tensor bScale, Tensor yScale)
        {
            var a = aScale.Elements<float>();
            var y = yScale.Elements<float>();
            float bMin = float.MaxValue, bMax = 0;
            foreach (var v in bScale.Elements<float>())
            {
                bMin = Math.Min(bMin, v);
                bMax = Math.Max(bMax, v);
            }
            var rows = Math.Max(a.Length, y.Length);
            for (var i = 0; i < rows; i++)
            {
                float ai = a[a.Length == 1 ? 0 : i], yi = y[y.Length == 1 ? 0 : i];
                foreach (var bj in (ReadOnlySpan<float>)[bMin, bMax])
                {
                    // The kernel's first step: a·b rounded to float32 (dividing by 1 is exact).
                    var product = Kernels.Requantize.Multiplier(ai, bj, 1f);
                    var m = Kernels.Requantize.Multiplier(ai, bj, yi);
                    if (!float.IsNormal(product) || !float.IsNormal(m))
                        Fail("scale", $"{Op} requantization multiplier {ai:R}·{bj:R}/{yi:R}: the product is {product:R} and the multiplier {m:R}; " +
                                      "both must be normal float32 numbers (not infinite, zero or subnormal)");
                }
            }
        }

        /// <summary>An integer attribute the executor reads as an int: outside that range it cannot mean anything.</summary>
        private long Int32Attribute(string name, long defaultValue)
        {
            var v = _node.GetInt(name, defaultValue);
            if (v is < int.MinValue or > int.MaxValue) Fail("attribute", $"{Op} attribute {name}={v} does not fit in 32 bits");
            return v;
        }

        private static bool IsEight(TensorElementType t) => t is TensorElementType.UInt8 or TensorElementType.Int8;

        private void ZeroPointMatches(int index, TensorInfo? zp, TensorElementType expected)
        {
            if (zp is not null && zp.ElementType != expected)
                Fail("type", $"{Op} zero point '{_node.Inputs[index]}' is {TensorElementTypes.Name(zp.ElementType)} but its tensor is {TensorElementTypes.Name(expected)}");
        }

        [DoesNotReturn]
        private T Fail<T>(string code, string message)
        {
            Fail(code, message);
            return default;
        }

        // ---- value ranges, for the accumulator and saturation bounds ----

        private static (long Min, long Max) TypeRange(TensorElementType t) => t switch
        {
            TensorElementType.UInt8 => (0, 255),
            TensorElementType.Int8 => (-128, 127),
            TensorElementType.UInt16 => (0, 65535),
            TensorElementType.Int16 => (-32768, 32767),
            TensorElementType.Int32 => (int.MinValue, int.MaxValue),
            TensorElementType.UInt32 => (0, uint.MaxValue),
            // int64, and uint64 (whose upper half a long cannot hold): no bound known.
            _ => (long.MinValue, long.MaxValue),
        };

        internal static IEnumerable<long> Values(Tensor t)
        {
            switch (t.ElementType)
            {
                case TensorElementType.UInt8: foreach (var v in t.Data.ToArray()) yield return v; break;
                case TensorElementType.Int8: foreach (var v in t.Elements<sbyte>().ToArray()) yield return v; break;
                case TensorElementType.UInt16: foreach (var v in t.Elements<ushort>().ToArray()) yield return v; break;
                case TensorElementType.Int16: foreach (var v in t.Elements<short>().ToArray()) yield return v; break;
                case TensorElementType.Int32: foreach (var v in t.Elements<int>().ToArray()) yield return v; break;
                case TensorElementType.UInt32: foreach (var v in t.Elements<uint>().ToArray()) yield return v; break;
                case TensorElementType.Int64: foreach (var v in t.Elements<long>().ToArray()) yield return v; break;
                default: throw new InvalidOperationException($"no integer values in {t}");
            }
        }

        /// <summary>Actual range of a constant, else the range of its type (an activation can hold anything).</summary>
        private (long Min, long Max) RangeOf(string? name, TensorElementType type)
        {
            if (name is null) return (0, 0); // an omitted zero point is 0
            if (_consts.TryGetValue(name, out var t) && t.ElementCount > 0 && t.ElementType != TensorElementType.UInt64)
            {
                long min = long.MaxValue, max = long.MinValue;
                foreach (var v in Values(t))
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
                return (min, max);
            }
            return TypeRange(type);
        }

        /// <summary>
        /// Value ranges known tighter than the element type's, by node output (ArgMax indices, casts of
        /// narrower types, clipped or pooled values, data movement of those): what lets a non-constant
        /// Gather index be proven in range. uint64 values are never tracked (a long cannot order them).
        /// </summary>
        private readonly Dictionary<string, (long Min, long Max)> _ranges = new(StringComparer.Ordinal);

        /// <summary>The range of a value: a constant's actual values, a tracked node output's, else its type's.</summary>
        private (long Min, long Max) ValueRange(string name, TensorElementType type) =>
            _consts.ContainsKey(name) ? RangeOf(name, type) : _ranges.TryGetValue(name, out var r) ? r : TypeRange(type);

        /// <summary>Input <paramref name="index"/>'s range (see <see cref="ValueRange"/>).</summary>
        private (long Min, long Max) InputRange(int index, TensorElementType type) => ValueRange(_node.Inputs[index], type);

        /// <summary>Records the range of this node's output.</summary>
        private void OutputRange((long Min, long Max) range, TensorElementType type)
        {
            if (type != TensorElementType.UInt64 && range != TypeRange(type)) _ranges[_node.Outputs[0]] = range;
        }

        /// <summary>max |v − zp| over the value and zero-point ranges (conservative for per-channel zero points).</summary>
        private long MaxAbsDiff(string name, TensorElementType type, string? zp, TensorElementType zpType)
        {
            var (vmin, vmax) = RangeOf(name, type);
            var (zmin, zmax) = RangeOf(zp, zpType);
            return Math.Max(0, Math.Max(vmax - zmin, zmax - vmin));
        }

        private void CheckAccumulator(int aIdx, TensorInfo a, int aZpIdx, int bIdx, TensorInfo b, int bZpIdx, long k, long maxBias)
        {
            var aName = _node.Inputs[aIdx];
            var bName = _node.Inputs[bIdx];
            var aZp = _node.InputAt(aZpIdx);
            var bZp = _node.InputAt(bZpIdx);
            var ma = MaxAbsDiff(aName, a.ElementType, aZp, a.ElementType);
            var mb = MaxAbsDiff(bName, b.ElementType, bZp, b.ElementType);
            var bound = checked(k * ma * mb + maxBias);
            if (bound > AdmissionLimits.MaxAccumulator)
                Fail("overflow",
                    $"{Op} int32 accumulator can overflow: K={k} · max|a−a_zp|={ma} · max|b−b_zp|={mb}" +
                    (maxBias > 0 ? $" + max|bias|={maxBias}" : "") + $" = {bound} > 2^31−1");
            if (a.ElementType == TensorElementType.UInt8 && b.ElementType == TensorElementType.Int8) CheckS8(bName, bZp);
            if (a.ElementType == TensorElementType.Int8 && b.ElementType == TensorElementType.UInt8) CheckS8(aName, aZp);
        }

        private void CheckS8(string name, string? zp)
        {
            if (!_consts.ContainsKey(name))
                Fail("saturation", $"{Op} multiplies u8 by the non-constant s8 tensor '{name}': x86 vpmaddubsw (no VNNI) saturates pair sums to int16, so s8 operands of u8×s8 products must be constants in [{AdmissionLimits.MinS8Weight}, {AdmissionLimits.MaxS8Weight}]");
            var (wmin, wmax) = RangeOf(name, TensorElementType.Int8);
            var (zmin, zmax) = RangeOf(zp, TensorElementType.Int8);
            long lo = wmin - zmax, hi = wmax - zmin;
            if (lo < AdmissionLimits.MinS8Weight || hi > AdmissionLimits.MaxS8Weight)
                Fail("saturation", $"{Op} s8 weights '{name}' minus zero point span [{lo}, {hi}], outside [{AdmissionLimits.MinS8Weight}, {AdmissionLimits.MaxS8Weight}]: u8×s8 pair sums can saturate int16 in x86 vpmaddubsw (no VNNI); use u8×u8 or narrower weights");
        }

        // ---- shapes ----

        private int[] Broadcast(int[] x, int[] y)
        {
            var rank = Math.Max(x.Length, y.Length);
            var r = new int[rank];
            for (var i = 0; i < rank; i++)
            {
                var a = i < rank - x.Length ? 1 : x[i - (rank - x.Length)];
                var b = i < rank - y.Length ? 1 : y[i - (rank - y.Length)];
                if (a != b && a != 1 && b != 1)
                    Fail("shape", $"{Op} cannot broadcast [{string.Join(",", x)}] with [{string.Join(",", y)}]");
                r[i] = a == 1 ? b : a;
            }
            return r;
        }

        private int[] MatMulShape(int[] a, int[] b, out long k)
        {
            if (a.Length == 0 || b.Length == 0) Fail("shape", $"{Op} operands must have rank ≥ 1");
            var aa = a.Length == 1 ? [1, a[0]] : a;
            var bb = b.Length == 1 ? [b[0], 1] : b;
            k = aa[^1];
            if (bb[^2] != k) Fail("shape", $"{Op} inner dimensions differ: [{string.Join(",", a)}] × [{string.Join(",", b)}]");
            var batch = Broadcast(aa[..^2], bb[..^2]).ToList();
            if (a.Length > 1) batch.Add(aa[^2]);
            if (b.Length > 1) batch.Add(bb[^1]);
            return [.. batch];
        }

        private static long Product(IEnumerable<int> dims) => dims.Aggregate(1L, (acc, d) => checked(acc * d));

        /// <summary>Normalizes an axis in [-rank, rank-1] (or [-rank, rank] for Flatten's split point).</summary>
        private int Axis(long axis, int rank, bool allowRank = false)
        {
            var a = axis < 0 ? axis + rank : axis;
            if (a < 0 || a > rank || (a == rank && !allowRank)) Fail("attribute", $"{Op} axis {axis} is out of range for rank {rank}");
            return (int)a;
        }

        /// <summary>A Conv/Pool window along each spatial axis, resolved as the executor runs it.</summary>
        private sealed record WindowAxes(int[] Output, long[] PadBegin, long[] PadEnd, long[] Strides, long[] Dilations);

        /// <summary>
        /// Output spatial dims of a Conv/Pool window (ONNX formulas, auto_pad included) and the pads the
        /// executor uses: explicit ones for NOTSET, none for VALID, and for SAME_* the total
        /// max(0, (out−1)·s + e − in) split with the odd one at the end (UPPER) or beginning (LOWER).
        /// </summary>
        private WindowAxes Window(int[] x, int[] kernel, bool pool)
        {
            var n = x.Length - 2;
            var strides = _node.GetInts("strides") ?? Enumerable.Repeat(1L, n).ToArray();
            var dilations = _node.GetInts("dilations") ?? Enumerable.Repeat(1L, n).ToArray();
            var pads = _node.GetInts("pads") ?? new long[2 * n];
            if (strides.Length != n || dilations.Length != n || pads.Length != 2 * n)
                Fail("attribute", $"{Op} strides/dilations/pads do not match {n} spatial dimensions");
            if (strides.Any(s => s < 1 || s > AdmissionLimits.MaxDim) || dilations.Any(d => d < 1 || d > AdmissionLimits.MaxDim) ||
                pads.Any(p => p < 0 || p > AdmissionLimits.MaxDim))
                Fail("attribute", $"{Op} has a stride or dilation below 1, a negative pad, or one above {AdmissionLimits.MaxDim}");
            var autoPad = _node.GetString("auto_pad") ?? "NOTSET";
            // ONNX: pads "cannot be used simultaneously with auto_pad"; the executor ignores them then.
            if (autoPad != "NOTSET" && pads.Any(p => p != 0))
                Fail("attribute", $"{Op} has both auto_pad {autoPad} and pads [{string.Join(",", pads)}]; ONNX allows only one of them");
            var ceil = pool && _node.GetInt("ceil_mode", 0) != 0;
            // The ONNX reference refuses ceil_mode with auto_pad, and ONNX Runtime sizes VALID differently with it.
            if (ceil && autoPad != "NOTSET")
                Fail("attribute", $"{Op} ceil_mode with auto_pad {autoPad} is not defined by the ONNX reference; give explicit pads");
            var result = new int[n];
            long[] begin = new long[n], end = new long[n];
            for (var i = 0; i < n; i++)
            {
                long input = x[2 + i], s = strides[i], effective = (kernel[i] - 1L) * dilations[i] + 1;
                long outDim;
                switch (autoPad)
                {
                    case "NOTSET":
                        begin[i] = pads[i];
                        end[i] = pads[n + i];
                        var total = input + pads[i] + pads[n + i] - effective;
                        if (total < 0) Fail("shape", $"{Op} window {effective} is larger than padded input {input + pads[i] + pads[n + i]}");
                        // ONNX/ORT: with ceil_mode the last window must start inside the input or left pad.
                        outDim = PoolGeometry.OutputSize(total, s, ceil, input + pads[i]);
                        break;
                    case "VALID":
                        if (input < effective) Fail("shape", $"{Op} window {effective} is larger than input {input}");
                        outDim = (input - effective) / s + 1;
                        break;
                    case "SAME_UPPER" or "SAME_LOWER":
                        outDim = (input + s - 1) / s;
                        var needed = Math.Max(0, (outDim - 1) * s + effective - input);
                        begin[i] = autoPad == "SAME_UPPER" ? needed / 2 : needed - needed / 2;
                        end[i] = needed - begin[i];
                        break;
                    default:
                        Fail("attribute", $"{Op} auto_pad '{autoPad}' is not supported");
                        return null!;
                }
                if (outDim < 1) Fail("shape", $"{Op} output dimension {outDim} is empty");
                result[i] = (int)outDim;
            }
            return new WindowAxes(result, begin, end, strides, dilations);
        }
    }
}
