using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Chain.Cli.Devnet;

/// <summary>
/// A TCP relay that emulates a WAN link in user space, for kernels without <c>sch_netem</c> (`chain bench wan`): every
/// connection accepted on <see cref="Endpoint"/> is forwarded to the target, and each chunk read in either direction
/// is written on only after <c>delay ± jitter</c> (uniform). A lost packet on a TCP link shows up as a retransmission
/// after the retransmission timeout, so a "lost" chunk (probability <c>lossPercent</c>) is held
/// <see cref="RetransmissionTimeout"/> longer. A stream's order is kept: a chunk never leaves before the one ahead of it.
/// </summary>
internal sealed class DelayRelay : IAsyncDisposable
{
    /// <summary>Linux's minimum TCP retransmission timeout: what one lost segment costs a connection at the least.</summary>
    public static readonly TimeSpan RetransmissionTimeout = TimeSpan.FromMilliseconds(200);

    private const int ChunkBytes = 64 << 10;
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay, _jitter;
    private readonly double _loss;
    private readonly Random _random;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly Task _accepting;

    public DelayRelay(IPEndPoint listen, IPEndPoint target, TimeSpan delay, TimeSpan jitter, double lossPercent, int seed)
    {
        _target = target;
        _delay = delay;
        _jitter = jitter;
        _loss = lossPercent / 100;
        _random = new Random(seed);
        _listener = new TcpListener(listen);
        _listener.Start();
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _accepting = AcceptLoopAsync();
    }

    public IPEndPoint Endpoint { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            lock (_tasks) _tasks.Add(Task.Run(() => RelayAsync(client)));
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await server.ConnectAsync(_target, _stop.Token).ConfigureAwait(false);
            using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            // Either direction ending ends both (the peers see the connection drop, as on a real link).
            await Task.WhenAny(PumpAsync(client, server, done.Token), PumpAsync(server, client, done.Token)).ConfigureAwait(false);
            await done.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task PumpAsync(Socket from, Socket to, CancellationToken ct)
    {
        var queue = Channel.CreateBounded<(byte[] Data, int Length, long ReleaseAt)>(256);
        var writer = Task.Run(async () =>
        {
            await foreach (var (data, length, releaseAt) in queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                long wait = releaseAt - Environment.TickCount64;
                if (wait > 0) await Task.Delay(TimeSpan.FromMilliseconds(wait), ct).ConfigureAwait(false);
                await to.SendAsync(data.AsMemory(0, length), ct).ConfigureAwait(false);
            }
        }, ct);
        long last = 0;
        try
        {
            while (true)
            {
                var buffer = new byte[ChunkBytes];
                int n = await from.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0) break;
                last = Math.Max(last, Environment.TickCount64 + (long)Sample().TotalMilliseconds);
                await queue.Writer.WriteAsync((buffer, n, last), ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }
        queue.Writer.TryComplete();
        try { await writer.ConfigureAwait(false); }
        catch (Exception e) when (e is SocketException or OperationCanceledException) { }
    }

    private TimeSpan Sample()
    {
        lock (_random)
        {
            var d = _delay + (_random.NextDouble() * 2 - 1) * _jitter;
            if (_random.NextDouble() < _loss) d += RetransmissionTimeout;
            return d < TimeSpan.Zero ? TimeSpan.Zero : d;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        Task[] tasks;
        lock (_tasks) tasks = [.. _tasks];
        await Task.WhenAll(tasks).ConfigureAwait(false);
        _stop.Dispose();
    }
}
