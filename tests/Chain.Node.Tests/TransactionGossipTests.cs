using System.Security.Cryptography;
using System.Text;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Network;
using Chain.Node.Host;
using MessagePack;

namespace Chain.Node.Tests;

/// <summary>Batched transaction gossip (issue 14): the <see cref="TransactionBatch"/> wire form and how a node takes and passes batches on.</summary>
public sealed class TransactionGossipTests
{

    [Fact]
    public void A_batch_round_trips_and_empty_overlong_or_trailing_forms_are_refused()
    {
        var cluster = new NodeCluster();
        var txs = Enumerable.Range(0, 3).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        var batch = new TransactionBatch(txs);
        var decoded = Canonical.Decode<TransactionBatch>(batch.Encoded);
        Assert.Equal(txs.Select(t => t.Hash), decoded.Transactions.Select(t => t.Hash));
        Assert.Equal(batch.Encoded.ToArray(), decoded.Encoded.ToArray());

        Assert.False(Canonical.TryDecode<TransactionBatch>(new byte[] { 0x90 }, out _, out var empty));
        Assert.Contains("empty transaction batch", empty!.Message);
        var overlong = RawMessagePack.Encode((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(TransactionBatch.MaxCount + 1);
            for (int i = 0; i <= TransactionBatch.MaxCount; i++) w.WriteNil(); // enough bytes that only the count is wrong
        });
        Assert.False(Canonical.TryDecode<TransactionBatch>(overlong, out _, out var over));
        Assert.Contains($"has {TransactionBatch.MaxCount + 1} items, limit {TransactionBatch.MaxCount}", over!.Message);
        Assert.False(Canonical.TryDecode<TransactionBatch>(batch.Encoded.ToArray().Append((byte)0).ToArray(), out _, out _));
        Assert.False(Canonical.TryDecode<TransactionBatch>(txs[0].Encoded, out _, out _)); // the old single form is gone
        Assert.Throws<ArgumentException>(() => new TransactionBatch([]));
        Assert.Throws<ArgumentException>(() => new TransactionBatch(Enumerable.Repeat(txs[0], TransactionBatch.MaxCount + 1).ToArray()));
    }

    [Fact]
    public async Task Oversize_and_malformed_batches_are_refused_with_the_peer_reported_and_a_good_batch_is_announced_on_as_one()
    {
        await using var cluster = new NodeCluster();
        var node = cluster.Start(0); // alone: it decides nothing, so its mempool keeps what it admits
        var rogueKey = PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/gossip-rogue")));
        using var rogue = cluster.Hub.Join(rogueKey.PublicKey);
        using var listener = cluster.Hub.Join(PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/gossip-listener"))).PublicKey);
        var heard = new List<byte[]>();
        listener.MessageReceived += m =>
        {
            // What the node passes on from a peer: announcements (relay by hash), not bodies.
            if (m.Channel == MessageChannel.Transactions || (m.Channel == MessageChannel.TransactionRelay && Canonical.Decode<TransactionRelayMessage>(m.Payload) is HashAnnouncement))
                lock (heard) heard.Add(m.Payload);
        };
        var target = new PeerId(cluster.Keys[0].PublicKey);
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 2, "both peers connected");

        var good = Enumerable.Range(0, 3).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        var key = DevnetKeys.For("account-1");
        var unsigned = new Transaction(cluster.Genesis.ChainId, key.PublicKey, 0, 10_000, new TransferBody(cluster.Keys[1].Address, 1));
        var forged = new SignedTransaction(unsigned, rogueKey.Sign(unsigned.SignBytes()));
        var oversize = new byte[TransactionBatch.MaxEncodedSize + 1];
        oversize[0] = 0xdc; // array 16: a header, then more bytes than any batch may have

        Assert.True(rogue.Send(target, MessageChannel.Transactions, oversize));
        Assert.True(rogue.Send(target, MessageChannel.Transactions, [0x90])); // empty batch
        Assert.True(rogue.Send(target, MessageChannel.Transactions, good[0].Encoded.ToArray())); // the single form: not a batch
        Assert.True(rogue.Send(target, MessageChannel.Transactions, new TransactionBatch([forged, cluster.Transfer(2, cluster.Keys[1].Address, 1)]).Encoded.ToArray()));
        Assert.True(rogue.Send(target, MessageChannel.Transactions, new TransactionBatch(good).Encoded.ToArray()));

        await NodeCluster.WaitFor(() => node.Mempool.Count == 4 && node.Metrics.MisbehaviourReports == 4, "4 admitted, 4 reports");
        var reasons = node.RecentMisbehaviour;
        Assert.Contains(reasons, r => r.Contains($"is over {TransactionBatch.MaxEncodedSize}"));
        Assert.Contains(reasons, r => r.Contains("empty transaction batch"));
        Assert.Contains(reasons, r => r.StartsWith("undecodable transaction batch") && !r.Contains("empty"));
        Assert.Contains(reasons, r => r.Contains("InvalidSignature"));
        Assert.False(node.Mempool.Contains(forged.Hash));
        Assert.All(good, t => Assert.True(node.Mempool.Contains(t.Hash)));

        // Announced on by hash: the honest one of the mixed batch, then the good batch as one message; the forged one never.
        await NodeCluster.WaitFor(() => { lock (heard) return heard.Count == 2; }, "two announcements passed on to the other peer");
        var passed = heard.Select(p => ((HashAnnouncement)Canonical.Decode<TransactionRelayMessage>(p)).Hashes.ToArray()).ToArray();
        Assert.Single(passed[0]);
        Assert.Equal(good.Select(t => t.Hash), passed[1]);
        Assert.Equal(4, node.Metrics.TransactionsGossiped);
        Assert.Equal(4, node.Metrics.HashesAnnouncedOut);
        Assert.Equal(0, node.Metrics.TransactionBatchesSent); // bodies from a peer are never pushed on
        Assert.Null(node.Failure);
    }

    [Fact]
    public async Task Submitted_transactions_leave_in_one_batch_at_the_next_tick()
    {
        await using var cluster = new NodeCluster();
        var node = cluster.Start(0);
        using var listener = cluster.Hub.Join(PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/gossip-listener"))).PublicKey);
        var heard = new List<byte[]>();
        listener.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.Transactions) lock (heard) heard.Add(m.Payload);
        };
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 1, "the listener connected");
        var txs = Enumerable.Range(0, 5).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        Assert.All(node.SubmitRange(txs), Assert.Null);

        await NodeCluster.WaitFor(() => node.Metrics.TransactionBatchesSent >= 1, "a batch sent");
        await NodeCluster.WaitFor(() => { lock (heard) return heard.Count >= 1; }, "the batch heard");
        lock (heard)
        {
            var all = heard.SelectMany(p => Canonical.Decode<TransactionBatch>(p).Transactions).Select(t => t.Hash).ToArray();
            Assert.Equal(txs.Select(t => t.Hash), all); // in admission order, so a sender's nonces stay in sequence
            Assert.True(heard.Count <= 2, $"{heard.Count} batches for 5 transactions admitted together");
        }
    }
}
