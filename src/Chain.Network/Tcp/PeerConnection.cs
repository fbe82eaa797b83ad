using System.Net;
using System.Threading.Channels;

namespace Chain.Network.Tcp;

/// <summary>What a connection reports to the network that owns it.</summary>
internal interface IConnectionOwner
{
    void OnMessage(PeerConnection connection, MessageChannel channel, byte[] payload);
    /// <summary>A message waited for the peer's inbound rate (counted only).</summary>
    void OnRateLimited(PeerConnection connection);
    void OnViolation(PeerConnection connection, PeerProtocolException violation);
    void OnClosed(PeerConnection connection);
    /// <summary>
    /// The remote finished sending (clean end of stream) on a connection we have not retired. True when the owner
    /// takes over ending it (the remote may have retired it for a duplicate whose handshake is still finishing here);
    /// false to close it now.
    /// </summary>
    bool OnRemoteFinished(PeerConnection connection);
}

/// <summary>
/// One authenticated connection to a peer: a reader loop (rate-limited, raising messages to the owner) and a
/// writer loop draining a bounded queue. Either loop ending closes both; <see cref="Completion"/> finishes once
/// the socket is closed and the owner told.
/// </summary>
internal sealed class PeerConnection
{
    private readonly SecretConnection _secure;
    private readonly IConnectionOwner _owner;
    private readonly NetworkCounters _counters;
    private readonly Channel<(MessageChannel Channel, byte[] Payload)> _queue;
    private readonly long _maxQueuedBytes;
    private readonly TimeProvider _time;
    private readonly TokenBucket _messageBucket;
    private readonly TokenBucket _byteBucket;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queuedBytes;
    private int _score;
    private int _started;
    private string? _closeReason;
    private int _retiring;
    private volatile bool _remoteFinished;
    private ITimer? _lingerTimer;

    public PeerConnection(SecretConnection secure, PeerId peer, IPAddress? remoteAddress, bool outbound,
        TcpPeerNetworkOptions options, NetworkCounters counters, IConnectionOwner owner)
    {
        _secure = secure;
        Peer = peer;
        RemoteAddress = remoteAddress;
        Outbound = outbound;
        _owner = owner;
        _counters = counters;
        _score = options.InitialScore;
        _maxQueuedBytes = options.SendQueueBytes;
        _queue = Channel.CreateBounded<(MessageChannel, byte[])>(new BoundedChannelOptions(options.SendQueueMessages)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; nobody waits
            SingleReader = true,
        });
        _time = options.TimeProvider;
        _messageBucket = new TokenBucket(options.InboundMessagesPerSecond, options.InboundMessagesPerSecond, options.TimeProvider);
        // A maximal message must be able to pass even when the byte rate is set below its size.
        _byteBucket = new TokenBucket(options.InboundBytesPerSecond,
            Math.Max(options.InboundBytesPerSecond, options.MaxPayloadBytes), options.TimeProvider);
    }

    public PeerId Peer { get; }
    public IPAddress? RemoteAddress { get; }
    public bool Outbound { get; }
    public EndPoint? LocalEndPoint { get; init; }
    public EndPoint? RemoteEndPoint { get; init; }
    public Task Completion => _completion.Task;
    /// <summary>The remote half-closed or closed its side: nothing more will arrive here, though sends may still get through.</summary>
    public bool RemoteFinished => _remoteFinished;
    public string CloseReason => _closeReason ?? "";

    /// <summary>Lowers the score; returns (before, after).</summary>
    public (int Before, int After) Penalize(int amount)
    {
        int after = Interlocked.Add(ref _score, -amount);
        return (after + amount, after);
    }

    /// <summary>Queues a message without waiting; false when the queue is full (by count or bytes) or closing.</summary>
    public bool TryEnqueue(MessageChannel channel, byte[] payload)
    {
        long queued = Interlocked.Add(ref _queuedBytes, payload.Length);
        // One message bigger than the byte bound still goes through an empty queue, or it could never be sent.
        if ((queued > _maxQueuedBytes && queued != payload.Length) || !_queue.Writer.TryWrite((channel, payload)))
        {
            Interlocked.Add(ref _queuedBytes, -payload.Length);
            return false;
        }
        return true;
    }

    /// <summary>Starts the loops (once). A connection closed before it starts goes straight to cleanup.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 1) return;
        _ = RunAsync();
    }

    /// <summary>
    /// Ends a connection that a duplicate replaced without losing what is in flight: queued messages are still
    /// sent, then our side half-closes; messages keep arriving until the remote (which applies the same rule)
    /// half-closes too, or <paramref name="linger"/> passes.
    /// </summary>
    public void Retire(TimeSpan linger, TimeProvider time)
    {
        if (Interlocked.Exchange(ref _retiring, 1) == 1) return;
        _lingerTimer = time.CreateTimer(_ => Close("retired connection outlived its linger time"), null, linger, Timeout.InfiniteTimeSpan);
        _queue.Writer.TryComplete();
    }

    public void Close(string reason)
    {
        Interlocked.CompareExchange(ref _closeReason, reason, null);
        _queue.Writer.TryComplete();
        try { _stop.Cancel(); }
        catch (ObjectDisposedException) { /* already cleaned up */ }
    }

    private async Task RunAsync()
    {
        try
        {
            // Closing the stream is what unblocks a read stuck in the kernel.
            await using var closeStream = _stop.Token.Register(() => _ = _secure.DisposeAsync().AsTask());
            await Task.WhenAll(Task.Run(ReadLoopAsync), Task.Run(WriteLoopAsync)).ConfigureAwait(false);
        }
        finally
        {
            _lingerTimer?.Dispose();
            await _secure.DisposeAsync().ConfigureAwait(false);
            _owner.OnClosed(this);
            _stop.Dispose();
            _completion.TrySetResult();
        }
    }

    private async Task ReadLoopAsync()
    {
        var ct = _stop.Token;
        bool endedByOthers = false;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                MessageChannel channel;
                byte[] payload;
                try
                {
                    (channel, payload) = await _secure.ReadMessageAsync(ct).ConfigureAwait(false);
                }
                catch (PeerProtocolException e) when (e.Violation == ProtocolViolation.UnknownChannel)
                {
                    // The frame authenticated, so the stream is still in step: punish and read on.
                    _owner.OnViolation(this, e);
                    continue;
                }
                NetworkCounters.Add(ref _counters.MessagesReceived);
                NetworkCounters.Add(ref _counters.BytesReceived, 4 + 1 + payload.Length + NetworkLimits.TagBytes);
                await WaitForRateAsync(payload.Length, ct).ConfigureAwait(false);
                _owner.OnMessage(this, channel, payload);
            }
        }
        catch (PeerProtocolException e)
        {
            _owner.OnViolation(this, e);
            Close(e.Message);
        }
        catch (EndOfStreamException) when (!ct.IsCancellationRequested)
        {
            // The remote finished sending. If it retired this connection, what we still queue or send must get
            // through, so the writer is not cut: a retiring connection ends once its writer has drained and
            // half-closed (or its linger time passes); a current one is ended by the owner, which may first wait
            // for the duplicate that replaces it (the remote can retire this connection before our side of the
            // winning handshake is done).
            _remoteFinished = true;
            endedByOthers = Volatile.Read(ref _retiring) == 1 || _owner.OnRemoteFinished(this);
            if (!endedByOthers) Close("connection lost: the remote closed it");
        }
        catch (Exception e)
        {
            // Socket errors or our own close: both just end the connection.
            Close(ct.IsCancellationRequested ? CloseReason : $"connection lost: {e.Message}");
        }
        finally
        {
            if (!endedByOthers) Close("reader stopped");
        }
    }

    /// <summary>
    /// Above the peer's inbound rate the reader waits (it stops reading, so TCP pushes back on the sender, whose bounded
    /// send queue then drops), as CometBFT's flow-rate limiter does, rather than dropping the message and banning the peer:
    /// an honest validator resuming after a freeze (SIGSTOP, a long GC pause) reads a burst of buffered messages that is
    /// no attack, and banning every peer for it left the node with nobody to sync from. A hostile flood costs at most the rate.
    /// </summary>
    private async Task WaitForRateAsync(int payloadBytes, CancellationToken ct)
    {
        bool counted = false;
        while (true)
        {
            var wait = _messageBucket.TimeUntil(1);
            var bytesWait = _byteBucket.TimeUntil(payloadBytes);
            if (bytesWait > wait) wait = bytesWait;
            if (wait <= TimeSpan.Zero) break;
            if (!counted)
            {
                _owner.OnRateLimited(this);
                counted = true;
            }
            await Task.Delay(wait, _time, ct).ConfigureAwait(false);
        }
        _messageBucket.Take(1);
        _byteBucket.Take(payloadBytes);
    }

    private async Task WriteLoopAsync()
    {
        var ct = _stop.Token;
        try
        {
            await foreach (var (channel, payload) in _queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                Interlocked.Add(ref _queuedBytes, -payload.Length);
                await _secure.WriteMessageAsync(channel, payload, ct).ConfigureAwait(false);
                NetworkCounters.Add(ref _counters.MessagesSent);
                _counters.AddSent((byte)channel, 4 + 1 + payload.Length + NetworkLimits.TagBytes);
            }
            if (Volatile.Read(ref _retiring) == 1 && !ct.IsCancellationRequested)
            {
                // Retired and drained: half-close and leave the reader running until the remote is done too.
                _secure.ShutdownSend();
                return;
            }
        }
        catch (Exception e)
        {
            Close(ct.IsCancellationRequested ? CloseReason : $"send failed: {e.Message}");
        }
        if (Volatile.Read(ref _retiring) == 0 || ct.IsCancellationRequested) Close("writer stopped");
    }
}
