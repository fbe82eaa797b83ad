using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>Transaction gossip: strictly decoded, admitted, passed on only when new.</summary>
public sealed partial class FullNode
{
    private void OnTransactionMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<SignedTransaction>(payload, out var tx, out var error))
        {
            Refuse(from, $"undecodable transaction: {error!.Message}");
            return;
        }
        var rejection = _validator.Mempool.Add(tx!);
        if (rejection is null)
        {
            Gossip(tx!, except: from); // only newly accepted transactions travel on: no gossip storms
            return;
        }
        // Duplicates, nonce races and a full pool are normal with gossip; these are not.
        if (rejection.Code is RejectCode.InvalidSignature or RejectCode.WrongChainId or RejectCode.TooLarge)
            Refuse(from, $"transaction {tx!.Hash}: {rejection}");
    }

    private void Gossip(SignedTransaction tx, PeerId? except)
    {
        _network.Broadcast(MessageChannel.Transactions, tx.Encoded.ToArray(), except);
        Metrics.TransactionGossiped();
    }
}
