using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Chain.Core.State;

namespace Chain.Rpc;

/// <summary>
/// The node's HTTP RPC on Kestrel (docs/rpc.md). <c>await using var rpc = new RpcServer(node, metrics, options);
/// await rpc.StartAsync();</c> then <see cref="BaseAddress"/> tells where it listens (port 0 picks a free port).
/// <see cref="StopAsync"/> lets requests in flight finish, up to a grace period.
/// </summary>
public sealed class RpcServer : IAsyncDisposable
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    private readonly IRpcNode _node;
    private readonly NodeMetrics _metrics;
    private readonly RpcOptions _options;
    private WebApplication? _app;

    public RpcServer(IRpcNode node, NodeMetrics metrics, RpcOptions? options = null)
    {
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _options = options ?? new RpcOptions();
        if (_options.Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), $"port {_options.Port} is not 0..65535");
    }

    /// <summary>The bound port, once started.</summary>
    public int Port { get; private set; }

    /// <summary>e.g. http://127.0.0.1:PORT/, once started.</summary>
    public Uri BaseAddress => _app is null
        ? throw new InvalidOperationException("the RPC server is not started")
        : new Uri($"http://{(_options.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{_options.Address}]" : _options.Address.ToString())}:{Port}/");

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null) throw new InvalidOperationException("the RPC server is already started");
        // No appsettings.json to reload: the default host would watch its content root (the working directory) for one.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = StopGrace);
        builder.WebHost.UseKestrel(kestrel =>
        {
            var perClient = new PerClientConnectionLimit(_options.MaxConnectionsPerClient);
            kestrel.Listen(_options.Address, _options.Port, listen =>
            {
                listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
                // Outermost: a client over its share is answered before anything else is spent on it.
                listen.Use(next => connection => perClient.OnConnectionAsync(connection, next));
                // Kestrel's own rejections (400, 408, 414, 431, 505) get the JSON error body too.
                listen.Use(next => connection => JsonRejections.OnConnectionAsync(connection, next));
            });
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = _options.MaxRequestBodyBytes;
            kestrel.Limits.MaxConcurrentConnections = _options.MaxConnections;
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 << 10;
            kestrel.Limits.MaxRequestLineSize = 8 << 10;
            // Slowloris: headers must arrive within this time, bodies at a minimum rate; idle keep-alive ends.
            kestrel.Limits.RequestHeadersTimeout = _options.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = _options.KeepAliveTimeout;
            kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(
                _options.MinRequestBodyBytesPerSecond, gracePeriod: TimeSpan.FromSeconds(5));
        });
        var refill = RateRefill(_options.MaxRequestsPerSecondPerClient);
        if (_options.MaxRequestsPerSecondPerClient > 0)
            builder.Services.AddRateLimiter(limits =>
            {
                limits.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                limits.OnRejected = (rejected, ct) =>
                {
                    var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
                        new ErrorResponse("too many requests from this client: slow down", "too_many_requests"), RpcJson.Options);
                    rejected.HttpContext.Response.ContentType = "application/json; charset=utf-8";
                    return rejected.HttpContext.Response.Body.WriteAsync(body, ct);
                };
                // One token bucket per client address (idle ones are dropped by the limiter).
                limits.GlobalLimiter = System.Threading.RateLimiting.PartitionedRateLimiter.Create<HttpContext, string>(context =>
                    System.Threading.RateLimiting.RateLimitPartition.GetTokenBucketLimiter(
                        context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                        _ => new System.Threading.RateLimiting.TokenBucketRateLimiterOptions
                        {
                            TokenLimit = 2 * _options.MaxRequestsPerSecondPerClient,
                            TokensPerPeriod = refill.Tokens,
                            ReplenishmentPeriod = refill.Period,
                            QueueLimit = 0,
                            AutoReplenishment = true,
                        }));
            });
        var app = builder.Build();
        app.Use(CountRequestsAsync);
        app.Use(JsonStatusBodies.InvokeAsync);
        if (_options.MaxRequestsPerSecondPerClient > 0) app.UseRateLimiter();
        app.Use(ReportFailuresAsync);
        MapRoutes(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
        _app = app;
    }

    /// <summary>
    /// The bucket's refill for <paramref name="perSecond"/> requests a second: about a tenth of a second's worth at a time,
    /// over a period that makes the rate exact (25/s: 2 every 80 ms; 1/s: 1 every second, not 1 every 100 ms).
    /// </summary>
    internal static (int Tokens, TimeSpan Period) RateRefill(int perSecond)
    {
        if (perSecond <= 0) return (1, TimeSpan.FromSeconds(1)); // unused: no limiter
        int tokens = Math.Max(1, perSecond / 10);
        return (tokens, TimeSpan.FromTicks(TimeSpan.TicksPerSecond * tokens / perSecond));
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var app = Interlocked.Exchange(ref _app, null);
        if (app is null) return;
        await app.StopAsync(cancellationToken).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private void MapRoutes(IEndpointRouteBuilder app)
    {
        var chain = new ChainQueries(_node);
        var state = new StateQueries(_node);
        var submission = new TransactionSubmission(_node, _options);
        var events = new BlockEventStream(_node, _options);
        var evidence = new EvidenceSubmission(_node, _options);

        app.MapGet("/status", chain.Status);
        app.MapGet("/blocks/latest", () => chain.Block("latest"));
        app.MapGet("/blocks/{height}", (string height) => chain.Block(height));
        app.MapGet("/headers/{height}", (string height) => chain.Header(height));
        app.MapGet("/commits/{height}", (string height) => chain.Commit(height));
        app.MapGet("/validators", () => chain.Validators());
        app.MapGet("/validators/{height}", (string height) => chain.Validators(height));
        app.MapPost("/evidence", (Func<HttpContext, Task<IResult>>)evidence.SubmitAsync);
        app.MapGet("/txs/{hash}", (string hash) => chain.Transaction(hash));
        app.MapPost("/txs", (Func<HttpContext, Task<IResult>>)submission.SubmitAsync);
        app.MapPost("/txs/batch", (Func<HttpContext, Task<IResult>>)submission.SubmitBatchAsync);
        app.MapGet("/accounts/{address}", (string address) => state.Account(address));
        app.MapGet("/models/{id}", (string id) => state.Model(id));
        app.MapGet("/models/{id}/code", (string id, string? chunk) => state.ModelCode(id, chunk));
        app.MapGet("/models/{id}/uploads/{owner}", (string id, string owner) => state.ModelUpload(id, owner));
        StakingQueries.Map(app, new StakingQueries(_node, state));
        app.MapGet("/events/blocks", events.StreamAsync);
        app.MapGet("/metrics", WriteMetricsAsync);
        Explorer.ExplorerRoutes.Map(app, new Explorer.ExplorerSource(() => _node.ChainId, () => _node.Blocks, h => _node.ValidatorsAt(h), key => _node.State.Get(key)));
        // "{*path}", not the default "{*path:nonfile}": a path with a dot in its last segment is an unknown endpoint too.
        // It takes every method, so a known path asked with another one lands here as well: 405, not 404.
        var allowed = new AllowedMethods(app.DataSources);
        app.MapFallback("{*path}", (HttpContext context) => allowed.For(context.Request.Path) is { Count: > 0 } methods
            ? RpcErrors.MethodNotAllowed(context, methods)
            : RpcErrors.NotFound("no such endpoint (see docs/rpc.md)"));
    }

    private async Task WriteMetricsAsync(HttpContext context)
    {
        var info = _node.GetNodeInfo();
        _metrics.MempoolChanged(info.MempoolTransactions, info.MempoolBytes);
        _metrics.PeersChanged(info.PeersConnected);
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await _metrics.ExportAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// A handler that throws (a bug, or a node failing underneath) answers 500 with the usual JSON error body rather
    /// than an empty one; the exception's text stays on the node, only its type is named.
    /// </summary>
    private static async Task ReportFailuresAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // Reading the request failed: a body over the limit (413), too slow (408), malformed (400).
            context.Response.Clear();
            await RpcErrors.Error(e.StatusCode, RpcErrors.OneLine(e.Message), ErrorBodies.CodeFor(e.StatusCode))
                .ExecuteAsync(context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
        {
            context.Response.Clear();
            await RpcErrors.Error(StatusCodes.Status500InternalServerError, $"internal error ({e.GetType().Name})", "internal")
                .ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    private async Task CountRequestsAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            // The route pattern, not the path: label values stay few whatever clients ask for.
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            _metrics.RpcRequest(route, context.Response.StatusCode);
        }
    }
}
