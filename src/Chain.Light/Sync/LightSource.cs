using System.Globalization;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Rpc;

namespace Chain.Light.Sync;

/// <summary>How many objects a light client fetched from one node: what bisection costs.</summary>
public sealed class FetchCounts
{
    public int Headers { get; internal set; }
    public int Commits { get; internal set; }
    public int ValidatorSets { get; internal set; }

    public override string ToString() => $"{Headers} headers, {Commits} commits, {ValidatorSets} validator sets";
}

/// <summary>
/// A node as a light client sees it (the primary or a witness): light blocks by height, its latest height, and where
/// evidence goes. Everything it returns is unverified.
/// </summary>
public interface ILightSource
{
    /// <summary>The node's address, for messages.</summary>
    string Name { get; }

    FetchCounts Fetched { get; }

    Task<ulong> LatestHeightAsync(CancellationToken ct = default);

    /// <summary>The header, commit and validator set at <paramref name="height"/>, decoded strictly.</summary>
    Task<LightBlock> LightBlockAsync(ulong height, CancellationToken ct = default);

    /// <summary>The header alone (backwards verification needs no commit).</summary>
    Task<BlockHeader> HeaderAsync(ulong height, CancellationToken ct = default);

    Task<EvidenceSubmitResponse> SubmitEvidenceAsync(ConflictingHeader evidence, CancellationToken ct = default);

    /// <summary>A committed transaction with its receipt and inclusion proofs (<c>GET /txs/{hash}</c>).</summary>
    Task<TransactionLookupResponse> TransactionAsync(Hash32 hash, CancellationToken ct = default);

    /// <summary>A model's ONNX bytes (or a chunked model's layout; chunk <paramref name="chunk"/> when given) with their state proof (<c>GET /models/{id}/code[?chunk=i]</c>).</summary>
    Task<ModelCodeResponse> ModelCodeAsync(Hash32 modelId, int? chunk = null, CancellationToken ct = default);
}

/// <summary>
/// A node over its RPC: <c>GET /status</c>, <c>/headers/{h}</c>, <c>/commits/{h}</c>, <c>/validators/{h}</c> and
/// <c>POST /evidence</c> (docs/rpc.md). Canonical bytes are decoded and checked to be for the height asked.
/// </summary>
public sealed class HttpLightSource : ILightSource, IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    public HttpLightSource(Uri node, TimeSpan? timeout = null)
        : this(new HttpClient { BaseAddress = node, Timeout = timeout ?? TimeSpan.FromSeconds(30), MaxResponseContentBufferSize = LightClient.MaxResponseBytes }, ownsHttp: true)
    {
    }

    public HttpLightSource(HttpClient http, bool ownsHttp = false)
    {
        _http = http ?? throw new ArgumentNullException(nameof(http));
        if (_http.BaseAddress is null) throw new ArgumentException("the HttpClient needs a BaseAddress", nameof(http));
        _ownsHttp = ownsHttp;
    }

    public string Name => _http.BaseAddress!.ToString();
    public FetchCounts Fetched { get; } = new();

    public async Task<ulong> LatestHeightAsync(CancellationToken ct = default) =>
        (await NodeHttp.GetAsync<StatusResponse>(_http, "status", ct).ConfigureAwait(false)).Height;

    public async Task<BlockHeader> HeaderAsync(ulong height, CancellationToken ct = default)
    {
        Fetched.Headers++;
        var served = await NodeHttp.GetAsync<HeaderResponse>(_http, $"headers/{height}", ct).ConfigureAwait(false);
        var header = NodeHttp.Decode<BlockHeader>(served.Raw, "header");
        if (header.Height.Value != height) throw WrongHeight("header", height, header.Height.Value);
        return header;
    }

    public async Task<LightBlock> LightBlockAsync(ulong height, CancellationToken ct = default)
    {
        var header = await HeaderAsync(height, ct).ConfigureAwait(false);
        Fetched.Commits++;
        var servedCommit = await NodeHttp.GetAsync<CommitResponse>(_http, $"commits/{height}", ct).ConfigureAwait(false);
        var commit = NodeHttp.Decode<Commit>(servedCommit.Raw, "commit");
        if (commit.Height.Value != height) throw WrongHeight("commit", height, commit.Height.Value);
        Fetched.ValidatorSets++;
        var servedSet = await NodeHttp.GetAsync<ValidatorsResponse>(_http, $"validators/{height}", ct).ConfigureAwait(false);
        return new LightBlock(header, commit, NodeHttp.Decode<ValidatorSet>(servedSet.Raw, "validator set"));
    }

    public Task<EvidenceSubmitResponse> SubmitEvidenceAsync(ConflictingHeader evidence, CancellationToken ct = default) =>
        NodeHttp.PostAsync<EvidenceSubmitRequest, EvidenceSubmitResponse>(_http, "evidence",
            new EvidenceSubmitRequest(Convert.ToBase64String(evidence.Encoded.Span)), ct);

    public Task<TransactionLookupResponse> TransactionAsync(Hash32 hash, CancellationToken ct = default) =>
        NodeHttp.GetAsync<TransactionLookupResponse>(_http, $"txs/{hash}", ct);

    public Task<ModelCodeResponse> ModelCodeAsync(Hash32 modelId, int? chunk = null, CancellationToken ct = default) =>
        NodeHttp.GetAsync<ModelCodeResponse>(_http, chunk is { } i ? $"models/{modelId}/code?chunk={i}" : $"models/{modelId}/code", ct);

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    private static LightClientException WrongHeight(string what, ulong asked, ulong got) =>
        new($"asked for the {what} at {asked}, got {got}", new VerifyFailure(VerifyFailureKind.BadHeader, $"asked for the {what} at {asked}, got {got}",
            Field: "height", Expected: asked.ToString(CultureInfo.InvariantCulture), Actual: got.ToString(CultureInfo.InvariantCulture)));
}
