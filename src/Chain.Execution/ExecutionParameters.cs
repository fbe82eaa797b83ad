namespace Chain.Execution;

/// <summary>
/// Consensus parameters fixed by genesis. Every node must use the same values; they enter the gas and
/// fee rules (docs/execution.md, "Gas and fees").
/// </summary>
public sealed record ExecutionParameters
{
    /// <summary>Version of the integer inference semantics receipts claim (docs/inference-semantics).</summary>
    public const uint SemanticsVersion = 1;

    /// <summary>Sum of the gas limits of a block's transactions may not exceed this.</summary>
    public ulong BlockGasLimit { get; init; } = 50_000_000;

    /// <summary>Largest canonical SignedTransaction accepted (at most ProtocolLimits.MaxTransactionBytes).</summary>
    public int MaxTxBytes { get; init; } = Core.Protocol.ProtocolLimits.MaxTransactionBytes;

    /// <summary>Minimum fee per unit of gas limit: a transaction must offer fee ≥ gasLimit × GasPrice.</summary>
    public ulong GasPrice { get; init; } = 1;

    /// <summary>Gas of a transfer.</summary>
    public ulong TransferGas { get; init; } = 1_000;

    /// <summary>Fixed gas of a RegisterModel (admission work), plus <see cref="ModelByteGas"/> per model byte.</summary>
    public ulong RegisterModelGas { get; init; } = 100_000;

    public ulong ModelByteGas { get; init; } = 1;

    /// <summary>Fixed gas of an Infer, plus <see cref="InputByteGas"/> per input byte, plus the model's static gas.</summary>
    public ulong InferGas { get; init; } = 1_000;

    public ulong InputByteGas { get; init; } = 1;

    /// <summary>The staking rules (the genesis file's "staking" object; defaults when it has none).</summary>
    public StakingParameters Staking { get; init; } = StakingParameters.Default;

    /// <summary>Checks ranges; returns the first problem or null.</summary>
    public string? Validate()
    {
        if (BlockGasLimit == 0) return "block_gas_limit must be at least 1";
        if (MaxTxBytes < 128 || MaxTxBytes > Core.Protocol.ProtocolLimits.MaxTransactionBytes)
            return $"max_tx_bytes must be in [128, {Core.Protocol.ProtocolLimits.MaxTransactionBytes}]";
        if (GasPrice == 0) return "gas_price must be at least 1 (free transactions would make spam free)";
        if (TransferGas == 0 || RegisterModelGas == 0 || InferGas == 0) return "fixed gas costs must be at least 1";
        if (Staking is null) return "staking parameters are missing";
        if (Staking.Validate() is { } staking) return $"staking: {staking}";
        return null;
    }
}
