using System.Security.Cryptography;
using System.Text;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Network;
using Chain.Node.Host;
using MessagePack;

namespace Chain.Node.Tests;

/// <summary>The pure parts of the node: wire encodings, buffers and the sync peer choice, without a network or clock.</summary>
public sealed class SyncProtocolTests
{
    private static PeerId Peer(string name) => new(PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes(name))).PublicKey);

    [Fact]
    public void Sync_messages_and_status_round_trip_canonically()
    {
        var request = new SyncRequest(new Height(7), 20);
        var decoded = Assert.IsType<SyncRequest>(Canonical.Decode<SyncMessage>(request.Encoded));
        Assert.Equal(7UL, decoded.From.Value);
        Assert.Equal(20U, decoded.MaxBlocks);
        var empty = Assert.IsType<SyncResponse>(Canonical.Decode<SyncMessage>(new SyncResponse([]).Encoded));
        Assert.Empty(empty.Blocks);
        Assert.Equal(42UL, Canonical.Decode<PeerStatus>(new PeerStatus(new Height(42)).Encoded).LatestHeight.Value);
    }

    [Theory]
    [InlineData(0UL, 5U, "heights start at 1")]
    [InlineData(3UL, 0U, "outside 1..20")]
    [InlineData(3UL, 21U, "outside 1..20")]
    public void A_sync_request_out_of_bounds_is_refused_with_the_reason(ulong from, uint max, string reason)
    {
        var bytes = Encode((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(3);
            w.Write(SyncMessage.KindRequest);
            w.Write(from);
            w.Write(max);
        });
        Assert.False(Canonical.TryDecode<SyncMessage>(bytes, out _, out var error));
        Assert.Contains(reason, error!.Message);
    }

    [Fact]
    public void A_sync_response_with_more_than_the_block_limit_is_refused_before_reading_blocks()
    {
        var bytes = Encode((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.Write(SyncMessage.KindResponse);
            w.WriteArrayHeader(SyncLimits.MaxBlocksPerResponse + 1);
            for (int i = 0; i <= SyncLimits.MaxBlocksPerResponse; i++) w.WriteNil();
        });
        Assert.False(Canonical.TryDecode<SyncMessage>(bytes, out _, out var error));
        Assert.Contains("limit 20", error!.Message);
    }

    [Fact]
    public void An_unknown_sync_message_kind_is_refused()
    {
        var bytes = Encode((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(2);
            w.Write((byte)9);
            w.Write(1);
        });
        Assert.False(Canonical.TryDecode<SyncMessage>(bytes, out _, out var error));
        Assert.Contains("unknown sync message kind 9", error!.Message);
    }

    [Fact]
    public void The_future_buffer_keeps_only_near_heights_and_a_bounded_number_per_height()
    {
        var buffer = new FutureMessageBuffer<int>(maxHeights: 2, maxPerHeight: 2);
        Assert.False(buffer.TryAdd(current: 5, height: 5, 0)); // current height: not for the buffer
        Assert.True(buffer.TryAdd(5, 6, 1));
        Assert.True(buffer.TryAdd(5, 6, 2));
        Assert.False(buffer.TryAdd(5, 6, 3)); // per-height bound
        Assert.True(buffer.TryAdd(5, 7, 4));
        Assert.False(buffer.TryAdd(5, 8, 5)); // too far ahead
        Assert.Equal(3, buffer.Count);
        Assert.Equal([1, 2], buffer.TakeReady(6));
        Assert.Equal([4], buffer.TakeReady(7));
        Assert.Equal(0, buffer.Count);
    }

    [Fact]
    public void Sync_waits_out_a_one_height_lag_then_asks_one_peer_and_falls_back_to_another_on_timeout()
    {
        var client = new BlockSyncClient(requestTimeout: TimeSpan.FromSeconds(1), grace: TimeSpan.FromSeconds(2), batchBlocks: 20);
        var a = Peer("a");
        var b = Peer("b");
        client.PeerHeight(a, 11);
        Assert.Null(client.Next(storedHeight: 10, nowMs: 0)); // one behind: consensus will probably decide it
        Assert.Null(client.Next(10, 1_999));
        var first = client.Next(10, 2_000);
        Assert.Equal((a, 11UL, 1U), first);
        Assert.Null(client.Next(10, 2_500)); // one request in flight at a time

        client.PeerHeight(b, 50);
        var second = client.Next(10, 3_000); // a timed out: b is asked instead, for a full batch
        Assert.Equal((b, 11UL, 20U), second);
        client.Completed(b, bad: true, nowMs: 3_100); // b answered badly: avoided for a while
        Assert.Null(client.Next(10, 3_200)); // both avoided (twice the request timeout)
        Assert.Equal(a, client.Next(10, 5_000)?.Peer); // a's avoidance is over first
    }

    [Fact]
    public void Options_out_of_bounds_are_refused_with_the_name_of_the_bound()
    {
        var genesis = Chain.Execution.GenesisFile.Load(Path.Combine(Path.GetDirectoryName(
            Chain.Inference.Runtime.GenesisModels.Locate(AppContext.BaseDirectory)!)!, "devnet.json"));
        using var engine = new Chain.Inference.Runtime.InferenceEngine(enableFastPath: false);
        var options = new FullNodeOptions("n", Path.GetTempPath(), genesis, DevnetKeys.For("validator-0"), engine);
        options.Validate();
        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() => (options with { SyncBatchBlocks = 21 }).Validate());
        Assert.Contains("SyncBatchBlocks", tooMany.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => (options with { MaxFutureHeights = 0 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (options with { InputQueueCapacity = 1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (options with { RegossipInterval = TimeSpan.Zero }).Validate());
    }

    private delegate void Writes(ref MessagePackWriter writer);

    private static byte[] Encode(Writes write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
