using Chain.Core.Protocol;

namespace Chain.Execution;

/// <summary>
/// Gas rules. Every limit is known before execution from the transaction alone, so a proposer can pack
/// a block and a mempool can price a transaction without state. Saturating arithmetic: a huge declared
/// size cannot wrap around to a small cost.
/// </summary>
public static class Gas
{
    /// <summary>
    /// The gas a transaction reserves: Transfer, the staking kinds and BeginModelUpload = TransferGas; RegisterModel = RegisterModelGas + ModelByteGas × bytes;
    /// UploadModelChunk = TransferGas + ModelByteGas × chunk bytes; SealModel = TransferGas + RegisterModelGas × chunks;
    /// Infer = its declared maxGas, but at least the intrinsic part (so even an Infer that runs out of gas at
    /// once pays for the bytes it puts in a block). Counted against the block gas limit and priced by the minimum fee.
    /// </summary>
    public static ulong Limit(Transaction tx, ExecutionParameters p)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return Limit(tx.Body, p);
    }

    /// <summary>The gas limit of a transaction with <paramref name="body"/> (it depends on nothing else): see <see cref="Limit(Transaction, ExecutionParameters)"/>.</summary>
    public static ulong Limit(TransactionBody body, ExecutionParameters p)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(p);
        return body switch
        {
            TransferBody => p.TransferGas,
            // Staking transactions touch a few fixed-size records, like a transfer (the set is recomputed once per block).
            CreateValidatorBody or BondBody or UnbondBody or UnjailBody => p.TransferGas,
            RegisterModelBody r => Register(r, p),
            // Chunked registration: each chunk pays for its bytes, the seal for admission per chunk (it bounds the seals per block).
            BeginModelUploadBody => p.TransferGas,
            UploadModelChunkBody c => Add(p.TransferGas, Mul(p.ModelByteGas, (ulong)c.Bytes.Length)),
            SealModelBody s => Add(p.TransferGas, Mul(p.RegisterModelGas, (ulong)s.ChunkCount)),
            InferBody i => Math.Max(i.MaxGas, InferIntrinsic(i, p)),
            _ => throw new ArgumentOutOfRangeException(nameof(body), $"unknown transaction kind {body.Kind}"),
        };
    }

    /// <summary>Gas of a RegisterModel: RegisterModelGas + ModelByteGas × model bytes.</summary>
    public static ulong Register(RegisterModelBody body, ExecutionParameters p) =>
        Add(p.RegisterModelGas, Mul(p.ModelByteGas, (ulong)body.ModelBytes.Length));

    /// <summary>The part of an Infer's gas that does not depend on the model: InferGas + InputByteGas × input bytes.</summary>
    public static ulong InferIntrinsic(InferBody body, ExecutionParameters p) =>
        Add(p.InferGas, Mul(p.InputByteGas, (ulong)body.Input.Length));

    /// <summary>
    /// Smallest acceptable fee: gas limit × gas price (saturating). The one fee estimator: admission, inclusion, the CLI
    /// (with the node's parameters from GET /status), the devnet and the benchmarks all price transactions with it.
    /// </summary>
    public static ulong MinFee(Transaction tx, ExecutionParameters p)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return MinFee(tx.Body, p);
    }

    /// <summary>The minimum fee of a transaction with <paramref name="body"/>, for signing it: gas limit × gas price.</summary>
    public static ulong MinFee(TransactionBody body, ExecutionParameters p) => Mul(Limit(body, p), p.GasPrice);

    public static ulong Add(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;

    public static ulong Mul(ulong a, ulong b) => b != 0 && a > ulong.MaxValue / b ? ulong.MaxValue : a * b;
}
