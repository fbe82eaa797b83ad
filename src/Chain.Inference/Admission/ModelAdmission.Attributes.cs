using Chain.Inference.Onnx;

namespace Chain.Inference.Admission;

public static partial class ModelAdmission
{
    /// <summary>The attribute names admission allows on <paramref name="opType"/> of <paramref name="domain"/>; null for an op outside the subset.</summary>
    public static IReadOnlySet<string>? AttributesOf(string domain, string opType) =>
        Checker.AllowedAttributesOf(domain, opType);

    private sealed partial class Checker
    {
        private const OnnxAttributeType AInt = OnnxAttributeType.Int, AInts = OnnxAttributeType.Ints, AStr = OnnxAttributeType.String;

        /// <summary>
        /// The attributes each admitted op may carry, with the type ONNX (or ONNX Runtime's com.microsoft domain) defines
        /// for each at the admitted opsets. Anything else — a misspelled <c>pads</c> that the executor would silently ignore, so the
        /// model would run unpadded where ONNX Runtime refuses it — is refused, as strict decoding refuses unknown fields.
        /// So is an allowed attribute of another type: an ArgMax whose <c>select_last_index</c> was a list of ints was
        /// admitted and then failed in the executor on every input (found by the <c>model</c> fuzz target). The values of
        /// allowed ones are checked by each op's own rule. Found by the explorer's differential mutation test (docs/explorer.md).
        /// </summary>
        private static readonly Dictionary<(string Domain, string Op), Dictionary<string, OnnxAttributeType>> AllowedAttributes = new()
        {
            [("", "MatMulInteger")] = [],
            [("", "QLinearMatMul")] = [],
            [("", "ConvInteger")] = new() { ["auto_pad"] = AStr, ["dilations"] = AInts, ["group"] = AInt, ["kernel_shape"] = AInts, ["pads"] = AInts, ["strides"] = AInts },
            [("", "QLinearConv")] = new() { ["auto_pad"] = AStr, ["dilations"] = AInts, ["group"] = AInt, ["kernel_shape"] = AInts, ["pads"] = AInts, ["strides"] = AInts },
            // saturate applies to float8 targets only (refused by type); precision and output_dtype are checked by the op.
            [("", "QuantizeLinear")] = new() { ["axis"] = AInt, ["block_size"] = AInt, ["output_dtype"] = AInt, ["precision"] = AInt, ["saturate"] = AInt },
            [("", "DequantizeLinear")] = new() { ["axis"] = AInt, ["block_size"] = AInt, ["output_dtype"] = AInt },
            [("", "Add")] = [],
            [("", "Mul")] = [],
            [("", "Max")] = [],
            [("", "Clip")] = [],
            [("", "Relu")] = [],
            [("", "MaxPool")] = new()
            {
                ["auto_pad"] = AStr, ["ceil_mode"] = AInt, ["dilations"] = AInts, ["kernel_shape"] = AInts, ["pads"] = AInts, ["storage_order"] = AInt, ["strides"] = AInts,
            },
            [("", "Reshape")] = new() { ["allowzero"] = AInt },
            [("", "Flatten")] = new() { ["axis"] = AInt },
            [("", "Transpose")] = new() { ["perm"] = AInts },
            [("", "Concat")] = new() { ["axis"] = AInt },
            [("", "Gather")] = new() { ["axis"] = AInt },
            [("", "ArgMax")] = new() { ["axis"] = AInt, ["keepdims"] = AInt, ["select_last_index"] = AInt },
            // saturate and round_mode apply to float8/float4 targets only, which Cast refuses by type.
            [("", "Cast")] = new() { ["to"] = AInt, ["saturate"] = AInt, ["round_mode"] = AStr },
            [("", "Identity")] = [],
            [(AdmissionLimits.MicrosoftDomain, "QLinearAdd")] = [],
            [(AdmissionLimits.MicrosoftDomain, "QLinearMul")] = [],
            [(AdmissionLimits.MicrosoftDomain, "QLinearAveragePool")] = new()
            {
                ["auto_pad"] = AStr, ["ceil_mode"] = AInt, ["channels_last"] = AInt, ["count_include_pad"] = AInt, ["kernel_shape"] = AInts, ["pads"] = AInts, ["strides"] = AInts,
            },
            [(AdmissionLimits.MicrosoftDomain, "QLinearGlobalAveragePool")] = new() { ["channels_last"] = AInt },
        };

        private static Dictionary<string, OnnxAttributeType>? Allowed(string domain, string opType) =>
            AllowedAttributes.TryGetValue((domain == "ai.onnx" ? "" : domain, opType), out var allowed) ? allowed : null;

        public static IReadOnlySet<string>? AllowedAttributesOf(string domain, string opType) =>
            Allowed(domain, opType) is { } allowed ? allowed.Keys.ToHashSet(StringComparer.Ordinal) : null;

        /// <summary>Refuses (code <c>attribute</c>) an attribute the op does not define, one given twice, and one of another type than ONNX's.</summary>
        private void CheckAttributeNames(OnnxNode node)
        {
            if (Allowed(node.Domain, node.OpType) is not { } allowed) return; // not admitted at all: the op's refusal says so
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var attribute in node.Attributes)
            {
                if (!seen.Add(attribute.Name)) Fail("attribute", $"{node.OpType} has attribute '{attribute.Name}' more than once");
                if (!allowed.TryGetValue(attribute.Name, out var type))
                    Fail("attribute", $"{node.OpType} has unknown attribute '{attribute.Name}' (allowed: {(allowed.Count == 0 ? "none" : string.Join(", ", allowed.Keys.Order(StringComparer.Ordinal)))})");
                else if (attribute.Type != type)
                    Fail("attribute", $"{node.OpType} attribute '{attribute.Name}' is {attribute.Type}, ONNX defines it as {type}");
            }
        }
    }
}
