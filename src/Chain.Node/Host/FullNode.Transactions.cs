using System.Threading.Channels;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// Transaction gossip in batches (<see cref="TransactionBatch"/>): admitted transactions are collected and flushed at
/// each tick or when a batch fills; received batches are strictly decoded and admitted with <see cref="Mempool.AddRange"/>
/// (signatures on every core) by a worker of their own, so the consensus loop never waits for signature checks, and
/// only the newly admitted ones travel on.
/// </summary>
public sealed partial class FullNode
{
    // Received batches waiting for the gossip worker (their bytes count in _queuedPeerBytes with the loop's inputs).
    private readonly Channel<PeerMessage> _transactionMessages;
    private readonly TransactionGossipBuffer _gossipBuffer;
    private Task? _transactionWorker;
    private int _transactionBatchesInFlight; // queued or being admitted: a proposal's bodies may be among them

    private static Channel<PeerMessage> NewTransactionQueue(int capacity) => Channel.CreateBounded<PeerMessage>(
        new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    private void EnqueueTransactionMessage(PeerMessage message)
    {
        Interlocked.Increment(ref _transactionBatchesInFlight);
        if (_transactionMessages.Writer.TryWrite(message)) return;
        Interlocked.Decrement(ref _transactionBatchesInFlight);
        _queuedPeerBytes.Remove(message.Payload.Length);
        Metrics.InputDropped(); // gossip is best effort: the proposer's block still brings the transaction
    }

    private async Task RunTransactionWorkerAsync()
    {
        try
        {
            await foreach (var m in _transactionMessages.Reader.ReadAllAsync(_stop.Token))
            {
                _queuedPeerBytes.Remove(m.Payload.Length);
                Metrics.MessageIn();
                try
                {
                    OnTransactionMessage(m.From, m.Payload);
                }
                finally
                {
                    Interlocked.Decrement(ref _transactionBatchesInFlight);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private void OnTransactionMessage(PeerId from, byte[] payload)
    {
        if (payload.Length > TransactionBatch.MaxEncodedSize)
        {
            Refuse(from, $"transaction batch of {payload.Length} bytes is over {TransactionBatch.MaxEncodedSize}");
            return;
        }
        if (!Canonical.TryDecode<TransactionBatch>(payload, out var batch, out var error))
        {
            Refuse(from, $"undecodable transaction batch: {error!.Message}");
            return;
        }
        var transactions = batch!.Transactions;
        var rejections = _validator.Mempool.AddRange(transactions);
        var admitted = new List<SignedTransaction>(transactions.Count);
        bool reported = false;
        for (int i = 0; i < transactions.Count; i++)
        {
            if (rejections[i] is not { } rejection)
            {
                admitted.Add(transactions[i]);
                continue;
            }
            // Duplicates, nonce races and a full pool are normal with gossip; these are not. One report per batch.
            if (!reported && rejection.Code is RejectCode.InvalidSignature or RejectCode.WrongChainId or RejectCode.TooLarge)
            {
                Refuse(from, $"transaction {transactions[i].Hash}: {rejection}");
                reported = true;
            }
        }
        // Only newly admitted transactions travel on, at once and to all but the sender: no gossip storms.
        if (admitted.Count > 0) SendBatch(new TransactionBatch(admitted), except: from);
    }

    private void SendBatch(TransactionBatch batch) => SendBatch(batch, except: null);

    private void SendBatch(TransactionBatch batch, PeerId? except)
    {
        _network.Broadcast(MessageChannel.Transactions, batch.Encoded.ToArray(), except);
        Metrics.TransactionsGossipedAdd(batch.Transactions.Count);
        Metrics.TransactionBatchSent();
    }
}
