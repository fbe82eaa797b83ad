using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Light;
using Chain.Core.State;

namespace Chain.Rpc;

/// <summary>How POST /txs answers: at mempool admission, or once the transaction is in a committed block.</summary>
public enum SubmitMode
{
    Sync,
    Commit,
}

/// <summary>A request the node refused or could not answer: the HTTP status (null when unreachable), the error code and message.</summary>
public sealed class RpcClientException(string message, int? status = null, string? code = null, Exception? inner = null) : Exception(message, inner)
{
    public int? Status { get; } = status;
    public string? Code { get; } = code;
}

/// <summary>A committed transaction whose inclusion and receipt were checked against <see cref="Header"/>.</summary>
public sealed record VerifiedTransaction(TransactionLookupResponse Served, BlockHeader Header, SignedTransaction Transaction, Receipt Receipt);

/// <summary>An account whose value was checked against the state root of <see cref="Header"/> (null at genesis height 0).</summary>
public sealed record VerifiedAccount(Address Address, Account Account, ulong Height, BlockHeader? Header);

public sealed record VerifiedModel(ModelResponse Served, ModelInfo Info, BlockHeader? Header);

/// <summary>
/// Typed client of the node RPC (docs/rpc.md). Reads that carry proofs are verified: the header is decoded from
/// its canonical bytes (so its hash and roots are recomputed, not trusted from JSON) and, when the client was
/// given the validator set it trusts, checked against the commit for its height. Every check is Chain.Light's
/// <see cref="LightVerifier"/> (one rule, one place); this client adds the node's other endpoints and the
/// execution-level decoding (model records, float interfaces).
/// </summary>
public sealed class RpcClient : IDisposable
{
    /// <summary>Largest response read: a maximal block in base64 with its JSON.</summary>
    private const long MaxResponseBytes = (ProtocolLimits.MaxBlockBytes / 3 + 1) * 4 * 2L;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ValidatorSet? _trustedValidators;

    public RpcClient(Uri baseAddress, ValidatorSet? trustedValidators = null, TimeSpan? timeout = null)
        : this(new HttpClient { BaseAddress = baseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(150), MaxResponseContentBufferSize = MaxResponseBytes }, trustedValidators, ownsHttp: true)
    {
    }

    public RpcClient(HttpClient http, ValidatorSet? trustedValidators = null, bool ownsHttp = false)
    {
        _http = http ?? throw new ArgumentNullException(nameof(http));
        if (_http.BaseAddress is null) throw new ArgumentException("the HttpClient needs a BaseAddress", nameof(http));
        _trustedValidators = trustedValidators;
        _ownsHttp = ownsHttp;
    }

    public Uri BaseAddress => _http.BaseAddress!;

    public Task<StatusResponse> StatusAsync(CancellationToken ct = default) => GetAsync<StatusResponse>("status", ct);

    /// <summary>The block at <paramref name="height"/> (latest when null), decoded from its canonical bytes.</summary>
    public async Task<(BlockResponse Served, Block Block)> BlockAsync(ulong? height = null, CancellationToken ct = default)
    {
        var served = await GetAsync<BlockResponse>(height is { } h ? $"blocks/{h}" : "blocks/latest", ct).ConfigureAwait(false);
        var block = Decode<Block>(served.Raw, "block");
        if (block.Hash.ToString() != served.Header.Hash) throw new RpcClientException($"served block hashes to {block.Hash}, not {served.Header.Hash}");
        return (served, block);
    }

    public async Task<(CommitResponse Served, Commit Commit)> CommitAsync(ulong height, CancellationToken ct = default)
    {
        var served = await GetAsync<CommitResponse>($"commits/{height}", ct).ConfigureAwait(false);
        return (served, Decode<Commit>(served.Raw, "commit"));
    }

    /// <summary>GET /validators: the set of the next height.</summary>
    public Task<ValidatorsResponse> ValidatorsAsync(CancellationToken ct = default) => GetAsync<ValidatorsResponse>("validators", ct);

    /// <summary>GET /validators/{height}: the set of a committed height or one of the next two.</summary>
    public Task<ValidatorsResponse> ValidatorsAsync(ulong height, CancellationToken ct = default) => GetAsync<ValidatorsResponse>($"validators/{height}", ct);

    /// <summary>
    /// The header at <paramref name="height"/>, decoded from its canonical bytes; with trusted validators, also
    /// checked against the commit for that height (a +2/3 precommit quorum for this header's hash).
    /// </summary>
    public async Task<BlockHeader> VerifiedHeaderAsync(ulong height, CancellationToken ct = default)
    {
        var served = await GetAsync<HeaderResponse>($"headers/{height}", ct).ConfigureAwait(false);
        var header = Decode<BlockHeader>(served.Raw, "header");
        if (header.Height.Value != height) throw new RpcClientException($"asked for header {height}, got {header.Height}");
        if (_trustedValidators is null) return header;
        if (header.ValidatorsHash == _trustedValidators.Hash)
        {
            var (_, commit) = await CommitAsync(height, ct).ConfigureAwait(false);
            if (LightVerifier.VerifyHeader(header, commit, header.ChainId, _trustedValidators) is { } failure)
                throw new RpcClientException($"header {height} is not finalized by the trusted validators: {failure.Message}", code: "unverified");
            return header;
        }
        // Another validator set governs this height: follow the changes from the trusted one by the light client's
        // skipping verification (Chain.Light's Bisection, trust level 1/3), never by the node's word.
        var verified = await FollowValidatorChangesAsync(height, ct).ConfigureAwait(false);
        if (verified.Header.Hash != header.Hash)
            throw new RpcClientException($"header {height} {header.Hash} is not the one verified across validator-set changes ({verified.Header.Hash})", code: "unverified");
        return header;
    }

    private readonly SemaphoreSlim _followGate = new(1, 1);
    private LightBlock? _root, _highest;

    // Height 1 checked under the trusted set, then bisection from the highest block verified so far below the target
    // (or from height 1).
    private async Task<LightBlock> FollowValidatorChangesAsync(ulong height, CancellationToken ct)
    {
        await _followGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var source = new Light.Sync.HttpLightSource(_http);
            if (_root is null)
            {
                var first = await source.LightBlockAsync(1, ct).ConfigureAwait(false);
                if (first.Validators.Hash != _trustedValidators!.Hash
                    || LightVerifier.VerifyHeader(first.Header, first.Commit, first.Header.ChainId, _trustedValidators) is not null)
                    throw new RpcClientException("height 1 is not finalized by the trusted validators", code: "unverified");
                _root = first;
            }
            if (height == 1) return _root;
            var start = _highest is { } high && high.Height < height ? high : _root;
            if (start.Height == height) return start;
            IReadOnlyList<LightBlock> trace;
            try
            {
                trace = await Light.Sync.Bisection.VerifyAsync(source, start, height, TrustOptions.Default, TimeProvider.System, ct: ct).ConfigureAwait(false);
            }
            catch (LightClientException e)
            {
                throw new RpcClientException($"header {height} does not verify across validator-set changes: {e.Message}", code: "unverified", inner: e);
            }
            var target = trace[^1];
            if (target.Height > (_highest?.Height ?? 0)) _highest = target;
            return target;
        }
        finally
        {
            _followGate.Release();
        }
    }

    /// <summary>A committed transaction, its receipt, and both verified against the (verified) header's roots.</summary>
    public async Task<VerifiedTransaction> TransactionAsync(Hash32 hash, CancellationToken ct = default)
    {
        var served = await GetAsync<TransactionLookupResponse>($"txs/{hash}", ct).ConfigureAwait(false);
        var header = await VerifiedHeaderAsync(served.Height, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyTransaction(served, hash, header, out var tx, out var receipt) is { } failure)
            throw new RpcClientException($"transaction {hash}: {failure.Message}", code: "bad_proof");
        return new VerifiedTransaction(served, header, tx!, receipt!);
    }

    public async Task<VerifiedAccount> AccountAsync(Address address, CancellationToken ct = default)
    {
        var served = await GetAsync<AccountResponse>($"accounts/{address}", ct).ConfigureAwait(false);
        var (header, root) = await StateAnchorAsync(served.Proof, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyAccount(served, address, root, out var account) is { } failure)
            throw new RpcClientException(failure.Message, code: "bad_proof");
        return new VerifiedAccount(address, account!, served.Proof.Height, header);
    }

    public async Task<VerifiedModel> ModelAsync(Hash32 modelId, CancellationToken ct = default)
    {
        var served = await GetAsync<ModelResponse>($"models/{modelId}", ct).ConfigureAwait(false);
        var (header, root) = await StateAnchorAsync(served.Proof, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyModel(served, modelId, root, out var record) is { } failure)
            throw new RpcClientException(failure.Message, code: "bad_proof");
        return new VerifiedModel(served, Canonical.Decode<ModelInfo>(record!), header);
    }

    /// <summary>
    /// A registered model's ONNX bytes, proven under the state root and checked to hash to <paramref name="modelId"/>; a chunked
    /// model's chunks are fetched one by one, each proven, and reassembled (<see cref="ModelCodeAssembly"/>).
    /// </summary>
    public Task<byte[]> ModelCodeAsync(Hash32 modelId, CancellationToken ct = default) =>
        ModelCodeAssembly.FetchAsync(modelId, (chunk, c) => ModelCodeAnswerAsync(modelId, chunk, c),
            async (proof, c) => (await StateAnchorAsync(proof, c).ConfigureAwait(false)).Root,
            failure => new RpcClientException(failure.Message, code: "bad_proof"), ct: ct);

    /// <summary>The owner's unsealed upload of a model (which chunks the node holds), or null when there is none (404).</summary>
    public async Task<ModelUploadResponse?> ModelUploadAsync(Hash32 modelId, Address owner, CancellationToken ct = default)
    {
        try
        {
            return await GetAsync<ModelUploadResponse>($"models/{modelId}/uploads/{owner}", ct).ConfigureAwait(false);
        }
        catch (RpcClientException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>One answer of <c>GET /models/{id}/code</c>, unverified: the whole (or a chunked model's layout), or chunk <paramref name="chunk"/>.</summary>
    public Task<ModelCodeResponse> ModelCodeAnswerAsync(Hash32 modelId, int? chunk = null, CancellationToken ct = default) =>
        GetAsync<ModelCodeResponse>(chunk is { } i ? $"models/{modelId}/code?chunk={i}" : $"models/{modelId}/code", ct);

    /// <summary>
    /// The float interface a registered model records (<see cref="Inference.Onnx.QuantizationMetadata"/>), read from its
    /// proof-checked code, or null when it records none. With it a client sends float inputs
    /// (<see cref="Inference.Onnx.QuantizationMetadata.PrepareInput"/>) and reads float outputs
    /// (<see cref="Inference.Onnx.QuantizationMetadata.Dequantize"/>); the transaction still carries the integer tensor.
    /// </summary>
    public async Task<(Inference.Onnx.QuantizationMetadata? Metadata, byte[] Code)> FloatInterfaceAsync(Hash32 modelId, CancellationToken ct = default)
    {
        var code = await ModelCodeAsync(modelId, ct).ConfigureAwait(false);
        try
        {
            return (Inference.Onnx.QuantizationMetadata.From(Inference.Onnx.OnnxModel.Parse(code)), code);
        }
        catch (Exception e) when (e is FormatException or Inference.Protobuf.OnnxFormatException)
        {
            throw new RpcClientException($"model {modelId}: its float interface cannot be read: {e.Message}", code: "bad_metadata");
        }
    }

    public async Task<SubmitResponse> SubmitAsync(SignedTransaction transaction, SubmitMode mode = SubmitMode.Sync, TimeSpan? commitTimeout = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var query = mode == SubmitMode.Commit ? "mode=commit" : "mode=sync";
        if (commitTimeout is { } t) query += $"&timeoutMs={(long)t.TotalMilliseconds}";
        using var content = new ByteArrayContent(transaction.Encoded.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await SendAsync<SubmitResponse>(new HttpRequestMessage(HttpMethod.Post, $"txs?{query}") { Content = content }, ct).ConfigureAwait(false);
    }

    /// <summary>POST /txs/batch: submits many transactions in one request; one answer each, in order.</summary>
    public async Task<BatchSubmitResponse> SubmitBatchAsync(IReadOnlyList<SignedTransaction> transactions, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        var body = JsonSerializer.Serialize(new BatchSubmitRequest(transactions.Select(t => Convert.ToHexStringLower(t.Encoded.Span)).ToList()), RpcJson.Options);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        return await SendAsync<BatchSubmitResponse>(new HttpRequestMessage(HttpMethod.Post, "txs/batch") { Content = content }, ct).ConfigureAwait(false);
    }

    /// <summary>POST /evidence: one evidence item's canonical encoding; the node verifies and pools it.</summary>
    public async Task<EvidenceSubmitResponse> SubmitEvidenceAsync(ReadOnlyMemory<byte> encoded, CancellationToken ct = default)
    {
        var body = JsonSerializer.Serialize(new EvidenceSubmitRequest(Convert.ToBase64String(encoded.Span)), RpcJson.Options);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        return await SendAsync<EvidenceSubmitResponse>(new HttpRequestMessage(HttpMethod.Post, "evidence") { Content = content }, ct).ConfigureAwait(false);
    }

    /// <summary>Committed blocks from now on, from the Server-Sent Events stream; ends when the server closes it.</summary>
    public async IAsyncEnumerable<BlockEvent> BlockEventsAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "events/blocks");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await Send(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        string? eventName = null;
        var data = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (line.Length > 64 << 10) throw new RpcClientException("event stream line too long");
            if (line.Length == 0)
            {
                if (eventName == "lagged") throw new RpcClientException("the event stream fell behind and was closed by the node", code: "lagged");
                if (eventName == "block" && data.Length > 0)
                    yield return JsonSerializer.Deserialize<BlockEvent>(data.ToString(), RpcJson.Options) ?? throw new RpcClientException("empty block event");
                eventName = null;
                data.Clear();
            }
            else if (line.StartsWith("event:", StringComparison.Ordinal)) eventName = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal)) data.Append(line[5..].Trim());
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    private async Task<(BlockHeader? Header, Hash32 Root)> StateAnchorAsync(StateProofJson proof, CancellationToken ct)
    {
        // At height 0 there is no header to anchor to: the served root is taken as is (see docs/rpc.md).
        var header = proof.Height == 0 ? null : await VerifiedHeaderAsync(proof.Height, ct).ConfigureAwait(false);
        return (header, header?.StateRoot ?? Hash32.Parse(proof.StateRoot));
    }

    private Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(new HttpRequestMessage(HttpMethod.Get, path), ct);

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken ct)
    {
        using (request)
        {
            using var response = await Send(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
            try
            {
                return await response.Content.ReadFromJsonAsync<T>(RpcJson.Options, ct).ConfigureAwait(false)
                    ?? throw new RpcClientException($"{request.RequestUri}: empty response");
            }
            catch (JsonException e)
            {
                throw new RpcClientException($"{request.RequestUri}: malformed response: {e.Message}", (int)response.StatusCode, inner: e);
            }
        }
    }

    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct)
    {
        try
        {
            return await _http.SendAsync(request, completion, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new RpcClientException($"cannot reach the node at {_http.BaseAddress}: {e.Message}", inner: e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new RpcClientException($"the node at {_http.BaseAddress} did not answer within {_http.Timeout.TotalSeconds:F0} s", inner: e);
        }
    }

    private static async Task ThrowIfErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        ErrorResponse? error = null;
        try
        {
            error = await response.Content.ReadFromJsonAsync<ErrorResponse>(RpcJson.Options, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not our JSON error shape: report the status alone.
        }
        var status = (int)response.StatusCode;
        throw new RpcClientException(error?.Error ?? $"HTTP {status} {response.ReasonPhrase}", status, error?.Code);
    }

    private static T Decode<T>(string base64, string what) where T : ICanonicalObject<T>
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new RpcClientException($"served {what} bytes are not base64");
        }
        return Canonical.TryDecode<T>(bytes, out var value, out var error)
            ? value!
            : throw new RpcClientException($"served {what} is not canonical: {error!.Message}");
    }
}
