using Chain.Inference.Kernels;
using T = Chain.Inference.TensorElementType;

namespace Chain.Inference.Admission;

public static partial class ModelAdmission
{
    // The com.microsoft (ONNX Runtime contrib, version 1) ops: QLinearAdd, QLinearMul, QLinearAveragePool,
    // QLinearGlobalAveragePool. Inputs and attributes as ONNX Runtime defines them; semantics in
    // docs/inference-semantics.md.
    private sealed partial class Checker
    {
        /// <summary>One float32 scale value (any shape holding exactly one), constant, finite, > 0 and normal.</summary>
        private float ScalarScale(int index)
        {
            var t = Scale(index);
            Single(index, t.Shape.ToArray());
            return t.Elements<float>()[0];
        }

        /// <summary>
        /// A zero point of type <paramref name="type"/>: a constant initializer holding exactly one value; when
        /// <paramref name="required"/> is false it may be omitted (then 0). Its value, or 0.
        /// </summary>
        private int ScalarZeroPoint(int index, T type, bool required)
        {
            var info = IntOpt(index, required);
            if (info is null) return 0;
            ZeroPointMatches(index, info, type);
            Single(index, info.Shape);
            var name = _node.Inputs[index];
            if (!_consts.TryGetValue(name, out var t))
                Fail("type", $"{Op} zero point '{name}' must be a constant initializer");
            return type == T.Int8 ? (sbyte)t.Data[0] : t.Data[0];
        }

        private void NoChannelsLast()
        {
            if (_node.GetInt("channels_last", 0) != 0)
                Fail("attribute", $"{Op} channels_last=1 (NHWC) is not supported; only NCHW (channels_last=0)");
        }

        private TensorInfo QLinearBinaryOp(bool mul)
        {
            InputCount(7, 8);
            Outputs(1);
            var a = Int(0);
            var b = Int(3);
            RequireTypes(a, 0, T.UInt8, T.Int8);
            if (b.ElementType != a.ElementType) Fail("type", $"{Op} A and B differ in type: {a} and {b}");
            float sA = ScalarScale(1), sB = ScalarScale(4), sC = ScalarScale(6);
            var zA = ScalarZeroPoint(2, a.ElementType, false);
            var zB = ScalarZeroPoint(5, a.ElementType, false);
            var zC = ScalarZeroPoint(7, a.ElementType, false);
            var p = QLinearBinaryParams.Create(mul, a.ElementType == T.Int8, sA, zA, sB, zB, sC, zC);
            if (mul)
            {
                var product = Requantize.Multiplier(sA, sB, 1f);
                if (!float.IsNormal(product) || !float.IsNormal(p.Ratio) || p.Ratio > AdmissionLimits.MaxMulMultiplier)
                    Fail("scale", $"{Op} multiplier {sA:R}·{sB:R}/{sC:R}: the product is {product:R} and the multiplier {p.Ratio:R}; " +
                                  $"both must be normal float32 numbers and the multiplier at most {AdmissionLimits.MaxMulMultiplier}");
            }
            else
            {
                foreach (var (r, name) in new[] { (p.RatioA, "A_scale/C_scale"), (p.RatioB, "B_scale/C_scale") })
                    if (!float.IsNormal(r) || r > AdmissionLimits.MaxAddRatio)
                        Fail("scale", $"{Op} ratio {name} = {r:R} must be a normal float32 number at most {AdmissionLimits.MaxAddRatio}");
            }
            return new TensorInfo(a.ElementType, Broadcast(a.Shape, b.Shape));
        }

        private TensorInfo QLinearGlobalAveragePoolOp(out long macs)
        {
            InputCount(5, 5);
            Outputs(1);
            NoChannelsLast();
            var x = Int(0);
            RequireTypes(x, 0, T.UInt8, T.Int8);
            if (x.Rank < 3) Fail("shape", $"{Op} input must be [N, C, spatial…], got {x}");
            float sx = ScalarScale(1), sy = ScalarScale(3);
            var zx = ScalarZeroPoint(2, x.ElementType, true);
            ScalarZeroPoint(4, x.ElementType, true);
            CheckGlobalPool(x, sx, zx, sy, Product(x.Shape[2..]));
            macs = x.ElementCount;
            return new TensorInfo(x.ElementType, [x.Shape[0], x.Shape[1], .. Enumerable.Repeat(1, x.Rank - 2)]);
        }

        /// <summary>The global pool's rules: image size, multiplier range (ONNX Runtime refuses outside it) and the int32 sum.</summary>
        private void CheckGlobalPool(TensorInfo x, float sx, int zx, float sy, long image)
        {
            if (image < 1 || image > CanonicalOps.MaxGlobalPoolImage)
                Fail("shape", $"{Op} averages {image} elements per channel; it must be 1–{CanonicalOps.MaxGlobalPoolImage}");
            var m = CanonicalOps.GlobalPoolMultiplier(sx, sy, image);
            if (!(m >= CanonicalOps.MinGlobalPoolMultiplier && m < CanonicalOps.MaxGlobalPoolMultiplier))
                Fail("scale", $"{Op} multiplier x_scale/(y_scale·{image}) = {m:R} is outside [2^-32, 256)");
            var (vmin, vmax) = InputRange(0, x.ElementType);
            var diff = Math.Max(vmax - zx, zx - vmin);
            if (checked(image * Math.Max(diff, 255)) > AdmissionLimits.MaxAccumulator)
                Fail("overflow", $"{Op} int32 sum can overflow: {image} elements · {Math.Max(diff, 255)} > 2^31−1");
        }

        private TensorInfo QLinearAveragePoolOp(out long macs)
        {
            InputCount(4, 5);
            Outputs(1);
            NoChannelsLast();
            var x = Int(0);
            RequireTypes(x, 0, T.UInt8, T.Int8);
            if (x.Rank is < 3 or > 5) Fail("shape", $"{Op} input must be [N, C, D1[, D2[, D3]]] (1 to 3 spatial axes), got {x}");
            float sx = ScalarScale(1), sy = ScalarScale(3);
            var zx = ScalarZeroPoint(2, x.ElementType, false);
            ScalarZeroPoint(4, x.ElementType, false);
            var kernel = _node.GetInts("kernel_shape") ?? Fail<long[]>("attribute", $"{Op} needs kernel_shape");
            if (kernel.Length != x.Rank - 2 || kernel.Any(k => k < 1 || k > AdmissionLimits.MaxDim))
                Fail("attribute", $"{Op} kernel_shape [{string.Join(",", kernel)}] does not fit input {x}");
            // ONNX Runtime's contrib schema has no dilations; its kernel ignores them.
            if (_node.GetInts("dilations") is { } dil && dil.Any(d => d != 1))
                Fail("attribute", $"{Op} has no dilations (got [{string.Join(",", dil)}])");
            var k = kernel.Select(v => (int)v).ToArray();
            // ONNX Runtime does not clamp SAME_* padding at 0: with a stride beyond the kernel its pads turn negative
            // and shift the windows, where ONNX pads nothing. Both cannot hold, so such models are refused.
            if ((_node.GetString("auto_pad") ?? "NOTSET") is "SAME_UPPER" or "SAME_LOWER")
            {
                var strides = _node.GetInts("strides") ?? Enumerable.Repeat(1L, k.Length).ToArray();
                for (var i = 0; i < k.Length && i < strides.Length; i++)
                {
                    long input = x.Shape[2 + i], s = Math.Max(1, strides[i]);
                    if (((input + s - 1) / s - 1) * s + k[i] < input)
                        Fail("attribute", $"{Op} auto_pad SAME_* on axis {i} (input {input}, kernel {k[i]}, stride {s}) needs negative padding; give explicit pads");
                }
            }
            var window = Window(x.Shape, k, pool: true);
            CheckPoolWindows(x.Shape, k, window);
            var spatial = x.Shape[2..];
            var global = spatial.SequenceEqual(k) && window.PadBegin.All(p => p == 0) && window.PadEnd.All(p => p == 0);
            if (global) CheckGlobalPool(x, sx, zx, sy, Product(spatial));
            else
            {
                if ((double)sx / sy > AdmissionLimits.MaxPoolScaleRatio)
                    Fail("scale", $"{Op} x_scale/y_scale = {(double)sx / sy:R} exceeds {AdmissionLimits.MaxPoolScaleRatio}");
                if ((double)sx * 255 * Product(k) > AdmissionLimits.MaxPoolWindowMagnitude)
                    Fail("scale", $"{Op} x_scale·255·∏kernel = {(double)sx * 255 * Product(k):R} exceeds {AdmissionLimits.MaxPoolWindowMagnitude}");
            }
            int[] shape = [x.Shape[0], x.Shape[1], .. window.Output];
            macs = checked(Product(shape) * Product(k));
            return new TensorInfo(x.ElementType, shape);
        }
    }
}
