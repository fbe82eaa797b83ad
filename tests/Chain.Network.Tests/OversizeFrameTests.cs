using System.Buffers.Binary;
using Chain.Core;
using Chain.Network.Tcp;

namespace Chain.Network.Tests;

/// <summary>Runs alone: it measures the whole process's allocations, which parallel tests would disturb.</summary>
[CollectionDefinition(nameof(AllocationSensitive), DisableParallelization = true)]
public sealed class AllocationSensitive;

[Collection(nameof(AllocationSensitive))]
public class OversizeFrameTests
{
    [Fact]
    public async Task Oversize_length_prefix_is_refused_before_reading_or_allocating_the_body()
    {
        using var pair = await SocketPair.CreateAsync();
        using var alice = Keys.Node(1);
        using var bob = Keys.Node(2);
        var chain = new ChainId("test-chain");
        var watched = new ReadWatchingStream(pair.B);
        var readerTask = SecretConnection.EstablishAsync(watched, chain, bob, null, TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        await using var writer = await Wait.For(SecretConnection.EstablishAsync(pair.A, chain, alice, null, TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None), "writer handshake");
        await using var reader = await Wait.For(readerTask, "reader handshake");

        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, NetworkLimits.MaxFrameCiphertextBytes + 1u);
        watched.LargestRead = 0;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        await pair.A.WriteAsync(header); // and no body: a reader that waited for one would hang here
        var e = await Assert.ThrowsAsync<PeerProtocolException>(() => Wait.For(reader.ReadMessageAsync(CancellationToken.None), "the reader to refuse"));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Equal(ProtocolViolation.Oversize, e.Violation);
        Assert.Equal(4, watched.LargestRead); // only the length prefix was asked for
        Assert.True(allocated < 8 << 20, $"{allocated} bytes were allocated; the {NetworkLimits.MaxFrameCiphertextBytes + 1}-byte frame must not be");
    }

    /// <summary>Records the largest read buffer requested, so a test can see what the reader tried to read.</summary>
    private sealed class ReadWatchingStream(Stream inner) : Stream
    {
        public int LargestRead { get; set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            LargestRead = Math.Max(LargestRead, buffer.Length);
            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
