using System.Collections.Concurrent;
using Chain.Core.Crypto;
using Chain.Network;

namespace Chain.Network.Tests;

public class InMemoryNetworkHubTests
{
    private static PublicKey Key(byte b) => PrivateKey.FromSeed(Enumerable.Repeat(b, 32).ToArray()).PublicKey;

    [Fact]
    public void Broadcast_reaches_every_other_peer_and_partition_cuts_links_until_heal()
    {
        var hub = new InMemoryNetworkHub();
        var keys = new[] { Key(1), Key(2), Key(3) };
        var inbox = keys.Select(_ => new ConcurrentQueue<PeerMessage>()).ToArray();
        var nets = keys.Select((k, i) =>
        {
            var n = hub.Join(k);
            n.MessageReceived += m => inbox[i].Enqueue(m);
            return n;
        }).ToArray();

        nets[0].Broadcast(MessageChannel.Transactions, [7]);
        Assert.Empty(inbox[0]);
        Assert.Single(inbox[1]);
        Assert.Single(inbox[2]);
        Assert.Equal(new PeerId(keys[0]), inbox[1].Single().From);

        var disconnected = new List<PeerId>();
        nets[2].PeerDisconnected += p => disconnected.Add(p);
        hub.Partition([keys[0], keys[1]], [keys[2]]);
        Assert.Equal(2, disconnected.Count);
        Assert.Equal(2, nets[0].ConnectedPeers.Count + nets[2].ConnectedPeers.Count + 1);
        Assert.False(nets[0].Send(new PeerId(keys[2]), MessageChannel.Consensus, [1]));
        nets[0].Broadcast(MessageChannel.Consensus, [2]);
        Assert.Single(inbox[2]);
        Assert.Equal(2, inbox[1].Count);

        hub.Heal();
        Assert.Equal(2, nets[2].ConnectedPeers.Count);
        Assert.True(nets[0].Send(new PeerId(keys[2]), MessageChannel.Consensus, [3]));
        Assert.Equal(2, inbox[2].Count);

        nets[1].Dispose();
        Assert.Single(nets[0].ConnectedPeers);
    }
}
