using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// Why a transaction cannot be included in a block at all (so it gets no receipt and changes nothing).
/// Codes 1–4 are the same numbers as the matching <see cref="ReceiptStatus"/> values, and so are the mempool's
/// body refusals 6–8 (the receipt status such a transaction would certainly get if it were included).
/// </summary>
public enum RejectCode : ushort
{
    InvalidSignature = ReceiptStatus.InvalidSignature,
    WrongChainId = ReceiptStatus.WrongChainId,
    /// <summary>Nonce is not the account's next nonce (too low: a replay; too high: a gap).</summary>
    BadNonce = ReceiptStatus.BadNonce,
    /// <summary>The sender cannot pay the fee.</summary>
    InsufficientFunds = ReceiptStatus.InsufficientFunds,
    /// <summary>Mempool only: an Infer's input cannot fit its registered model (the receipt would say InvalidInput).</summary>
    InvalidInput = ReceiptStatus.InvalidInput,
    /// <summary>Mempool only: an Infer's maxGas is below its intrinsic gas or its registered model's cost (the receipt would say OutOfGas).</summary>
    OutOfGas = ReceiptStatus.OutOfGas,
    /// <summary>Mempool only: model admission refuses a RegisterModel's bytes (the receipt would say ModelRejected).</summary>
    ModelRejected = ReceiptStatus.ModelRejected,
    /// <summary>Fee below gas limit × gas price.</summary>
    FeeTooLow = 100,
    /// <summary>Encoded transaction larger than the genesis max_tx_bytes.</summary>
    TooLarge = 101,
    /// <summary>The transaction's gas limit alone exceeds the block gas limit.</summary>
    GasLimitTooHigh = 102,
    /// <summary>Mempool only: the transaction is already in a committed block.</summary>
    AlreadyIncluded = 103,
    /// <summary>Mempool only: the same transaction is already pending.</summary>
    Duplicate = 104,
    /// <summary>Mempool only: count or byte limit reached and this fee does not outbid anything evictable.</summary>
    MempoolFull = 105,
    /// <summary>Mempool only: the sender's pending transactions would spend more than its balance.</summary>
    PendingOverspend = 106,
    /// <summary>Node only: the node is shutting down and takes no transactions.</summary>
    Unavailable = 107,
    /// <summary>A staking transaction the staking state cannot take (docs/staking.md, "Transactions"): the message names the field.</summary>
    InvalidStaking = 108,
}

/// <summary>A refusal with its code and a message a user can act on.</summary>
public sealed record Rejection(RejectCode Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}
