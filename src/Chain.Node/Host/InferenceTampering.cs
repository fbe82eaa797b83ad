using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;

namespace Chain.Node.Host;

/// <summary>
/// Fault injection (<see cref="FaultInjection.TamperInferenceOutputs"/>): turns an honestly built block into one
/// that claims a wrong inference output. Only the receipts root changes, so the block passes every check that
/// does not re-run the model; re-execution is what must catch it.
/// </summary>
public static class InferenceTampering
{
    /// <summary>The tampered block, or the block itself when it has no inference receipt.</summary>
    public static Block Tamper(ChainExecutor executor, Block honest)
    {
        var verdict = executor.VerifyProposal(honest);
        if (!verdict.Accepted) return honest; // not ours to judge: propose it as built
        var receipts = verdict.Receipts.ToList();
        int index = receipts.FindIndex(r => r.Inference is not null);
        if (index < 0) return honest;
        var original = receipts[index];
        var inference = original.Inference!;
        var wrongHash = inference.OutputHash.ToArray();
        wrongHash[0] ^= 0xFF; // a different output than the model gives
        receipts[index] = new Receipt(original.TransactionHash, original.Status, original.GasUsed,
            new InferenceResult(inference.ModelId, inference.SemanticsVersion, inference.InputHash, new Hash32(wrongHash), inference.Output.Span));
        var h = honest.Header;
        var header = new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot,
            Block.ComputeReceiptsRoot(receipts), h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer, h.Version);
        return new Block(header, honest.Transactions, honest.LastCommit, honest.Evidence);
    }
}
