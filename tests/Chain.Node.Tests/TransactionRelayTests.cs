using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Network;
using Chain.Node.Host;
using MessagePack;
using Xunit.Abstractions;

namespace Chain.Node.Tests;

/// <summary>
/// Transaction relay by hash (issue 14): a node pushes its clients' transactions in full and only announces those it
/// admits from peers; peers fetch what they lack, from one announcer at a time. The wire forms, the bytes it saves,
/// partial topologies, silent announcers and hostile messages.
/// </summary>
public sealed class TransactionRelayTests(ITestOutputHelper output)
{

    private static Hash32 HashOf(int i) => new(SHA256.HashData(BitConverter.GetBytes(i)));

    private static PrivateKey PeerKey(string name) => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/relay-" + name)));

    private static byte[] Announcement(IEnumerable<Hash32> hashes) => RawMessagePack.Encode((ref MessagePackWriter w) =>
    {
        var list = hashes.ToList();
        w.WriteArrayHeader(2);
        w.Write(TransactionRelayMessage.KindAnnouncement);
        w.WriteArrayHeader(list.Count);
        foreach (var h in list) w.Write(h);
    });

    [Fact]
    public void Every_relay_message_round_trips_and_unbounded_repeated_or_unknown_forms_are_refused()
    {
        var cluster = new NodeCluster();
        var txs = Enumerable.Range(0, 3).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        TransactionRelayMessage[] messages =
        [
            new HashAnnouncement(txs.Select(t => t.Hash).ToArray()),
            new HashRequest([txs[0].Hash]),
            new RequestedBodies(new TransactionBatch(txs)),
            new PeerNeighbours(cluster.Keys.Select(k => k.PublicKey).ToArray()),
            new PeerNeighbours([]),
        ];
        foreach (var m in messages)
        {
            var decoded = Canonical.Decode<TransactionRelayMessage>(m.Encoded);
            Assert.Equal(m.GetType(), decoded.GetType());
            Assert.Equal(m.Encoded.ToArray(), decoded.Encoded.ToArray());
        }
        Assert.Equal(txs.Select(t => t.Hash), ((RequestedBodies)Canonical.Decode<TransactionRelayMessage>(messages[2].Encoded)).Batch.Transactions.Select(t => t.Hash));

        string Refusal(byte[] bytes)
        {
            Assert.False(Canonical.TryDecode<TransactionRelayMessage>(bytes, out _, out var error));
            output.WriteLine(error!.Message);
            return error.Message;
        }
        Assert.Contains("announced hashes", Refusal(Announcement(Enumerable.Range(0, TransactionRelayMessage.MaxHashes + 1).Select(HashOf))));
        Assert.Contains("repeats an earlier one", Refusal(Announcement([HashOf(1), HashOf(2), HashOf(1)])));
        Assert.Contains("no announced hashes", Refusal(Announcement([])));
        Assert.Contains("unknown transaction relay message kind 36", Refusal([0x92, 36, 0x90]));
        Assert.Contains("empty transaction batch", Refusal([0x92, TransactionRelayMessage.KindBodies, 0x90]));
        Refusal([.. messages[0].Encoded.ToArray(), 0]); // trailing byte
        Assert.Contains("neighbours has 65 items", Refusal(RawMessagePack.Encode((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.Write(TransactionRelayMessage.KindNeighbours);
            w.WriteArrayHeader(TransactionRelayMessage.MaxNeighbours + 1);
            for (int i = 0; i <= TransactionRelayMessage.MaxNeighbours; i++) w.Write(PeerKey(i.ToString()).PublicKey);
        })));
        Assert.Throws<ArgumentException>(() => new HashRequest([]));
        Assert.Throws<ArgumentException>(() => new HashAnnouncement([HashOf(1), HashOf(1)]));
    }

    [Fact]
    public async Task A_burst_submitted_to_one_node_reaches_and_commits_everywhere_with_each_body_sent_once_per_other_node()
    {
        await using var cluster = new NodeCluster();
        // Counted on the wire too: pushed batches and requested bodies, whatever the node's metrics say.
        static bool CarriesBodies(MessageChannel channel, byte[] payload) => channel == MessageChannel.Transactions ||
            (channel == MessageChannel.TransactionRelay && Canonical.Decode<TransactionRelayMessage>(payload) is RequestedBodies);
        var wires = new List<OutgoingBytes>();
        for (int i = 0; i < 4; i++)
            cluster.Start(i, network: n =>
            {
                var wire = new OutgoingBytes(n, CarriesBodies);
                wires.Add(wire);
                return wire;
            });
        await cluster.WaitForHeight(1); // peers connected and neighbour lists exchanged long since (each tick sends changes)
        var nodes = cluster.Running.ToList();
        long before = nodes.Sum(n => n.Metrics.TransactionBodyBytesSent), wireBefore = wires.Sum(w => w.Bytes);

        var txs = Enumerable.Range(0, 40).Select(i => cluster.Transfer(i % 3, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        Assert.All(nodes[0].SubmitRange(txs), Assert.Null);
        await NodeCluster.WaitFor(() => txs.All(t => nodes.All(n => NodeCluster.Included(n, t))), "every transaction committed on every node");

        long bodyBytes = nodes.Sum(n => n.Metrics.TransactionBodyBytesSent) - before, wireBytes = wires.Sum(w => w.Bytes) - wireBefore;
        long size = txs.Sum(t => (long)t.Encoded.Length);
        int others = nodes.Count - 1;
        output.WriteLine($"{txs.Length} transactions, {size} B: {bodyBytes} B of bodies sent = {(double)bodyBytes / size:F2} × size, {wireBytes} B of messages carrying them " +
            $"(goal ≤ {1.5 * others} ×); announced out {string.Join("+", nodes.Select(n => n.Metrics.HashesAnnouncedOut))}, requested {nodes.Sum(n => n.Metrics.HashesRequested)}, " +
            $"served {nodes.Sum(n => n.Metrics.BodiesServed)}, duplicates avoided {nodes.Sum(n => n.Metrics.DuplicatesAvoided)}");
        // Flooding sends each body (n−1) + (n−1)(n−2) = 9 times at n = 4; the goal allows 1.5 × (n−1) = 4.5.
        Assert.True(bodyBytes <= 1.5 * others * size, $"{bodyBytes} B of bodies for {size} B of transactions is over 1.5 × {others} × size");
        Assert.True(bodyBytes >= others * size, "every other node got every body once"); // the counter counts what it must
        // The messages that carried them: the bodies plus a few bytes of framing per batch.
        Assert.InRange(wireBytes, bodyBytes, (long)(1.5 * others * size));
        Assert.All(nodes, n => Assert.Equal(0, n.Metrics.HashesAnnouncedOut)); // a full mesh: the origin's push covers every node
        Assert.All(nodes, n => Assert.Equal(0, n.Metrics.MisbehaviourReports));
    }

    [Fact]
    public async Task A_node_behind_a_line_topology_gets_the_transaction_by_announcement_and_request()
    {
        await using var cluster = new NodeCluster();
        var a = new PeerId(cluster.Keys[0].PublicKey);
        var c = new PeerId(cluster.Keys[2].PublicKey);
        // A – B – C: A and C never see each other; the fourth validator stays down (nothing is decided, mempools keep all).
        var nodeA = cluster.Start(0, network: n => new HiddenPeers(n, c));
        var nodeB = cluster.Start(1);
        var nodeC = cluster.Start(2, network: n => new HiddenPeers(n, a));
        await NodeCluster.WaitFor(() => nodeA.Metrics.Peers == 1 && nodeB.Metrics.Peers == 2 && nodeC.Metrics.Peers == 1, "the line connected");

        var tx = cluster.Transfer(0, cluster.Keys[1].Address, 7);
        Assert.Null(nodeA.Submit(tx));
        // B counts a body as served once its send returned, which may be after C admitted it: wait for both.
        await NodeCluster.WaitFor(() => nodeC.Mempool.Contains(tx.Hash) && nodeB.Metrics.BodiesServed >= 1, "the transaction at C, served by B");

        Assert.True(nodeB.Mempool.Contains(tx.Hash));
        Assert.Equal(1, nodeB.Metrics.HashesAnnouncedOut); // to C only: A sent it
        Assert.Equal(1, nodeC.Metrics.HashesAnnouncedIn);
        Assert.Equal(1, nodeC.Metrics.HashesRequested);
        Assert.Equal(1, nodeB.Metrics.BodiesServed);
        Assert.Equal(0, nodeC.Metrics.HashesAnnouncedOut); // C's only peer is B, which has it
        Assert.All([nodeA, nodeB, nodeC], n => Assert.Equal(0, n.Metrics.MisbehaviourReports));
    }

    [Fact]
    public async Task An_announcer_that_never_answers_does_not_stop_the_transaction_the_next_announcer_brings_it()
    {
        // The node's clock is a fake one: the first fetch times out when the test says so, not when a loaded machine does.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        await using var cluster = new NodeCluster();
        var node = cluster.Start(0, tune: o => o with { PartsRequestTimeout = TimeSpan.FromMilliseconds(300), Time = time }); // alone: decides nothing
        var target = new PeerId(cluster.Keys[0].PublicKey);
        var tx = cluster.Transfer(0, cluster.Keys[1].Address, 3);
        using var silent = cluster.Hub.Join(PeerKey("silent").PublicKey);
        using var honest = cluster.Hub.Join(PeerKey("honest").PublicKey);
        int silentAsked = 0, honestAsked = 0;
        silent.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.TransactionRelay && Canonical.Decode<TransactionRelayMessage>(m.Payload) is HashRequest) Interlocked.Increment(ref silentAsked);
        };
        honest.MessageReceived += m =>
        {
            if (m.Channel != MessageChannel.TransactionRelay || Canonical.Decode<TransactionRelayMessage>(m.Payload) is not HashRequest r) return;
            Interlocked.Increment(ref honestAsked);
            Assert.Equal([tx.Hash], r.Hashes);
            honest.Send(m.From, MessageChannel.TransactionRelay, new RequestedBodies(new TransactionBatch([tx])).Encoded.ToArray());
        };
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 2, "both announcers connected");

        Assert.True(silent.Send(target, MessageChannel.TransactionRelay, new HashAnnouncement([tx.Hash]).Encoded.ToArray()));
        await NodeCluster.WaitFor(() => Volatile.Read(ref silentAsked) == 1, "the first announcer asked");
        Assert.True(honest.Send(target, MessageChannel.TransactionRelay, new HashAnnouncement([tx.Hash]).Encoded.ToArray()));
        await NodeCluster.WaitFor(() => node.Metrics.DuplicatesAvoided == 1, "the second announcement taken while the first fetch is in flight");
        Assert.Equal(0, Volatile.Read(ref honestAsked));
        time.Advance(TimeSpan.FromMilliseconds(300)); // the first fetch's timeout: the next tick asks the second announcer
        await NodeCluster.WaitFor(() => node.Mempool.Contains(tx.Hash), "the body from the second announcer");

        Assert.Equal(1, Volatile.Read(ref silentAsked));
        Assert.Equal(1, Volatile.Read(ref honestAsked)); // asked only after the first timed out, not at its announcement
        Assert.Equal(1, node.Metrics.RelayRequestsTimedOut);
        Assert.Equal(2, node.Metrics.HashesRequested);
        Assert.Equal(1, node.Metrics.DuplicatesAvoided); // the second announcement, while the first was in flight
        Assert.Equal(0, node.Metrics.MisbehaviourReports);
    }

    [Fact]
    public async Task A_peer_announcing_junk_is_asked_for_a_bounded_number_and_cannot_crowd_out_an_honest_announcer()
    {
        await using var cluster = new NodeCluster();
        // No fetch may time out while the announcements are taken (a freed slot would be asked again): a loaded machine
        // can take longer than the default 500 ms.
        var node = cluster.Start(0, tune: o => o with { PartsRequestTimeout = TimeSpan.FromMinutes(5) }); // alone: decides nothing
        var target = new PeerId(cluster.Keys[0].PublicKey);
        var tx = cluster.Transfer(0, cluster.Keys[1].Address, 4);
        using var junk = cluster.Hub.Join(PeerKey("junk").PublicKey);
        using var honest = cluster.Hub.Join(PeerKey("honest").PublicKey);
        honest.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.TransactionRelay && Canonical.Decode<TransactionRelayMessage>(m.Payload) is HashRequest)
                honest.Send(m.From, MessageChannel.TransactionRelay, new RequestedBodies(new TransactionBatch([tx])).Encoded.ToArray());
        };
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 2, "both peers connected");

        const int announced = 5 * TransactionRelayMessage.MaxHashes; // more than one peer may have in flight (a quarter of 8,192)
        for (int m = 0; m < 5; m++)
            Assert.True(junk.Send(target, MessageChannel.TransactionRelay,
                new HashAnnouncement(Enumerable.Range(m * TransactionRelayMessage.MaxHashes, TransactionRelayMessage.MaxHashes).Select(HashOf).ToArray()).Encoded.ToArray()));
        await NodeCluster.WaitFor(() => node.Metrics.HashesAnnouncedIn == announced, "the junk announcements taken");
        Assert.Equal(2048, node.Metrics.HashesRequested);

        Assert.True(honest.Send(target, MessageChannel.TransactionRelay, new HashAnnouncement([tx.Hash]).Encoded.ToArray()));
        await NodeCluster.WaitFor(() => node.Mempool.Contains(tx.Hash), "the honest announcer's transaction");
        Assert.Equal(2049, node.Metrics.HashesRequested);
        Assert.Equal(0, node.Metrics.MisbehaviourReports); // unanswered announcements are not proof of malice
    }

    [Fact]
    public async Task Hostile_relay_messages_are_refused_with_the_peer_reported_and_change_nothing()
    {
        await using var cluster = new NodeCluster();
        var node = cluster.Start(0);
        var target = new PeerId(cluster.Keys[0].PublicKey);
        using var rogue = cluster.Hub.Join(PeerKey("rogue").PublicKey);
        int bodiesServed = 0;
        rogue.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.TransactionRelay && Canonical.Decode<TransactionRelayMessage>(m.Payload) is RequestedBodies) Interlocked.Increment(ref bodiesServed);
        };
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 1, "the rogue connected");
        var unasked = cluster.Transfer(0, cluster.Keys[1].Address, 1);
        var pending = cluster.Transfer(1, cluster.Keys[2].Address, 1);
        Assert.Null(node.Submit(pending)); // pushed to the rogue, never announced to it: not servable to it

        var hostile = new (string Reason, byte[] Bytes)[]
        {
            ("over", new byte[TransactionRelayMessage.MaxEncodedSize + 1]),
            ("undecodable transaction relay message", [0xde, 0xad, 0xbe, 0xef]),
            ("announced hashes", Announcement(Enumerable.Range(0, TransactionRelayMessage.MaxHashes + 1).Select(HashOf))),
            ("repeats an earlier one", Announcement([HashOf(1), HashOf(1)])),
            ("unknown transaction relay message kind", [0x92, 0x7f, 0x90]),
            ("not asked of this peer", new RequestedBodies(new TransactionBatch([unasked])).Encoded.ToArray()),
        };
        foreach (var (_, bytes) in hostile) Assert.True(rogue.Send(target, MessageChannel.TransactionRelay, bytes));
        // Not misbehaviour, but nothing to serve: the rogue was never offered it.
        Assert.True(rogue.Send(target, MessageChannel.TransactionRelay, new HashRequest([pending.Hash, HashOf(9)]).Encoded.ToArray()));
        var good = cluster.Transfer(2, cluster.Keys[0].Address, 1);
        Assert.True(rogue.Send(target, MessageChannel.Transactions, new TransactionBatch([good]).Encoded.ToArray())); // the worker takes messages in order

        await NodeCluster.WaitFor(() => node.Mempool.Contains(good.Hash), "the push after the hostile messages admitted");
        Assert.Equal(hostile.Length, node.Metrics.MisbehaviourReports);
        var reasons = node.RecentMisbehaviour;
        Assert.All(hostile, h => Assert.Contains(reasons, r => r.Contains(h.Reason)));
        Assert.False(node.Mempool.Contains(unasked.Hash));
        Assert.Equal(2, node.Mempool.Count); // pending and good
        Assert.Equal(0, node.Metrics.HashesRequested);
        Assert.Equal(0, node.Metrics.BodiesServed);
        Assert.Equal(0, Volatile.Read(ref bodiesServed));
        Assert.Null(node.Failure);
    }
}
