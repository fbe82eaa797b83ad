using System.Threading.Channels;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// Transaction gossip: transactions from clients are pushed in full, in batches (<see cref="TransactionBatch"/>), to
/// every peer; transactions admitted from a peer are relayed by hash (<see cref="TransactionRelayMessage"/>): announced
/// to the peers not known to have them and not covered by the source's own relay, and fetched by those that lack them.
/// Received messages are strictly decoded and handled by a worker of their own (signatures on every core with
/// <see cref="Mempool.AddRange"/>), so the consensus loop never waits for them. See docs/network.md, "Transaction relay".
/// </summary>
public sealed partial class FullNode
{
    // Received batches and relay messages waiting for the gossip worker (their bytes count in _queuedPeerBytes with the loop's inputs).
    private readonly Channel<PeerMessage> _transactionMessages;
    private readonly TransactionGossipBuffer _gossipBuffer;
    private readonly TransactionRelay _relay;
    private Task? _transactionWorker;
    private int _transactionBatchesInFlight; // queued or being admitted: a proposal's bodies may be among them
    private int _neighboursChanged = 1; // peers connected or left since our neighbour list was last sent

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
                    if (m.Channel == MessageChannel.TransactionRelay) OnRelayMessage(m.From, m.Payload);
                    else OnTransactionMessage(m.From, m.Payload);
                }
                finally
                {
                    Interlocked.Decrement(ref _transactionBatchesInFlight);
                    // A deferred proposal may have its first transaction now, a pending one its bodies or its last
                    // batch in flight admitted (it asks a peer only after that): the loop looks at once.
                    if (_waitsForTransactions) WakeForTransactions();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    // A push: a peer's client transactions.
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
        Admit(from, batch!.Transactions);
    }

    private void OnRelayMessage(PeerId from, byte[] payload)
    {
        if (payload.Length > TransactionRelayMessage.MaxEncodedSize)
        {
            Refuse(from, $"transaction relay message of {payload.Length} bytes is over {TransactionRelayMessage.MaxEncodedSize}");
            return;
        }
        if (!Canonical.TryDecode<TransactionRelayMessage>(payload, out var message, out var error))
        {
            Refuse(from, $"undecodable transaction relay message: {error!.Message}");
            return;
        }
        switch (message)
        {
            case HashAnnouncement a: OnAnnouncement(from, a); break;
            case HashRequest r: OnRequest(from, r); break;
            case RequestedBodies b: OnRequestedBodies(from, b); break;
            case PeerNeighbours n:
                // Its first list since it connected: ours in return, in case ours reached it before it listened.
                if (_relay.SetNeighbours(from, n.NodeKeys.Select(k => new PeerId(k)))) _network.Send(from, MessageChannel.TransactionRelay, OurNeighbours(_network.ConnectedPeers));
                break;
        }
    }

    private void OnAnnouncement(PeerId from, HashAnnouncement announcement)
    {
        Metrics.HashesAnnouncedInAdd(announcement.Hashes.Count);
        var wanted = _relay.Announced(from, announcement.Hashes, HaveTransaction, NowMs, out int avoided);
        Metrics.DuplicatesAvoidedAdd(avoided);
        if (wanted.Length > 0) Request(from, wanted);
    }

    // Here already: pending in the mempool, or committed (a store read; the worker reads the store anyway).
    private bool HaveTransaction(Hash32 hash) =>
        _validator.Mempool.Contains(hash) || _validator.Executor.Blocks.FindTransaction(hash) is not null;

    private void Request(PeerId peer, Hash32[] hashes)
    {
        Metrics.HashesRequestedAdd(hashes.Length);
        _network.Send(peer, MessageChannel.TransactionRelay, new HashRequest(hashes).Encoded.ToArray());
    }

    // Serves what we offered this peer and still have, each hash once, in one batch of at most FlushBytes (plus one):
    // a peer cannot make us send more bodies than we announced to it.
    private void OnRequest(PeerId from, HashRequest request)
    {
        var found = new List<SignedTransaction>();
        long bytes = 0;
        foreach (var hash in _relay.Servable(from, request.Hashes))
        {
            if (_validator.Mempool.Get(hash) is not { } tx) continue; // committed or evicted meanwhile: the asker moves on
            if (found.Count > 0 && bytes + tx.Encoded.Length > TransactionBatch.FlushBytes) break;
            bytes += tx.Encoded.Length;
            found.Add(tx);
        }
        if (found.Count == 0) return;
        if (!_network.Send(from, MessageChannel.TransactionRelay, new RequestedBodies(new TransactionBatch(found)).Encoded.ToArray())) return;
        Metrics.BodiesServedAdd(found.Count);
        Metrics.TransactionBodyBytesSentAdd(bytes);
    }

    private void OnRequestedBodies(PeerId from, RequestedBodies bodies)
    {
        var transactions = bodies.Batch.Transactions;
        if (!_relay.TakeAnswered(from, [.. transactions.Select(t => t.Hash)], out var unsolicited))
        {
            Refuse(from, $"transaction {unsolicited} sent as a requested body, but it was not asked of this peer");
            return; // nothing of it is admitted
        }
        Admit(from, transactions);
    }

    // Admits bodies a peer sent (pushed or requested) and announces the newly admitted ones onward.
    private void Admit(PeerId from, IReadOnlyList<SignedTransaction> transactions)
    {
        var rejections = _validator.Mempool.AddRange(transactions);
        var admitted = new List<Hash32>(transactions.Count);
        bool reported = false;
        for (int i = 0; i < transactions.Count; i++)
        {
            if (rejections[i] is not { } rejection)
            {
                admitted.Add(transactions[i].Hash);
                continue;
            }
            // Duplicates, nonce races and a full pool are normal with gossip; these are not. One report per batch.
            if (!reported && rejection.Code is RejectCode.InvalidSignature or RejectCode.WrongChainId or RejectCode.TooLarge)
            {
                Refuse(from, $"transaction {transactions[i].Hash}: {rejection}");
                reported = true;
            }
        }
        Metrics.TransactionsGossipedAdd(admitted.Count);
        // Only newly admitted transactions travel on, by hash, to peers neither known to have them nor covered by the sender.
        var sent = transactions.Select(t => t.Hash).ToArray();
        foreach (var (peer, hashes) in _relay.Received(from, sent, admitted, _network.ConnectedPeers))
            foreach (var chunk in hashes.Chunk(TransactionRelayMessage.MaxHashes))
            {
                Metrics.HashesAnnouncedOutAdd(chunk.Length);
                _network.Send(peer, MessageChannel.TransactionRelay, new HashAnnouncement(chunk).Encoded.ToArray());
            }
    }

    // A client's transactions: pushed in full to every peer.
    private void SendBatch(TransactionBatch batch)
    {
        var peers = _network.ConnectedPeers;
        _network.Broadcast(MessageChannel.Transactions, batch.Encoded.ToArray());
        _relay.Pushed(peers, [.. batch.Transactions.Select(t => t.Hash)]);
        Metrics.TransactionsGossipedAdd(batch.Transactions.Count);
        Metrics.TransactionBatchSent();
        Metrics.TransactionBodyBytesSentAdd((long)peers.Count * batch.Transactions.Sum(t => (long)t.Encoded.Length));
    }

    private static byte[] OurNeighbours(IReadOnlyList<PeerId> peers) =>
        new PeerNeighbours(peers.Select(p => p.NodeKey).Distinct().Take(TransactionRelayMessage.MaxNeighbours).ToArray()).Encoded.ToArray();

    private void OnRelayPeersChanged(PeerId peer, bool connected)
    {
        if (!connected) _relay.Forget(peer);
        Volatile.Write(ref _neighboursChanged, 1);
    }

    /// <summary>
    /// On the clock's thread, beside the loop's tick (not on the loop): our neighbour list to every peer when peers
    /// came or went, and fetches unanswered past <see cref="FullNodeOptions.PartsRequestTimeout"/> asked of their next announcer.
    /// </summary>
    private void RelayTick()
    {
        if (Interlocked.Exchange(ref _neighboursChanged, 0) == 1)
        {
            var peers = _network.ConnectedPeers;
            _relay.Retain(peers);
            _network.Broadcast(MessageChannel.TransactionRelay, OurNeighbours(peers));
        }
        var asks = _relay.Expire(NowMs, HaveTransaction, out int timedOut);
        Metrics.RelayRequestsTimedOutAdd(timedOut);
        foreach (var (peer, hashes) in asks) Request(peer, hashes);
    }
}
