using System.Buffers.Binary;
using Chain.Core;
using Chain.Network.Tcp;
using Microsoft.Extensions.Time.Testing;

namespace Chain.Network.Tests;

public class FrameMemoryBudgetTests
{
    private static readonly long Max = NetworkLimits.MaxFrameCiphertextBytes;

    [Fact]
    public async Task Reservations_never_exceed_the_capacity_and_waiters_are_served_in_arrival_order()
    {
        var budget = new FrameMemoryBudget(2 * Max);
        var first = await budget.ReserveAsync(Max, CancellationToken.None);
        var second = await budget.ReserveAsync(Max, CancellationToken.None);
        var big = budget.ReserveAsync(Max, CancellationToken.None).AsTask();
        var small = budget.ReserveAsync(1024, CancellationToken.None).AsTask();
        Assert.False(big.IsCompleted);
        Assert.False(small.IsCompleted); // FIFO: a small request does not overtake the waiting big one
        Assert.Equal(2, budget.Waiting);

        first.Dispose();
        using var bigLease = await Wait.For(big, "the big reservation");
        Assert.False(small.IsCompleted);
        second.Dispose();
        using var smallLease = await Wait.For(small, "the small reservation");
        Assert.Equal(Max + 1024, budget.Reserved);
        Assert.Equal(2 * Max, budget.PeakReserved);
        first.Dispose(); // a second dispose gives nothing back twice
        Assert.Equal(Max + 1024, budget.Reserved);
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue_and_lets_the_next_one_in()
    {
        var budget = new FrameMemoryBudget(Max);
        var held = await budget.ReserveAsync(Max - 10, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var blocked = budget.ReserveAsync(Max, cancel.Token).AsTask();
        var behind = budget.ReserveAsync(10, CancellationToken.None).AsTask();
        Assert.False(behind.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked);
        using var lease = await Wait.For(behind, "the reservation behind the cancelled one");
        Assert.Equal(0, budget.Waiting);
        held.Dispose();
        Assert.Equal(10, budget.Reserved);
    }

    [Fact]
    public async Task Abandoned_frames_ask_for_one_collection_once_the_budget_is_idle_again()
    {
        var budget = new FrameMemoryBudget(2 * Max);
        using (await budget.ReserveAsync(Max, CancellationToken.None)) { }
        Assert.Equal(0, budget.CollectionsRequested); // a completed frame leaves nothing behind to collect

        var cut = await budget.ReserveAsync(Max, CancellationToken.None);
        var other = await budget.ReserveAsync(Max, CancellationToken.None);
        budget.Abandoned(Max); // its body never came: the buffer is garbage
        cut.Dispose();
        Assert.Equal(0, budget.CollectionsRequested); // another frame is still being received
        other.Dispose();
        Assert.Equal(1, budget.CollectionsRequested);
        using (await budget.ReserveAsync(Max, CancellationToken.None)) { }
        Assert.Equal(1, budget.CollectionsRequested); // once per idle period after abandoned frames
    }

    [Fact]
    public void A_budget_smaller_than_one_frame_is_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FrameMemoryBudget(Max - 1));
        Assert.Contains("must hold at least one maximal frame", e.Message);
        Assert.Throws<ArgumentException>(() => new TcpPeerNetworkOptions { ChainId = new ChainId("c"), InboundFrameBudgetBytes = 1 }.Validate());
    }

    [Fact]
    public async Task Peers_announcing_maximal_frames_at_once_hold_at_most_the_budget()
    {
        // Eight connections each announce a maximal frame and send a little of it: with a budget of two frames'
        // worth, only one reservation (2 × length) is granted at a time and the rest wait without a buffer.
        var budget = new FrameMemoryBudget(2 * Max);
        var pairs = new List<(SocketPair Pair, SecretConnection Reader, SecretConnection Writer)>();
        var reads = new List<Task>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var pair = await SocketPair.CreateAsync();
                var (writer, reader) = await HandshakeAsync(pair, TimeProvider.System, (byte)(10 + 2 * i));
                reader.FrameBudget = budget;
                pairs.Add((pair, reader, writer));
                var header = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(header, (uint)NetworkLimits.MaxFrameCiphertextBytes);
                await pair.A.WriteAsync(header);
                await pair.A.WriteAsync(new byte[4096]);
                reads.Add(reader.ReadMessageAsync(CancellationToken.None));
            }
            await Wait.Until(() => budget.Waiting == 7, "seven reservations to wait behind the first");
            Assert.Equal(2 * Max, budget.Reserved);
            Assert.True(budget.PeakReserved <= budget.Capacity);
        }
        finally
        {
            foreach (var (pair, reader, writer) in pairs)
            {
                pair.Dispose();
                await reader.DisposeAsync();
                await writer.DisposeAsync();
            }
            foreach (var read in reads) await Assert.ThrowsAnyAsync<Exception>(() => Wait.For(read, "a read to end with its socket"));
        }
        await Wait.Until(() => budget.Reserved == 0 && budget.Waiting == 0, "every reservation to be given back");
    }

    // Both ends of a loopback pair after the real handshake; the reader's deadlines run on `readerClock`.
    private static async Task<(SecretConnection Writer, SecretConnection Reader)> HandshakeAsync(SocketPair pair, TimeProvider readerClock, byte seed = 1)
    {
        using var alice = Keys.Node(seed);
        using var bob = Keys.Node((byte)(seed + 1));
        var chain = new ChainId("test-chain");
        var readerTask = SecretConnection.EstablishAsync(pair.B, chain, bob, null, TimeSpan.FromSeconds(10), readerClock, CancellationToken.None);
        var writer = await Wait.For(SecretConnection.EstablishAsync(pair.A, chain, alice, null, TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None), "writer handshake");
        return (writer, await Wait.For(readerTask, "reader handshake"));
    }

    [Fact]
    public async Task A_large_frame_trickled_past_its_deadline_is_refused_as_too_slow()
    {
        using var pair = await SocketPair.CreateAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var (writer, reader) = await HandshakeAsync(pair, clock);
        await using var _w = writer;
        await using var _r = reader;
        var budget = new FrameMemoryBudget(Max);
        reader.FrameBudget = budget;

        const int length = 1 << 20;
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, length);
        await pair.A.WriteAsync(header);
        await pair.A.WriteAsync(new byte[1000]);
        var read = reader.ReadMessageAsync(CancellationToken.None);
        await Wait.Until(() => budget.Reserved > 0, "the frame's reservation");
        clock.Advance(reader.LargeFrameDeadline(length) + TimeSpan.FromSeconds(1));
        var e = await Assert.ThrowsAsync<PeerProtocolException>(() => Wait.For(read, "the reader to give up"));
        Assert.Equal(ProtocolViolation.TooSlow, e.Violation);
        Assert.Contains("did not arrive within", e.Message);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public async Task Large_messages_still_arrive_intact_through_the_budget()
    {
        using var pair = await SocketPair.CreateAsync();
        var (writer, reader) = await HandshakeAsync(pair, TimeProvider.System);
        await using var _w = writer;
        await using var _r = reader;
        var budget = new FrameMemoryBudget(Max);
        reader.FrameBudget = budget;
        var payload = new byte[3 << 20];
        new Random(7).NextBytes(payload);
        var send = writer.WriteMessageAsync(MessageChannel.Sync, payload, CancellationToken.None);
        var (channel, received) = await Wait.For(reader.ReadMessageAsync(CancellationToken.None), "the large message");
        await send;
        Assert.Equal(MessageChannel.Sync, channel);
        Assert.Equal(payload, received);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(2L * (1 + payload.Length + NetworkLimits.TagBytes), budget.PeakReserved);
        Assert.Equal(0, budget.CollectionsRequested); // a complete frame asks for no collection
    }
}
