using Chain.Core.Protocol;

namespace Chain.Inference.Admission;

/// <summary>
/// Every admission limit and cost constant in one place (docs/onnx-subset.md quotes them). Changing any
/// of them changes which models a validator admits, so they are consensus rules.
/// </summary>
public static class AdmissionLimits
{
    /// <summary>Supported ai.onnx opset versions (inclusive).</summary>
    public const long MinOpset = 10, MaxOpset = 25;

    /// <summary>The one admitted version of the com.microsoft domain (ONNX Runtime's contrib ops).</summary>
    public const string MicrosoftDomain = "com.microsoft";

    public const long MicrosoftOpset = 1;

    /// <summary>
    /// Largest QLinearAdd scale ratio (a_scale/c_scale, b_scale/c_scale) and QLinearMul multiplier
    /// (a_scale·b_scale/c_scale): beyond them any non-zero operand saturates, and ONNX Runtime's float→int32
    /// conversion would leave its range (255·2·2^20 + 255 and 255²·2^15 + 255 are below 2^31).
    /// </summary>
    public const float MaxAddRatio = 1 << 20, MaxMulMultiplier = 1 << 15;

    /// <summary>
    /// Largest x_scale/y_scale of QLinearAveragePool's float path (|avg/y_scale| stays far below 2^31), and the
    /// largest x_scale·255·∏kernel (window sums stay finite).
    /// </summary>
    public const double MaxPoolScaleRatio = 1 << 22, MaxPoolWindowMagnitude = 1e30;

    public const int MaxModelBytes = ProtocolLimits.MaxModelBytes;

    public const int MaxNodes = 4096;

    /// <summary>Largest single dimension of any tensor in the graph.</summary>
    public const long MaxDim = 1 << 22;

    /// <summary>Most elements in any one tensor (input, constant or intermediate).</summary>
    public const long MaxTensorElements = 1 << 22;

    /// <summary>Most multiply-accumulates (pooling window comparisons count as one) in one inference.</summary>
    public const long MaxMacs = 2_000_000_000;

    /// <summary>The int32 accumulator bound: K·max|a−a_zp|·max|b−b_zp| + max|bias| must not exceed it.</summary>
    public const long MaxAccumulator = int.MaxValue;

    /// <summary>
    /// Without VNNI, x86 multiplies u8×s8 with vpmaddubsw, which saturates the sum of each adjacent
    /// pair to int16. 255·64·2 = 32640 fits; 255·65·2 does not. So s8 operands (after zero point)
    /// multiplied with u8 must lie in [MinS8Weight, MaxS8Weight].
    /// </summary>
    public const int MinS8Weight = -64, MaxS8Weight = 63;

    /// <summary>
    /// The largest proven per-run memory (the planned arena: inputs, intermediates and kernel scratch) a
    /// model may need; above it admission refuses with code <c>memory</c>. Every validator re-executes
    /// every inference, so this bounds what one transaction can make every node allocate.
    /// </summary>
    public const long MaxArenaBytes = 256L << 20;
}
