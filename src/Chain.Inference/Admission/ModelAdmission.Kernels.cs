using Chain.Inference.Onnx;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Admission;

public static partial class ModelAdmission
{
    // Per-op rules: input types, static output shape, MACs and accumulator bounds.
    private sealed partial class Checker
    {
        private TensorInfo MatMulInteger(out long macs)
        {
            InputCount(2, 4);
            Outputs(1);
            var a = Int(0);
            var b = Int(1);
            RequireTypes(a, 0, T.UInt8, T.Int8);
            RequireTypes(b, 1, T.UInt8, T.Int8);
            var aZp = IntOpt(2);
            var bZp = IntOpt(3);
            ZeroPointMatches(2, aZp, a.ElementType);
            ZeroPointMatches(3, bZp, b.ElementType);
            var shape = MatMulShape(a.Shape, b.Shape, out var k);
            var (m, n) = RowsAndColumns(a, b);
            if (aZp is not null) PerVector(2, aZp.Shape, m, "row of A");
            if (bZp is not null) PerVector(3, bZp.Shape, n, "column of B");
            CheckAccumulator(0, a, 2, 1, b, 3, k, 0);
            macs = checked(Product(shape) * k);
            return new TensorInfo(T.Int32, shape);
        }

        /// <summary>M and N of a numpy matmul (a 1-D operand counts as one row or one column).</summary>
        private static (int M, int N) RowsAndColumns(TensorInfo a, TensorInfo b) =>
            (a.Rank == 1 ? 1 : a.Shape[^2], b.Rank == 1 ? 1 : b.Shape[^1]);

        /// <summary>
        /// The operand checks QLinearMatMul and QLinearConv share (same input layout: a, a_scale, a_zp,
        /// b, b_scale, b_zp, y_scale, y_zp, all required): 8-bit operands, scales, matching zero points,
        /// 8-bit output.
        /// </summary>
        private QLinearInputs QLinearOperands()
        {
            Outputs(1);
            var a = Int(0);
            var b = Int(3);
            RequireTypes(a, 0, T.UInt8, T.Int8);
            RequireTypes(b, 3, T.UInt8, T.Int8);
            var scales = (A: Scale(1), B: Scale(4), Y: Scale(6));
            var aZp = Int(2);
            var bZp = Int(5);
            var yZp = Int(7);
            ZeroPointMatches(2, aZp, a.ElementType);
            ZeroPointMatches(5, bZp, b.ElementType);
            if (!IsEight(yZp.ElementType)) Fail("type", $"{Op} output zero point must be uint8 or int8");
            return new(a, b, yZp.ElementType, scales.A, scales.B, scales.Y, aZp.Shape, bZp.Shape, yZp.Shape);
        }

        private sealed record QLinearInputs(TensorInfo A, TensorInfo B, T OutType, Tensor AScale, Tensor BScale, Tensor YScale,
            int[] AZeroPoint, int[] BZeroPoint, int[] YZeroPoint);

        private TensorInfo QLinearMatMul(out long macs)
        {
            InputCount(8, 8);
            var q = QLinearOperands();
            var (a, b) = (q.A, q.B);
            var shape = MatMulShape(a.Shape, b.Shape, out var k);
            // The kernel takes a's and y's parameters per row, b's per column.
            var (m, n) = RowsAndColumns(a, b);
            PerVector(1, q.AScale.Shape.ToArray(), m, "row of a");
            PerVector(2, q.AZeroPoint, m, "row of a");
            PerVector(4, q.BScale.Shape.ToArray(), n, "column of b");
            PerVector(5, q.BZeroPoint, n, "column of b");
            PerVector(6, q.YScale.Shape.ToArray(), m, "row of y");
            PerVector(7, q.YZeroPoint, m, "row of y");
            CheckMultipliers(q.AScale, q.BScale, q.YScale);
            CheckAccumulator(0, a, 2, 3, b, 5, k, 0);
            macs = checked(Product(shape) * k);
            return new TensorInfo(q.OutType, shape);
        }

        private TensorInfo ConvInteger(out long macs)
        {
            InputCount(2, 4);
            Outputs(1);
            var x = Int(0);
            var w = Int(1);
            RequireTypes(x, 0, T.UInt8, T.Int8);
            RequireTypes(w, 1, T.UInt8, T.Int8);
            var xZp = IntOpt(2);
            var wZp = IntOpt(3);
            ZeroPointMatches(2, xZp, x.ElementType);
            ZeroPointMatches(3, wZp, w.ElementType);
            var shape = ConvShape(x, w, out var k, out macs);
            if (xZp is not null) Single(2, xZp.Shape);
            if (wZp is not null) PerVector(3, wZp.Shape, w.Shape[0], "output channel");
            CheckAccumulator(0, x, 2, 1, w, 3, k, 0);
            return new TensorInfo(T.Int32, shape);
        }

        /// <summary>A parameter the kernel takes per tensor only: exactly one value (any shape).</summary>
        private void Single(int index, int[] shape)
        {
            if (shape.Aggregate(1L, (a, d) => a * d) != 1)
                Fail("shape", $"{Op} input '{_node.Inputs[index]}' has shape [{string.Join(",", shape)}]; it must hold exactly one value");
        }

        private TensorInfo QLinearConv(out long macs)
        {
            InputCount(8, 9);
            var q = QLinearOperands();
            var (x, w) = (q.A, q.B);
            var shape = ConvShape(x, w, out var k, out macs);
            // x's and y's parameters are per tensor; w's per tensor or per output channel.
            Single(1, q.AScale.Shape.ToArray());
            Single(2, q.AZeroPoint);
            PerVector(4, q.BScale.Shape.ToArray(), w.Shape[0], "output channel");
            PerVector(5, q.BZeroPoint, w.Shape[0], "output channel");
            Single(6, q.YScale.Shape.ToArray());
            Single(7, q.YZeroPoint);
            CheckMultipliers(q.AScale, q.BScale, q.YScale);
            long maxBias = 0;
            if (IntOpt(8) is { } bias)
            {
                RequireTypes(bias, 8, T.Int32);
                if (bias.Rank != 1 || bias.Shape[0] != w.Shape[0]) Fail("shape", $"{Op} bias must be 1-D with {w.Shape[0]} values");
                var biasName = _node.Inputs[8];
                if (!_consts.ContainsKey(biasName))
                    Fail("overflow", $"{Op} bias '{biasName}' is not a constant, so the int32 accumulator cannot be bounded");
                var (lo, hi) = RangeOf(biasName, T.Int32);
                maxBias = Math.Max(Math.Abs(lo), Math.Abs(hi));
            }
            CheckAccumulator(0, x, 2, 3, w, 5, k, maxBias);
            return new TensorInfo(q.OutType, shape);
        }

        private int[] ConvShape(TensorInfo x, TensorInfo w, out long k, out long macs)
        {
            if (x.Rank is < 3 or > 5) Fail("shape", $"{Op} input must be [N, C, D1[, D2[, D3]]] (1 to 3 spatial axes), got {x}");
            if (w.Rank != x.Rank) Fail("shape", $"{Op} weights {w} must have the input's rank {x.Rank}");
            var group = _node.GetInt("group", 1);
            if (group is < 1 or > AdmissionLimits.MaxDim) Fail("attribute", $"{Op} group {group} is outside 1–{AdmissionLimits.MaxDim}");
            int c = x.Shape[1], m = w.Shape[0];
            if (group < 1 || c % group != 0 || m % group != 0 || w.Shape[1] * group != c)
                Fail("shape", $"{Op} channels do not match: input {x}, weights {w}, group {group}");
            var kernel = w.Shape[2..];
            if (kernel.Any(d => d < 1)) Fail("shape", $"{Op} kernel {w} has an empty dimension");
            if (_node.GetInts("kernel_shape") is { } ks && !ks.SequenceEqual(kernel.Select(d => (long)d)))
                Fail("attribute", $"{Op} kernel_shape [{string.Join(",", ks)}] does not match weights {w}");
            var spatial = Window(x.Shape, kernel, pool: false).Output;
            int[] shape = [x.Shape[0], m, .. spatial];
            k = checked(w.Shape[1] * Product(kernel));
            macs = checked(Product(shape) * k);
            return shape;
        }

        private TensorInfo QuantizeLinear()
        {
            InputCount(2, 3);
            Outputs(1);
            var xName = _node.Inputs[0];
            var x = Input(0, true)!;
            if (x.ElementType == T.Float)
            {
                if (!_consts.TryGetValue(xName, out var constant))
                    Fail("float", $"{Op} quantizes the computed float value '{xName}'; only int32 values or float constants may be quantized");
                foreach (var v in constant.Elements<float>())
                    if (float.IsNaN(v)) Fail("float", $"{Op} float constant '{xName}' holds NaN, which has no quantized value");
            }
            else
            {
                RequireTypes(x, 0, T.Int32);
                // Opsets 19–22 type y_scale as T1, x's own type: an int32 x would need an int32 scale.
                if (_opset is >= 19 and <= 22)
                    Fail("type", $"{Op} at opset {_opset} requires x and y_scale of one type; int32 x with a float32 scale needs opset 10–18 or 23+");
            }
            var scale = Scale(1);
            var zp = IntOpt(2);
            var outType = zp?.ElementType ?? T.UInt8;
            if (_node.Find("output_dtype") is { } attr)
            {
                MinOpset(21, "attribute output_dtype");
                var dt = attr.AsInt();
                if (dt != 0)
                {
                    if (dt is not ((long)T.UInt8 or (long)T.Int8 or (long)T.UInt16 or (long)T.Int16))
                        Fail("type", $"{Op} output_dtype {dt} is not supported; allowed: uint8, int8, uint16, int16");
                    if (zp is not null && dt != (long)zp.ElementType)
                        Fail("type", $"{Op} output_dtype {dt} differs from y_zero_point's type {TensorElementTypes.Name(zp.ElementType)}");
                    outType = (TensorElementType)dt;
                }
            }
            if (outType is not (T.UInt8 or T.Int8 or T.UInt16 or T.Int16))
                Fail("type", $"{Op} output type {TensorElementTypes.Name(outType)} is not supported");
            if (outType is T.UInt16 or T.Int16) MinOpset(21, $"to {TensorElementTypes.Name(outType)}");
            if (_node.GetInt("block_size", 0) != 0) Fail("attribute", $"{Op} blocked quantization is not supported");
            // Opset 23's precision attribute changes the division's type: only float32 (1) or default (0) is the chain's rule.
            if (_node.GetInt("precision", 0) is not (0 or 1)) Fail("attribute", $"{Op} precision other than float32 is not supported");
            CheckPerAxis(x, scale, zp);
            return new TensorInfo(outType, x.Shape);
        }

        private TensorInfo DequantizeLinear()
        {
            InputCount(2, 3);
            Outputs(1);
            var x = Int(0);
            RequireTypes(x, 0, T.UInt8, T.Int8, T.Int32);
            var scale = Scale(1);
            var zp = IntOpt(2);
            ZeroPointMatches(2, zp, x.ElementType);
            // ONNX: int32 inputs have no zero point (it is defined as 0).
            if (x.ElementType == T.Int32 && zp is not null && RangeOf(_node.Inputs[2], T.Int32) != (0, 0))
                Fail("attribute", $"{Op} on int32 must have no zero point (or a constant 0)");
            if (_node.GetInt("block_size", 0) != 0) Fail("attribute", $"{Op} blocked quantization is not supported");
            // Opset 23+: output_dtype may ask for float16/bfloat16; the chain's output is float32.
            if (_node.GetInt("output_dtype", 0) is not (0 or (long)T.Float)) Fail("type", $"{Op} output_dtype other than float32 is not supported");
            CheckPerAxis(x, scale, zp);
            var output = _node.Outputs[0];
            // The one place a float may appear: the model's final answer, computed by a specified formula.
            if (!_graphOutputs.Contains(output))
                Fail("float", $"{Op} output '{output}' is float and is not a graph output; floats may only leave the model, never feed another op");
            if (_consumers.TryGetValue(output, out var users) && users.Count > 0)
                Fail("float", $"{Op} output '{output}' is float and feeds {users[0].DisplayName}; floats may not feed anything");
            return new TensorInfo(T.Float, x.Shape);
        }

        private void CheckPerAxis(TensorInfo x, Tensor scale, TensorInfo? zp)
        {
            var axisValue = Int32Attribute("axis", 1); // read by the executor even when per tensor
            if (scale.ElementCount == 1 && scale.Rank <= 1)
            {
                if (zp is not null && (zp.ElementCount != 1 || zp.Rank > 1)) Fail("shape", $"{Op} zero point must be a scalar like its scale");
                return;
            }
            if (scale.Rank != 1) Fail("shape", $"{Op} scale must be a scalar or 1-D");
            if (x.Rank == 0) Fail("shape", $"{Op} per-axis scale needs an input of rank ≥ 1");
            var axis = Axis(axisValue, x.Rank);
            if (scale.Shape[0] != x.Shape[axis])
                Fail("shape", $"{Op} has {scale.Shape[0]} scales for axis {axis} of length {x.Shape[axis]}");
            if (zp is not null && !zp.Shape.SequenceEqual(scale.Shape.ToArray())) Fail("shape", $"{Op} zero point shape must match its scale");
        }

        private static readonly TensorElementType[] SmallInts = [T.UInt8, T.Int8, T.UInt16, T.Int16];

        private TensorInfo Binary()
        {
            InputCount(2, 2);
            Outputs(1);
            var a = Int(0);
            var b = Int(1);
            if (a.ElementType != b.ElementType) Fail("type", $"{Op} inputs differ in type: {a} and {b}");
            if (SmallInts.Contains(a.ElementType)) MinOpset(14, $"on {TensorElementTypes.Name(a.ElementType)}");
            return new TensorInfo(a.ElementType, Broadcast(a.Shape, b.Shape));
        }

        private TensorInfo Max()
        {
            InputCount(1, 64);
            Outputs(1);
            MinOpset(12, "on integer tensors");
            var first = Int(0);
            var shape = first.Shape;
            for (var i = 1; i < _node.Inputs.Count; i++)
            {
                var t = Int(i);
                if (t.ElementType != first.ElementType) Fail("type", $"{Op} inputs differ in type: {first} and {t}");
                shape = Broadcast(shape, t.Shape);
            }
            var ranges = Enumerable.Range(0, _node.Inputs.Count).Select(i => InputRange(i, first.ElementType)).ToList();
            OutputRange((ranges.Max(r => r.Min), ranges.Max(r => r.Max)), first.ElementType);
            return new TensorInfo(first.ElementType, shape);
        }

        private TensorInfo Clip()
        {
            InputCount(1, 3);
            Outputs(1);
            MinOpset(12, "on integer tensors");
            var x = Int(0);
            for (var i = 1; i <= 2; i++)
            {
                if (IntOpt(i) is not { } bound) continue;
                if (bound.ElementType != x.ElementType) Fail("type", $"{Op} bound '{_node.Inputs[i]}' is {bound}, input is {x}");
                if (bound.ElementCount != 1 || bound.Rank > 1) Fail("shape", $"{Op} bound '{_node.Inputs[i]}' must be a scalar");
            }
            // y = min(max(x, lo), hi) is monotone in x, so its range is that of the ends (constant bounds only).
            var (typeMin, typeMax) = TypeRange(x.ElementType);
            string? lo = _node.InputAt(1), hi = _node.InputAt(2);
            if ((lo is null || _consts.ContainsKey(lo)) && (hi is null || _consts.ContainsKey(hi)))
            {
                var min = lo is null ? typeMin : RangeOf(lo, x.ElementType).Min;
                var max = hi is null ? typeMax : RangeOf(hi, x.ElementType).Max;
                var (xmin, xmax) = InputRange(0, x.ElementType);
                OutputRange((Math.Min(Math.Max(xmin, min), max), Math.Min(Math.Max(xmax, min), max)), x.ElementType);
            }
            return new TensorInfo(x.ElementType, x.Shape);
        }

        private TensorInfo Relu()
        {
            InputCount(1, 1);
            Outputs(1);
            MinOpset(14, "on integer tensors");
            var x = Int(0);
            // ONNX defines Relu for signed integers only.
            RequireTypes(x, 0, T.Int8, T.Int16, T.Int32, T.Int64);
            var (min, max) = InputRange(0, x.ElementType);
            OutputRange((Math.Max(min, 0), Math.Max(max, 0)), x.ElementType);
            return new TensorInfo(x.ElementType, x.Shape);
        }

        private TensorInfo MaxPool(out long macs)
        {
            InputCount(1, 1);
            Outputs(1);
            MinOpset(12, "on integer tensors");
            var x = Int(0);
            RequireTypes(x, 0, T.UInt8, T.Int8);
            if (x.Rank is < 3 or > 5) Fail("shape", $"{Op} input must be [N, C, D1[, D2[, D3]]] (1 to 3 spatial axes), got {x}");
            var kernel = _node.GetInts("kernel_shape") ?? Fail<long[]>("attribute", $"{Op} needs kernel_shape");
            if (kernel.Length != x.Rank - 2 || kernel.Any(k => k < 1 || k > AdmissionLimits.MaxDim))
                Fail("attribute", $"{Op} kernel_shape [{string.Join(",", kernel)}] does not fit input {x}");
            if (_node.GetInt("storage_order", 0) != 0) Fail("attribute", $"{Op} storage_order only affects Indices, which are not supported");
            var k = kernel.Select(v => (int)v).ToArray();
            var window = Window(x.Shape, k, pool: true);
            CheckPoolWindows(x.Shape, k, window);
            int[] shape = [x.Shape[0], x.Shape[1], .. window.Output];
            macs = checked(Product(shape) * Product(k));
            OutputRange(InputRange(0, x.ElementType), x.ElementType);
            return new TensorInfo(x.ElementType, shape);
        }

        /// <summary>
        /// ONNX requires every pad to be smaller than the kernel; and every window must reach at least one
        /// input element (padding never wins a max), which dilation can defeat even with small pads.
        /// </summary>
        private void CheckPoolWindows(int[] x, int[] kernel, WindowAxes window)
        {
            var n = kernel.Length;
            var explicitPads = (_node.GetString("auto_pad") ?? "NOTSET") == "NOTSET";
            for (var i = 0; i < n; i++)
            {
                if (explicitPads && (window.PadBegin[i] >= kernel[i] || window.PadEnd[i] >= kernel[i]))
                    Fail("attribute", $"{Op} pads [{string.Join(",", window.PadBegin.Concat(window.PadEnd))}] must each be smaller than kernel_shape [{string.Join(",", kernel)}]");
                long input = x[2 + i], s = window.Strides[i], d = window.Dilations[i];
                for (long o = 0; o < window.Output[i]; o++)
                {
                    // First tap at or after index 0, then whether it lies before the end of the input.
                    var start = o * s - window.PadBegin[i];
                    var tap = start >= 0 ? 0 : (-start + d - 1) / d;
                    if (tap >= kernel[i] || start + tap * d >= input)
                        Fail("attribute", $"{Op} window {o} of spatial axis {i} covers only padding (input {input}, kernel {kernel[i]}, dilation {d}, pads {window.PadBegin[i]}/{window.PadEnd[i]})");
                }
            }
        }

        private TensorInfo Reshape()
        {
            InputCount(2, 2);
            Outputs(1);
            var x = Int(0);
            var shapeName = _node.Inputs[1];
            if (Input(1, true) is null || !_consts.TryGetValue(shapeName, out var shapeTensor))
                Fail<int>("dynamic-shape", $"{Op} shape '{shapeName}' must be a constant initializer");
            shapeTensor = _consts[shapeName];
            if (shapeTensor.ElementType != T.Int64 || shapeTensor.Rank != 1) Fail("type", $"{Op} shape '{shapeName}' must be a 1-D int64 tensor");
            var requested = shapeTensor.Elements<long>().ToArray();
            var allowZero = _node.GetInt("allowzero", 0) != 0;
            var result = new long[requested.Length];
            var inferred = -1;
            for (var i = 0; i < requested.Length; i++)
            {
                var d = requested[i];
                if (d == -1)
                {
                    if (inferred >= 0) Fail("shape", $"{Op} shape has more than one -1");
                    inferred = i;
                    result[i] = 1;
                }
                else if (d == 0 && !allowZero)
                {
                    if (i >= x.Rank) Fail("shape", $"{Op} shape copies dimension {i}, which input {x} lacks");
                    result[i] = x.Shape[i];
                }
                else if (d < 0 || d > AdmissionLimits.MaxDim) Fail("shape", $"{Op} shape holds {d}");
                else result[i] = d;
            }
            var known = result.Aggregate(1L, (a, d) => checked(a * d));
            if (inferred >= 0)
            {
                if (known == 0 || x.ElementCount % known != 0) Fail("shape", $"{Op} cannot reshape {x} to [{string.Join(",", requested)}]");
                result[inferred] = x.ElementCount / known;
            }
            else if (known != x.ElementCount) Fail("shape", $"{Op} cannot reshape {x} ({x.ElementCount} elements) to [{string.Join(",", requested)}]");
            if (result.Any(d => d > AdmissionLimits.MaxDim)) Fail("limit", $"{Op} output dimension exceeds {AdmissionLimits.MaxDim}");
            OutputRange(InputRange(0, x.ElementType), x.ElementType);
            return new TensorInfo(x.ElementType, result.Select(d => (int)d).ToArray());
        }

        private TensorInfo Flatten()
        {
            InputCount(1, 1);
            Outputs(1);
            var x = Int(0);
            var axis = Axis(_node.GetInt("axis", 1), x.Rank, allowRank: true);
            OutputRange(InputRange(0, x.ElementType), x.ElementType);
            return new TensorInfo(x.ElementType, [checked((int)Product(x.Shape[..axis])), checked((int)Product(x.Shape[axis..]))]);
        }

        private TensorInfo Transpose()
        {
            InputCount(1, 1);
            Outputs(1);
            var x = Int(0);
            var perm = _node.GetInts("perm") ?? Enumerable.Range(0, x.Rank).Reverse().Select(i => (long)i).ToArray();
            if (perm.Length != x.Rank || perm.Order().Select((p, i) => p != i).Any(b => b))
                Fail("attribute", $"{Op} perm [{string.Join(",", perm)}] is not a permutation of {x.Rank} axes");
            OutputRange(InputRange(0, x.ElementType), x.ElementType);
            return new TensorInfo(x.ElementType, perm.Select(p => x.Shape[p]).ToArray());
        }

        private TensorInfo Concat()
        {
            InputCount(1, 256);
            Outputs(1);
            var first = Int(0);
            var axisAttr = _node.Find("axis") ?? Fail<OnnxAttribute>("attribute", $"{Op} needs an axis");
            if (first.Rank == 0) Fail("shape", $"{Op} cannot concatenate scalars");
            var axis = Axis(axisAttr.AsInt(), first.Rank);
            var shape = first.Shape.ToArray();
            for (var i = 1; i < _node.Inputs.Count; i++)
            {
                var t = Int(i);
                if (t.ElementType != first.ElementType || t.Rank != first.Rank ||
                    Enumerable.Range(0, t.Rank).Any(d => d != axis && t.Shape[d] != first.Shape[d]))
                    Fail("shape", $"{Op} input {t} does not match {first} outside axis {axis}");
                shape[axis] = checked(shape[axis] + t.Shape[axis]);
            }
            var ranges = Enumerable.Range(0, _node.Inputs.Count).Select(i => InputRange(i, first.ElementType)).ToList();
            OutputRange((ranges.Min(r => r.Min), ranges.Max(r => r.Max)), first.ElementType);
            return new TensorInfo(first.ElementType, shape);
        }

        private TensorInfo Gather()
        {
            InputCount(2, 2);
            Outputs(1);
            var data = Int(0);
            var indices = Int(1);
            RequireTypes(indices, 1, T.Int32, T.Int64);
            if (data.Rank == 0) Fail("shape", $"{Op} data must have rank ≥ 1");
            var axis = Axis(_node.GetInt("axis", 0), data.Rank);
            var n = data.Shape[axis];
            var indicesName = _node.Inputs[1];
            if (_consts.TryGetValue(indicesName, out var idx))
            {
                foreach (var v in Values(idx))
                    if (v < -n || v >= n) Fail("shape", $"{Op} index {v} is out of range for axis length {n}");
            }
            else if (indices.ElementCount > 0)
            {
                // The kernel refuses an out-of-range index at run time, so every input must be provably in range.
                var (lo, hi) = InputRange(1, indices.ElementType);
                if (lo < -n || hi >= n)
                    Fail("shape", $"{Op} indices '{indicesName}' may hold values in [{lo}, {hi}], outside [{-n}, {n - 1}] for axis {axis}; " +
                                  "non-constant indices must be provably in range (e.g. a uint8 cast to int32 into a 256-entry table, or an ArgMax)");
            }
            OutputRange(InputRange(0, data.ElementType), data.ElementType);
            return new TensorInfo(data.ElementType, [.. data.Shape[..axis], .. indices.Shape, .. data.Shape[(axis + 1)..]]);
        }

        private TensorInfo ArgMax()
        {
            InputCount(1, 1);
            Outputs(1);
            var x = Int(0);
            if (x.Rank == 0) Fail("shape", $"{Op} input must have rank ≥ 1");
            var axis = Axis(_node.GetInt("axis", 0), x.Rank);
            if (x.Shape[axis] == 0) Fail("shape", $"{Op} axis {axis} is empty");
            OutputRange((0, x.Shape[axis] - 1), T.Int64);
            var keep = _node.GetInt("keepdims", 1) != 0;
            var shape = keep
                ? x.Shape.Select((d, i) => i == axis ? 1 : d).ToArray()
                : x.Shape.Where((_, i) => i != axis).ToArray();
            return new TensorInfo(T.Int64, shape);
        }

        private TensorInfo Cast()
        {
            InputCount(1, 1);
            Outputs(1);
            var x = Int(0);
            var toAttr = _node.Find("to") ?? Fail<OnnxAttribute>("attribute", $"{Op} needs 'to'");
            var to = toAttr.AsInt();
            if (to is < 1 or > 255 || !TensorElementTypes.IsInteger((TensorElementType)to))
                Fail(to is 1 or 10 or 11 or 16 ? "float" : "type", $"{Op} to type {to} is not an integer type; only casts between integer types are admitted");
            var target = (TensorElementType)to;
            // Values that fit the target type pass unchanged; anything else may wrap anywhere in it.
            var (min, max) = InputRange(0, x.ElementType);
            var (tmin, tmax) = TypeRange(target);
            if (x.ElementType != T.UInt64 && min >= tmin && max <= tmax) OutputRange((min, max), target);
            return new TensorInfo(target, x.Shape);
        }

        private TensorInfo Identity()
        {
            InputCount(1, 1);
            Outputs(1);
            var x = Int(0);
            OutputRange(InputRange(0, x.ElementType), x.ElementType);
            return new TensorInfo(x.ElementType, x.Shape);
        }
    }
}
