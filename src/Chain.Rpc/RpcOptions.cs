using System.Net;
using Chain.Core.Protocol;

namespace Chain.Rpc;

/// <summary>Where the RPC listens and the limits it enforces on every request.</summary>
public sealed record RpcOptions
{
    /// <summary>Loopback by default: exposing the RPC beyond the machine is an explicit choice.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>0 asks the OS for a free port; <see cref="RpcServer.Port"/> tells which one was bound.</summary>
    public int Port { get; init; } = 26657;

    /// <summary>POST /txs body limit: a maximal transaction in hex plus the JSON around it.</summary>
    public long MaxRequestBodyBytes { get; init; } = 2L * ProtocolLimits.MaxTransactionBytes + 1024;

    /// <summary>Most transactions one POST /txs/batch may carry (the body is bounded by <see cref="MaxRequestBodyBytes"/> too).</summary>
    public int MaxBatchTransactions { get; init; } = 256;

    /// <summary>The largest evidence item POST /evidence takes (decoded bytes): a light client's conflicting header and commit.</summary>
    public int MaxEvidenceBytes { get; init; } = ConflictingHeader.MaxEncodedSize;

    /// <summary>How long a commit-mode submission waits when the request does not say.</summary>
    public TimeSpan DefaultCommitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest a commit-mode submission may ask to wait.</summary>
    public TimeSpan MaxCommitTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Concurrent /events/blocks streams.</summary>
    public int MaxEventStreams { get; init; } = 64;

    /// <summary>Comment lines sent on idle event streams so proxies and clients see the stream alive.</summary>
    public TimeSpan EventKeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Concurrent connections Kestrel accepts.</summary>
    public long MaxConnections { get; init; } = 512;

    /// <summary>Concurrent connections from one IP address; a further one is answered 429 and closed.</summary>
    public int MaxConnectionsPerClient { get; init; } = 32;

    /// <summary>
    /// Sustained requests per second from one IP address (token bucket; burst twice that); a request over it is answered
    /// 429 with a JSON body at once. 0 turns the limit off (e.g. behind a reverse proxy that limits instead).
    /// </summary>
    public int MaxRequestsPerSecondPerClient { get; init; } = 1000;

    /// <summary>A request's headers must all arrive within this time after its first byte (else 408 and close).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An idle keep-alive connection is closed after this time.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A request body must arrive at least this fast (after a 5 s grace period), else 408.</summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;
}
