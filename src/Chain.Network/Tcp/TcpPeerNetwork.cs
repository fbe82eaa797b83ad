using System.Net;
using System.Net.Sockets;
using Chain.Core.Crypto;

namespace Chain.Network.Tcp;

/// <summary>A connection attempt that failed its handshake (or was refused after it), with the reason.</summary>
public readonly record struct ConnectionFailure(EndPoint? Remote, bool Outbound, string Reason);

/// <summary>
/// The TCP transport: listens, dials persistent peers (re-dialing with exponential backoff and jitter), runs the
/// <see cref="SecretConnection"/> handshake, keeps one connection per peer identity, scores misbehaviour and bans.
/// Subscribe to the events, then call <see cref="Start"/>. See docs/network.md.
/// </summary>
public sealed class TcpPeerNetwork : IPeerNetwork, IAsyncDisposable, IConnectionOwner
{
    private readonly PrivateKey _nodeKey;
    private readonly TcpPeerNetworkOptions _options;
    private readonly TimeProvider _time;
    private readonly BanList _bans;
    private readonly NetworkCounters _counters = new();
    private readonly TaskTracker _tasks = new();
    private readonly AsyncSignal _peersChanged = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    // Serialises PeerConnected/PeerDisconnected so a peer's events are never seen out of order.
    private readonly object _eventGate = new();
    private readonly Dictionary<PeerId, PeerConnection> _peers = [];
    // Replaced connections still draining (closed on shutdown like the live ones).
    private readonly HashSet<PeerConnection> _retired = [];
    // Connections from TCP connect/accept until registered or given up: one of them may be about to replace a peer's connection.
    private readonly HashSet<Establishing> _establishing = [];
    private TcpListener? _listener;
    private int _pendingInbound;
    private bool _started, _disposed;

    /// <param name="nodeKey">The node's identity key; the caller keeps ownership (it is not disposed here).</param>
    public TcpPeerNetwork(PrivateKey nodeKey, TcpPeerNetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _nodeKey = nodeKey;
        _options = options;
        _time = options.TimeProvider;
        FrameBudget = new FrameMemoryBudget(options.InboundFrameBudgetBytes);
        _bans = new BanList(_time, options.MaxBans);
        Self = new PeerId(nodeKey.PublicKey);
    }

    public event Action<PeerMessage>? MessageReceived;

    /// <summary>The node-wide bound on memory held by large inbound frames (<see cref="TcpPeerNetworkOptions.InboundFrameBudgetBytes"/>).</summary>
    public FrameMemoryBudget FrameBudget { get; }
    public event Action<PeerId>? PeerConnected;
    public event Action<PeerId>? PeerDisconnected;
    /// <summary>A handshake failed or a handshaken connection was refused (self, banned, duplicate, full).</summary>
    public event Action<ConnectionFailure>? ConnectionFailed;
    /// <summary>A peer was banned, with the reason.</summary>
    public event Action<PeerId, string>? PeerBanned;

    public PeerId Self { get; }

    /// <summary>The bound listening endpoint (with the real port when 0 was asked for); null before <see cref="Start"/> or when not listening.</summary>
    public IPEndPoint? ListenEndpoint { get; private set; }

    public IReadOnlyList<PeerId> ConnectedPeers
    {
        get { lock (_gate) return [.. _peers.Keys]; }
    }

    public long BytesReceived => NetworkCounters.Read(ref _counters.BytesReceived);
    public long BytesSent => NetworkCounters.Read(ref _counters.BytesSent);
    public long MessagesReceived => NetworkCounters.Read(ref _counters.MessagesReceived);
    public long MessagesSent => NetworkCounters.Read(ref _counters.MessagesSent);

    /// <summary>Bytes sent on <paramref name="channel"/> (framing and authentication tag included, as <see cref="BytesSent"/>).</summary>
    public long BytesSentOn(MessageChannel channel) =>
        NetworkCounters.Read(ref _counters.BytesSentByChannel[(byte)channel < _counters.BytesSentByChannel.Length ? (byte)channel : 0]);
    /// <summary>Messages not queued because the peer's send queue was full.</summary>
    public long DroppedSends => NetworkCounters.Read(ref _counters.DroppedSends);
    public long HandshakeFailures => NetworkCounters.Read(ref _counters.HandshakeFailures);
    /// <summary>Connections closed without a handshake or after it: banned, self, duplicate, or over <see cref="TcpPeerNetworkOptions.MaxPeers"/>.</summary>
    public long RefusedConnections => NetworkCounters.Read(ref _counters.RefusedConnections);
    public long Bans => NetworkCounters.Read(ref _counters.Bans);
    /// <summary>Inbound messages dropped for exceeding the peer's rate limit.</summary>
    public long RateLimitedMessages => NetworkCounters.Read(ref _counters.RateLimitedMessages);
    public long ProtocolViolations => NetworkCounters.Read(ref _counters.ProtocolViolations);
    /// <summary>Exceptions thrown by event handlers (caught so they cannot kill a connection).</summary>
    public long HandlerErrors => NetworkCounters.Read(ref _counters.HandlerErrors);

    public bool IsBanned(PeerId peer) => _bans.IsBanned(peer.NodeKey);

    /// <summary>Each live connection's socket endpoints, so tests can check both sides kept the same one.</summary>
    internal IReadOnlyList<(PeerId Peer, EndPoint? Local, EndPoint? Remote)> ConnectionEndpoints()
    {
        lock (_gate) return [.. _peers.Values.Select(c => (c.Peer, c.LocalEndPoint, c.RemoteEndPoint))];
    }

    /// <summary>Whether the remote finished sending on the peer's current connection (so tests can wait for it).</summary>
    internal bool RemoteFinishedOn(PeerId peer)
    {
        lock (_gate) return _peers.TryGetValue(peer, out var connection) && connection.RemoteFinished;
    }

    /// <summary>Binds the listener (if any) and starts dialing the persistent peers. Throws if the endpoint cannot be bound.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started) throw new InvalidOperationException("the network is already started");
            _started = true;
        }
        if (_options.ListenEndpoint is { } endpoint)
        {
            var listener = new TcpListener(endpoint);
            AllowRebindDuringTimeWait(listener.Server);
            listener.Start(backlog: _options.MaxPeers);
            _listener = listener;
            ListenEndpoint = (IPEndPoint)listener.LocalEndpoint;
            _tasks.Track(Task.Run(() => AcceptLoopAsync(listener, _stop.Token)));
        }
        foreach (var peer in _options.PersistentPeers)
            _tasks.Track(Task.Run(() => DialLoopAsync(peer, _stop.Token)));
    }

    // Lets a restarted node rebind its port while old connections sit in TIME_WAIT, without letting a second process
    // listen on a port in use: .NET's ReuseAddress sets SO_REUSEPORT too on Unix (two nodes would then share the port and
    // split its connections), so plain SO_REUSEADDR is set directly. Windows rebinds past TIME_WAIT by default.
    private static void AllowRebindDuringTimeWait(Socket socket)
    {
        if (OperatingSystem.IsLinux()) socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            socket.SetRawSocketOption(0xffff /* SOL_SOCKET */, 4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
    }

    public void Broadcast(MessageChannel channel, byte[] payload, PeerId? except = null)
    {
        CheckOutgoing(channel, payload);
        List<PeerConnection> targets;
        lock (_gate) targets = [.. _peers.Values];
        foreach (var connection in targets)
            if (connection.Peer != except && !connection.TryEnqueue(channel, payload))
                NetworkCounters.Add(ref _counters.DroppedSends);
    }

    public bool Send(PeerId peer, MessageChannel channel, byte[] payload)
    {
        CheckOutgoing(channel, payload);
        PeerConnection? connection;
        lock (_gate) _peers.TryGetValue(peer, out connection);
        if (connection is null) return false;
        if (connection.TryEnqueue(channel, payload)) return true;
        NetworkCounters.Add(ref _counters.DroppedSends);
        return false;
    }

    public void ReportMisbehaviour(PeerId peer, string reason)
    {
        PeerConnection? connection;
        lock (_gate) _peers.TryGetValue(peer, out connection);
        if (connection is not null) Penalize(connection, _options.MisbehaviourPenalty, $"misbehaviour: {reason}");
    }

    private void CheckOutgoing(MessageChannel channel, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (!Enum.IsDefined(channel)) throw new ArgumentException($"unknown channel {(byte)channel}", nameof(channel));
        if (payload.Length > _options.MaxPayloadBytes)
            throw new ArgumentException($"payload is {payload.Length} bytes, the limit is {_options.MaxPayloadBytes}", nameof(payload));
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await listener.AcceptSocketAsync(ct).ConfigureAwait(false); }
            catch (Exception) when (ct.IsCancellationRequested) { return; }
            catch (SocketException) { continue; } // the client gave up before we accepted it
            _tasks.Track(Task.Run(() => HandleInboundAsync(socket, ct)));
        }
    }

    private async Task HandleInboundAsync(Socket socket, CancellationToken ct)
    {
        var remote = socket.RemoteEndPoint as IPEndPoint;
        var address = Normalize(remote?.Address);
        if (address is not null && _bans.IsBanned(address))
        {
            Refuse(socket, remote, outbound: false, $"address {address} is banned");
            return;
        }
        lock (_gate)
        {
            // Retiring duplicates count too, or a peer re-dialing in a loop could pile up lingering sockets.
            if (_peers.Count + _retired.Count + _pendingInbound >= _options.MaxPeers)
            {
                Refuse(socket, remote, outbound: false, $"at the peer limit ({_options.MaxPeers})");
                return;
            }
            _pendingInbound++;
        }
        var establishing = BeginEstablishing(address, expectedKey: null);
        try
        {
            SecretConnection? secure = null;
            try
            {
                ConfigureSocket(socket);
                secure = await HandshakeAsync(socket, remote, outbound: false, expectedKey: null, ct).ConfigureAwait(false);
            }
            finally
            {
                lock (_gate) _pendingInbound--;
            }
            if (secure is not null) await RegisterAsync(secure, socket.LocalEndPoint, remote, address, outbound: false, establishing).ConfigureAwait(false);
        }
        finally
        {
            EndEstablishing(establishing);
        }
    }

    /// <summary>Runs the handshake; on failure counts it, reports it, closes the socket and returns null.</summary>
    private async Task<SecretConnection?> HandshakeAsync(Socket socket, IPEndPoint? remote, bool outbound, PublicKey? expectedKey, CancellationToken ct)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var secure = await SecretConnection.EstablishAsync(stream, _options.ChainId, _nodeKey, expectedKey,
                _options.HandshakeTimeout, _time, ct, _options.MaxPayloadBytes).ConfigureAwait(false);
            secure.FrameBudget = FrameBudget;
            // A stranger gets the smallest frame limit that its ordinary messages need; peers we chose get the full one.
            if (!outbound && !_options.PersistentPeers.Any(p => p.ExpectedKey == secure.RemoteKey))
                secure.MaxReceivePayloadBytes = Math.Min(_options.MaxPayloadBytes, _options.UnknownPeerMaxPayloadBytes);
            secure.LargeFrameMinBytesPerSecond = _options.LargeFrameMinBytesPerSecond;
            secure.LargeFrameGrace = _options.LargeFrameGrace;
            return secure;
        }
        catch (Exception e)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            if (ct.IsCancellationRequested) return null;
            NetworkCounters.Add(ref _counters.HandshakeFailures);
            RaiseSafely(() => ConnectionFailed?.Invoke(new ConnectionFailure(remote, outbound,
                e is HandshakeException ? e.Message : $"handshake failed: {e.Message}")));
            return null;
        }
    }

    /// <summary>Adds a handshaken connection unless refused; returns it when it is now the peer's connection.</summary>
    private async Task<PeerConnection?> RegisterAsync(SecretConnection secure, EndPoint? local, IPEndPoint? remote, IPAddress? address, bool outbound,
        Establishing establishing)
    {
        var peer = new PeerId(secure.RemoteKey);
        PeerConnection? connection = null;
        PeerConnection? replaced = null;
        PeerConnection? losingDuplicate = null;
        string? refusal = null;
        lock (_gate)
        {
            if (_disposed) refusal = "shutting down";
            else if (peer == Self) refusal = "connected to ourselves";
            else if (_bans.RemainingBan(peer.NodeKey) is { } left) refusal = $"peer {peer} is banned for another {left.TotalSeconds:0} s";
            else if (_peers.TryGetValue(peer, out var existing))
            {
                // One whose remote finished sending was retired (or closed) over there, so the new one is what the remote keeps.
                if (existing.RemoteFinished || KeepNew(existing, outbound))
                {
                    replaced = existing;
                    _retired.Add(existing);
                }
                else
                {
                    // The remote may already be sending on this one (it may not have our winning connection yet):
                    // retire it rather than cut it, exactly as the remote will once it has the winner.
                    losingDuplicate = NewConnection(secure, peer, address, outbound, local, remote);
                    _retired.Add(losingDuplicate);
                }
            }
            else if (_peers.Count >= _options.MaxPeers) refusal = $"at the peer limit ({_options.MaxPeers})";
            if (refusal is null && losingDuplicate is null)
            {
                connection = NewConnection(secure, peer, address, outbound, local, remote);
                _peers[peer] = connection;
            }
            // In the same lock as the table change: whoever waits on this handshake then sees its outcome.
            EndEstablishingLocked(establishing);
        }
        if (losingDuplicate is not null)
        {
            _tasks.Track(losingDuplicate.Completion);
            losingDuplicate.Retire(_options.HandshakeTimeout, _time);
            losingDuplicate.Start();
            return null;
        }
        if (connection is null)
        {
            NetworkCounters.Add(ref _counters.RefusedConnections);
            await secure.DisposeAsync().ConfigureAwait(false);
            RaiseSafely(() => ConnectionFailed?.Invoke(new ConnectionFailure(remote, outbound, refusal ?? "refused")));
            return null;
        }
        _tasks.Track(connection.Completion);
        lock (_eventGate)
        {
            if (replaced is null) RaiseSafely(() => PeerConnected?.Invoke(peer));
            connection.Start(); // after PeerConnected, so no message or disconnect precedes it
        }
        // The replaced connection winds down silently, delivering what is in flight: the peer stays connected
        // through the new one. Both sides apply the same rule, so both retire the same connection.
        replaced?.Retire(_options.HandshakeTimeout, _time);
        _peersChanged.Pulse();
        return connection;
    }

    private PeerConnection NewConnection(SecretConnection secure, PeerId peer, IPAddress? address, bool outbound, EndPoint? local, IPEndPoint? remote) =>
        new(secure, peer, address, outbound, _options, _counters, this)
        {
            LocalEndPoint = Normalize(local as IPEndPoint),
            RemoteEndPoint = Normalize(remote),
        };

    /// <summary>
    /// The duplicate-connection rule both sides compute alike: keep the connection dialed by the smaller node key;
    /// if the same side dialed both, keep the newer (the older is likely dead on the dialer's side).
    /// </summary>
    private bool KeepNew(PeerConnection existing, bool candidateOutbound)
    {
        var existingDialer = existing.Outbound ? Self.NodeKey : existing.Peer.NodeKey;
        var candidateDialer = candidateOutbound ? Self.NodeKey : existing.Peer.NodeKey;
        if (existingDialer == candidateDialer) return true;
        return candidateDialer.Bytes.SequenceCompareTo(existingDialer.Bytes) < 0;
    }

    private async Task DialLoopAsync(PeerAddress address, CancellationToken ct)
    {
        PublicKey? knownKey = address.ExpectedKey;
        int failures = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (knownKey is { } key)
                {
                    var changed = _peersChanged.Next;
                    if (IsConnected(key)) { await changed.WaitAsync(ct).ConfigureAwait(false); continue; }
                    if (_bans.RemainingBan(key) is { } left) { await Task.Delay(left, _time, ct).ConfigureAwait(false); continue; }
                }
                var (connection, remoteKey) = await DialOnceAsync(address, ct).ConfigureAwait(false);
                if (remoteKey == Self.NodeKey) return; // a persistent-peer entry pointing at ourselves: never retry
                knownKey = address.ExpectedKey ?? remoteKey ?? knownKey;
                if (connection is not null)
                {
                    failures = 0;
                    await connection.Completion.WaitAsync(ct).ConfigureAwait(false);
                }
                else if (remoteKey is { } k && IsConnected(k))
                {
                    failures = 0; // the other connection to the same peer won; wait for it to drop
                    continue;
                }
                else failures++;
                await Task.Delay(Backoff(failures), _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // shutting down
        }
    }

    /// <summary>One dial: TCP connect, handshake, register. Returns the registered connection (or null) and the remote key if it proved one.</summary>
    private async Task<(PeerConnection? Connection, PublicKey? RemoteKey)> DialOnceAsync(PeerAddress address, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        IPEndPoint? remote;
        try
        {
            using var connectDeadline = new CancellationTokenSource(_options.DialTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, connectDeadline.Token);
            await socket.ConnectAsync(address.Host, address.Port, linked.Token).ConfigureAwait(false);
            ConfigureSocket(socket);
            remote = socket.RemoteEndPoint as IPEndPoint;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            socket.Dispose(); // refused, unreachable or timed out: retried after a backoff
            return (null, null);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var local = socket.LocalEndPoint;
        var ip = Normalize(remote?.Address);
        if (ip is not null && _bans.IsBanned(ip))
        {
            Refuse(socket, remote, outbound: true, $"address {ip} is banned");
            return (null, null);
        }
        var establishing = BeginEstablishing(ip, address.ExpectedKey);
        try
        {
            var secure = await HandshakeAsync(socket, remote, outbound: true, address.ExpectedKey, ct).ConfigureAwait(false);
            if (secure is null) return (null, null);
            var remoteKey = secure.RemoteKey;
            return (await RegisterAsync(secure, local, remote, ip, outbound: true, establishing).ConfigureAwait(false), remoteKey);
        }
        finally
        {
            EndEstablishing(establishing);
        }
    }

    /// <summary>A connection between TCP connect/accept and registration; <see cref="Done"/> completes when it is registered or given up.</summary>
    private sealed class Establishing(IPAddress? address, PublicKey? expectedKey)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Done => _done.Task;

        /// <summary>Whether it may turn out to be a connection to the peer behind <paramref name="connection"/>.</summary>
        public bool MayReplace(PeerConnection connection) =>
            expectedKey is { } key ? key == connection.Peer.NodeKey
                : address is null || connection.RemoteAddress is null || address.Equals(connection.RemoteAddress);

        public void End() => _done.TrySetResult();
    }

    private Establishing BeginEstablishing(IPAddress? address, PublicKey? expectedKey)
    {
        var establishing = new Establishing(address, expectedKey);
        lock (_gate) _establishing.Add(establishing);
        return establishing;
    }

    private void EndEstablishing(Establishing establishing)
    {
        lock (_gate) EndEstablishingLocked(establishing);
    }

    private void EndEstablishingLocked(Establishing establishing)
    {
        _establishing.Remove(establishing);
        establishing.End(); // continuations run asynchronously, not under the lock
    }

    private bool IsConnected(PublicKey key)
    {
        lock (_gate) return _peers.ContainsKey(new PeerId(key));
    }

    private TimeSpan Backoff(int failures) =>
        ReconnectBackoff.Delay(failures, _options.ReconnectBackoffBase, _options.ReconnectBackoffMax, _options.Random);

    /// <summary>
    /// Small frames go out at once (votes are latency-bound), and TCP keepalive notices a peer that vanished without
    /// a FIN (power loss, cable) within about half a minute, so its slot and our dial loop are freed.
    /// </summary>
    private static void ConfigureSocket(Socket socket)
    {
        try
        {
            socket.NoDelay = true;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 15);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 5);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The socket already closed; the handshake on it fails next and is reported there.
        }
    }

    private void Refuse(Socket socket, IPEndPoint? remote, bool outbound, string reason)
    {
        NetworkCounters.Add(ref _counters.RefusedConnections);
        socket.Dispose();
        RaiseSafely(() => ConnectionFailed?.Invoke(new ConnectionFailure(remote, outbound, reason)));
    }

    // Dial sockets are dual-mode IPv6, so IPv4 peers show up as ::ffff:a.b.c.d; bans and logs use the IPv4 form.
    private static IPAddress? Normalize(IPAddress? address) =>
        address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private static IPEndPoint? Normalize(IPEndPoint? endpoint) =>
        endpoint is null ? null : new IPEndPoint(Normalize(endpoint.Address)!, endpoint.Port);

    private void Penalize(PeerConnection connection, int amount, string reason)
    {
        var (before, after) = connection.Penalize(amount);
        if (before > 0 && after <= 0) Ban(connection, reason);
    }

    private void Ban(PeerConnection connection, string reason)
    {
        _bans.Ban(connection.Peer.NodeKey, _options.BanAddresses ? connection.RemoteAddress : null, _options.BanDuration);
        NetworkCounters.Add(ref _counters.Bans);
        RaiseSafely(() => PeerBanned?.Invoke(connection.Peer, reason));
        // Every connection of the peer goes, not just the one that misbehaved (it may be a retiring duplicate).
        List<PeerConnection> all;
        lock (_gate)
        {
            all = [.. _retired.Where(c => c.Peer == connection.Peer)];
            if (_peers.TryGetValue(connection.Peer, out var current)) all.Add(current);
        }
        if (!all.Contains(connection)) all.Add(connection);
        foreach (var c in all) c.Close($"banned: {reason}");
    }

    void IConnectionOwner.OnMessage(PeerConnection connection, MessageChannel channel, byte[] payload) =>
        RaiseSafely(() => MessageReceived?.Invoke(new PeerMessage(connection.Peer, channel, payload)));

    void IConnectionOwner.OnRateLimited(PeerConnection connection)
    {
        // Counted, not punished: the reader waits for the rate (TCP back-pressure), see PeerConnection.WaitForRateAsync.
        NetworkCounters.Add(ref _counters.RateLimitedMessages);
    }

    void IConnectionOwner.OnViolation(PeerConnection connection, PeerProtocolException violation)
    {
        NetworkCounters.Add(ref _counters.ProtocolViolations);
        if (violation.Violation == ProtocolViolation.UnknownChannel)
            Penalize(connection, _options.UnknownChannelPenalty, violation.Message);
        else if (violation.Violation == ProtocolViolation.TooSlow)
            // A slow link is not proof of malice: lose score (the reader closes the connection), no ban at once.
            Penalize(connection, _options.MisbehaviourPenalty, violation.Message);
        else
        {
            // Bad crypto, oversize or malformed frames leave the stream unusable and never come from an honest peer of our version.
            connection.Penalize(int.MaxValue / 2);
            Ban(connection, violation.Message);
        }
    }

    /// <summary>
    /// The remote finished sending on a connection we have not retired. Usually it closed it, but it may have retired it
    /// because a duplicate won — one whose handshake it finished before we finished ours (the last frame can still be
    /// on its way). Then that handshake is in flight here, and dropping the peer now would raise a spurious
    /// <see cref="PeerDisconnected"/> and cut messages queued on the connection. So while a handshake that may be the
    /// same peer is in flight, the connection stays the peer's (its sends still reach the remote, whose retired end
    /// reads on) and is closed only if none of those handshakes replaced it. Each handshake is bounded by
    /// <see cref="TcpPeerNetworkOptions.HandshakeTimeout"/>.
    /// </summary>
    bool IConnectionOwner.OnRemoteFinished(PeerConnection connection)
    {
        List<Task> pending;
        CancellationToken ct;
        lock (_gate)
        {
            if (_retired.Contains(connection)) return true; // replaced: its retirement (drain, half-close) ends it
            if (_disposed || !(_peers.TryGetValue(connection.Peer, out var current) && current == connection)) return false;
            pending = [.. _establishing.Where(e => e.MayReplace(connection)).Select(e => e.Done)];
            if (pending.Count == 0) return false;
            ct = _stop.Token;
        }
        _tasks.Track(CloseUnlessReplacedAsync(connection, pending, ct));
        return true;
    }

    private async Task CloseUnlessReplacedAsync(PeerConnection connection, List<Task> pending, CancellationToken ct)
    {
        try { await Task.WhenAll(pending).WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return; } // shutting down closes every connection
        bool current;
        lock (_gate) current = _peers.TryGetValue(connection.Peer, out var c) && c == connection;
        // Replaced: it is retiring and ends once drained. Otherwise the remote really closed it.
        if (current) connection.Close("connection lost: the remote closed it");
    }

    void IConnectionOwner.OnClosed(PeerConnection connection)
    {
        bool wasCurrent;
        lock (_gate)
        {
            wasCurrent = _peers.TryGetValue(connection.Peer, out var current) && current == connection;
            if (wasCurrent) _peers.Remove(connection.Peer);
            _retired.Remove(connection);
        }
        if (wasCurrent)
            lock (_eventGate) RaiseSafely(() => PeerDisconnected?.Invoke(connection.Peer));
        _peersChanged.Pulse();
    }

    private void RaiseSafely(Action raise)
    {
        try { raise(); }
        catch (Exception)
        {
            // A handler's bug must not kill the connection or the loop that raised it; it is counted for metrics.
            NetworkCounters.Add(ref _counters.HandlerErrors);
        }
    }

    /// <summary>Graceful shutdown: stops listening and dialing, closes every connection and waits for all loops.</summary>
    public async ValueTask DisposeAsync()
    {
        List<PeerConnection> connections;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            connections = [.. _peers.Values, .. _retired];
        }
        _stop.Cancel();
        _listener?.Stop();
        foreach (var connection in connections) connection.Close("shutting down");
        await _tasks.WhenAllAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
