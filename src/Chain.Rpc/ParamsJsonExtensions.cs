using Chain.Execution;

namespace Chain.Rpc;

public static class ParamsJsonExtensions
{
    /// <summary>The execution parameters a /status <c>params</c> object describes (to price with <c>Gas.MinFee</c>).</summary>
    public static ExecutionParameters ToParameters(this ParamsJson p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new()
        {
            GasPrice = p.GasPrice, BlockGasLimit = p.BlockGasLimit, MaxTxBytes = p.MaxTxBytes, TransferGas = p.TransferGas,
            RegisterModelGas = p.RegisterModelGas, ModelByteGas = p.ModelByteGas, InferGas = p.InferGas, InputByteGas = p.InputByteGas,
        };
    }
}
