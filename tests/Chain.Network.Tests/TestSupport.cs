using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Network.Tcp;

namespace Chain.Network.Tests;

internal static class Wait
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after the deadline.</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var limit = deadline ?? Deadline;
        var started = DateTime.UtcNow;
        while (!condition())
        {
            if (DateTime.UtcNow - started > limit)
                throw new Xunit.Sdk.XunitException($"waited {limit.TotalSeconds:0} s for: {what}");
            await Task.Delay(10);
        }
    }

    /// <summary>Awaits a task with a deadline, failing with <paramref name="what"/> if it does not finish.</summary>
    public static async Task For(Task task, string what)
    {
        try { await task.WaitAsync(Deadline); }
        catch (TimeoutException) { throw new Xunit.Sdk.XunitException($"waited {Deadline.TotalSeconds:0} s for: {what}"); }
    }

    /// <summary>Awaits a task with a deadline, failing with <paramref name="what"/> if it does not finish.</summary>
    public static async Task<T> For<T>(Task<T> task, string what)
    {
        try { return await task.WaitAsync(Deadline); }
        catch (TimeoutException) { throw new Xunit.Sdk.XunitException($"waited {Deadline.TotalSeconds:0} s for: {what}"); }
    }
}

internal static class Keys
{
    public static PrivateKey Node(byte seed) => PrivateKey.FromSeed(Enumerable.Repeat(seed, 32).ToArray());
}

/// <summary>Records everything a network reports.</summary>
internal sealed class Recorder
{
    public readonly ConcurrentQueue<PeerMessage> Messages = new();
    public readonly ConcurrentQueue<PeerId> Connected = new();
    public readonly ConcurrentQueue<PeerId> Disconnected = new();
    public readonly ConcurrentQueue<ConnectionFailure> Failures = new();
    public readonly ConcurrentQueue<(PeerId, string)> Banned = new();

    public Recorder(TcpPeerNetwork network)
    {
        network.MessageReceived += Messages.Enqueue;
        network.PeerConnected += Connected.Enqueue;
        network.PeerDisconnected += Disconnected.Enqueue;
        network.ConnectionFailed += Failures.Enqueue;
        network.PeerBanned += (p, r) => Banned.Enqueue((p, r));
    }

    public string FailureReasons => string.Join(" | ", Failures.Select(f => f.Reason));
}

/// <summary>Networks for tests: loopback, port 0, fast backoff; disposed with the fixture.</summary>
internal sealed class Nets : IAsyncDisposable
{
    public static readonly ChainId Chain = new("test-chain");
    private readonly List<IAsyncDisposable> _owned = [];

    public static TcpPeerNetworkOptions Options(params PeerAddress[] peers) => new()
    {
        ChainId = Chain,
        PersistentPeers = peers,
        HandshakeTimeout = TimeSpan.FromSeconds(10),
        ReconnectBackoffBase = TimeSpan.FromMilliseconds(20),
        ReconnectBackoffMax = TimeSpan.FromMilliseconds(200),
        Random = new Random(42),
    };

    public (TcpPeerNetwork Network, Recorder Recorder) Start(PrivateKey key, TcpPeerNetworkOptions options)
    {
        var network = new TcpPeerNetwork(key, options);
        var recorder = new Recorder(network);
        _owned.Add(network);
        network.Start();
        return (network, recorder);
    }

    public static PeerAddress AddressOf(TcpPeerNetwork network, PublicKey? expectedKey = null) =>
        new("127.0.0.1", network.ListenEndpoint!.Port, expectedKey);

    public void Own(IAsyncDisposable disposable) => _owned.Add(disposable);

    public async ValueTask DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(_owned)) await item.DisposeAsync();
    }
}

/// <summary>A hand-driven peer: a TCP client running the real handshake, whose frames the test then writes or tampers with.</summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly TcpClient _client;
    public SecretConnection Connection { get; }
    public NetworkStream Socket => _client.GetStream();

    private RawPeer(TcpClient client, SecretConnection connection)
    {
        _client = client;
        Connection = connection;
    }

    public static async Task<RawPeer> ConnectAsync(int port, PrivateKey key, Func<Stream, Stream>? wrap = null, ChainId? chain = null)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        Stream stream = client.GetStream();
        if (wrap is not null) stream = wrap(stream);
        var connection = await SecretConnection.EstablishAsync(stream, chain ?? Nets.Chain, key, null,
            TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        return new RawPeer(client, connection);
    }

    /// <summary>True once the remote has closed the connection (a read returns end of stream or fails).</summary>
    public static async Task<bool> ClosedByRemoteAsync(Stream stream)
    {
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer) > 0) { }
        }
        catch (IOException) { }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        _client.Dispose();
    }
}

/// <summary>Two ends of a loopback TCP connection, for testing <see cref="SecretConnection"/> alone.</summary>
internal sealed class SocketPair : IDisposable
{
    public required TcpClient Client { get; init; }
    public required TcpClient Server { get; init; }
    public NetworkStream A => Client.GetStream();
    public NetworkStream B => Server.GetStream();

    public static async Task<SocketPair> CreateAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var client = new TcpClient();
            var accept = listener.AcceptTcpClientAsync();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            return new SocketPair { Client = client, Server = await accept };
        }
        finally
        {
            listener.Stop();
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}

/// <summary>
/// Passes a stream through, but can flip a byte in, send twice, or hold back the last byte of the write with a given
/// index (0 = hello, 1 = auth frame, 2 = first message).
/// </summary>
internal sealed class TamperingStream(Stream inner) : Stream
{
    private readonly TaskCompletionSource _holdReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int? FlipByteInWrite { get; set; }
    public int? DuplicateWrite { get; set; }
    /// <summary>This write goes out but for its last byte, which waits for <see cref="Release"/> (a delayed segment).</summary>
    public int? HoldWrite { get; set; }
    private int _writes;

    /// <summary>Completes once the held write's other bytes are sent.</summary>
    public Task HoldReached => _holdReached.Task;

    public void Release() => _release.TrySetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int index = _writes++;
        if (index == HoldWrite && buffer.Length > 1)
        {
            await inner.WriteAsync(buffer[..^1], cancellationToken);
            await inner.FlushAsync(cancellationToken);
            _holdReached.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
            await inner.WriteAsync(buffer[^1..], cancellationToken);
            return;
        }
        if (index == FlipByteInWrite)
        {
            var copy = buffer.ToArray();
            copy[^1] ^= 0x01; // last byte: inside the tag, so the length prefix stays intact
            await inner.WriteAsync(copy, cancellationToken);
            return;
        }
        await inner.WriteAsync(buffer, cancellationToken);
        if (index == DuplicateWrite) await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
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
    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
