using Chain.Inference.Onnx;

namespace Chain.Inference.Admission;

public static partial class ModelAdmission
{
    /// <summary>The attribute names admission allows on <paramref name="opType"/> of <paramref name="domain"/>; null for an op outside the subset.</summary>
    public static IReadOnlySet<string>? AttributesOf(string domain, string opType) =>
        Checker.AllowedAttributesOf(domain, opType);

    private sealed partial class Checker
    {
        /// <summary>
        /// The attribute names each admitted op may carry: those ONNX (or ONNX Runtime's com.microsoft domain) defines for
        /// it at the admitted opsets. Anything else — a misspelled <c>pads</c> that the executor would silently ignore, so the
        /// model would run unpadded where ONNX Runtime refuses it — is refused, as strict decoding refuses unknown fields.
        /// The values of allowed ones are checked by each op's own rule. Found by the explorer's differential mutation
        /// test (docs/explorer.md).
        /// </summary>
        private static readonly Dictionary<(string Domain, string Op), HashSet<string>> AllowedAttributes = new()
        {
            [("", "MatMulInteger")] = [],
            [("", "QLinearMatMul")] = [],
            [("", "ConvInteger")] = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
            [("", "QLinearConv")] = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
            // saturate applies to float8 targets only (refused by type); precision and output_dtype are checked by the op.
            [("", "QuantizeLinear")] = ["axis", "block_size", "output_dtype", "precision", "saturate"],
            [("", "DequantizeLinear")] = ["axis", "block_size", "output_dtype"],
            [("", "Add")] = [],
            [("", "Mul")] = [],
            [("", "Max")] = [],
            [("", "Clip")] = [],
            [("", "Relu")] = [],
            [("", "MaxPool")] = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"],
            [("", "Reshape")] = ["allowzero"],
            [("", "Flatten")] = ["axis"],
            [("", "Transpose")] = ["perm"],
            [("", "Concat")] = ["axis"],
            [("", "Gather")] = ["axis"],
            [("", "ArgMax")] = ["axis", "keepdims", "select_last_index"],
            // saturate and round_mode apply to float8/float4 targets only, which Cast refuses by type.
            [("", "Cast")] = ["to", "saturate", "round_mode"],
            [("", "Identity")] = [],
            [(AdmissionLimits.MicrosoftDomain, "QLinearAdd")] = [],
            [(AdmissionLimits.MicrosoftDomain, "QLinearMul")] = [],
            [(AdmissionLimits.MicrosoftDomain, "QLinearAveragePool")] =
                ["auto_pad", "ceil_mode", "channels_last", "count_include_pad", "kernel_shape", "pads", "strides"],
            [(AdmissionLimits.MicrosoftDomain, "QLinearGlobalAveragePool")] = ["channels_last"],
        };

        public static IReadOnlySet<string>? AllowedAttributesOf(string domain, string opType) =>
            AllowedAttributes.TryGetValue((domain == "ai.onnx" ? "" : domain, opType), out var allowed) ? allowed : null;

        /// <summary>Refuses (code <c>attribute</c>) an attribute the op does not define, and an attribute given twice.</summary>
        private void CheckAttributeNames(OnnxNode node)
        {
            if (AllowedAttributesOf(node.Domain, node.OpType) is not { } allowed) return; // not admitted at all: the op's refusal says so
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var attribute in node.Attributes)
            {
                if (!seen.Add(attribute.Name)) Fail("attribute", $"{node.OpType} has attribute '{attribute.Name}' more than once");
                if (!allowed.Contains(attribute.Name))
                    Fail("attribute", $"{node.OpType} has unknown attribute '{attribute.Name}' (allowed: {(allowed.Count == 0 ? "none" : string.Join(", ", allowed.Order(StringComparer.Ordinal)))})");
            }
        }
    }
}
