using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Network;
using Chain.Node.Host;

namespace Chain.Node.Tests;

/// <summary>
/// A parts response never carries more than <see cref="FullNodeOptions.PartsResponseByteBudget"/> of bodies (but always
/// one), so no parts response needs a whole-block frame; the asker gets the rest by asking again (docs/node.md).
/// </summary>
public sealed class PartsResponseBoundTests
{
    [Fact]
    public async Task A_parts_request_for_more_than_the_budget_is_answered_with_what_fits_and_always_one_body()
    {
        await using var cluster = new NodeCluster();
        var txs = Enumerable.Range(0, 3).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        int budget = 2 * txs[0].Encoded.Length - 1; // one transfer fits, two do not
        Assert.True(txs.All(t => t.Encoded.Length == txs[0].Encoded.Length));
        // Alone of 4 validators: nothing commits, so the submitted transfers stay in its mempool.
        var node = cluster.Start(0, tune: o => o with { PartsResponseByteBudget = budget });
        foreach (var tx in txs) Assert.Null(node.Submit(tx));

        using var askerKey = PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/parts-asker")));
        using var asker = cluster.Hub.Join(askerKey.PublicKey);
        var responses = new ConcurrentQueue<PartsResponse>();
        asker.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.Consensus && BlockPartsMessage.IsOne(m.Payload)
                && Canonical.TryDecode<BlockPartsMessage>(m.Payload, out var message, out _) && message is PartsResponse r)
                responses.Enqueue(r);
        };
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 1, "the asker connected");
        var target = new PeerId(cluster.Keys[0].PublicKey);

        Assert.True(asker.Send(target, MessageChannel.Consensus, new PartsRequest(new Height(1), Hash32.Zero, txs.Select(t => t.Hash).ToArray()).Encoded.ToArray()));
        await NodeCluster.WaitFor(() => responses.Count == 1, "the first answer");
        // The budget holds one transfer, not two: the first body only, in the asked order.
        Assert.Equal([txs[0].Hash], responses.Single().Transactions.Select(t => t.Hash));

        Assert.True(asker.Send(target, MessageChannel.Consensus, new PartsRequest(new Height(1), Hash32.Zero, [txs[2].Hash, txs[1].Hash]).Encoded.ToArray()));
        await NodeCluster.WaitFor(() => responses.Count == 2, "the second answer");
        Assert.Equal([txs[2].Hash], responses.Last().Transactions.Select(t => t.Hash));
        Assert.Null(node.Failure);
    }

    [Fact]
    public void A_parts_budget_above_what_a_stranger_accepts_is_refused()
    {
        var cluster = new NodeCluster();
        var e = Assert.ThrowsAny<Exception>(() => cluster.Start(0, tune: o => o with { PartsResponseByteBudget = (8 << 20) + 1 }));
        Assert.Contains("PartsResponseByteBudget", e.Message);
    }
}
