using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Rpc;

namespace Chain.Light;

/// <summary>A check a <see cref="LightClient"/> made failed, or the node could not be asked.</summary>
public class LightClientException(string message, VerifyFailure? failure = null, int? status = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The failed check (null: the node was unreachable or answered an error).</summary>
    public VerifyFailure? Failure { get; } = failure;

    /// <summary>The HTTP status of an error answer.</summary>
    public int? Status { get; } = status;
}

/// <summary>A committed transaction and its receipt, proven against a header finalized by the trusted validators.</summary>
public sealed record LightTransaction(TransactionLookupResponse Served, BlockHeader Header, SignedTransaction Transaction, Receipt Receipt);

/// <summary>
/// A thin light client over the node RPC (docs/rpc.md): HttpClient and System.Text.Json only. It trusts a chain id and
/// a validator set and nothing the node says: every header is decoded from its canonical bytes and checked against a
/// commit of the trusted set; every transaction, receipt and state value against that header's roots
/// (<see cref="LightVerifier"/>).
/// </summary>
public sealed class LightClient : IDisposable
{
    /// <summary>Largest response read: a maximal block in base64 with its JSON.</summary>
    public const long MaxResponseBytes = (ProtocolLimits.MaxBlockBytes / 3 + 1) * 4 * 2L;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    public LightClient(Uri node, ChainId chainId, ValidatorSet trusted, TimeSpan? timeout = null)
        : this(new HttpClient { BaseAddress = node, Timeout = timeout ?? TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = MaxResponseBytes }, chainId, trusted, ownsHttp: true)
    {
    }

    public LightClient(HttpClient http, ChainId chainId, ValidatorSet trusted, bool ownsHttp = false)
    {
        _http = http ?? throw new ArgumentNullException(nameof(http));
        if (_http.BaseAddress is null) throw new ArgumentException("the HttpClient needs a BaseAddress", nameof(http));
        ChainId = chainId;
        Trusted = trusted ?? throw new ArgumentNullException(nameof(trusted));
        _ownsHttp = ownsHttp;
    }

    public ChainId ChainId { get; }
    public ValidatorSet Trusted { get; }

    /// <summary>HTTP requests made so far.</summary>
    public int Requests { get; private set; }

    /// <summary>The header at <paramref name="height"/>, decoded from its canonical bytes (not yet verified).</summary>
    public async Task<BlockHeader> HeaderAsync(ulong height, CancellationToken ct = default)
    {
        var served = await GetAsync<HeaderResponse>($"headers/{height}", ct).ConfigureAwait(false);
        var header = Decode<BlockHeader>(served.Raw, "header");
        if (header.Height.Value != height)
            throw Failed(new VerifyFailure(VerifyFailureKind.BadHeader, $"asked for header {height}, got {header.Height}", Field: "height",
                Expected: height.ToString(), Actual: header.Height.ToString()));
        return header;
    }

    /// <summary>The commit served for <paramref name="height"/> and whether it is the one the chain recorded (<c>canonical</c>).</summary>
    public async Task<(Commit Commit, bool Canonical)> CommitAsync(ulong height, CancellationToken ct = default)
    {
        var served = await GetAsync<CommitResponse>($"commits/{height}", ct).ConfigureAwait(false);
        return (Decode<Commit>(served.Raw, "commit"), served.Canonical);
    }

    /// <summary>The header at <paramref name="height"/>, checked to be finalized by the trusted validators.</summary>
    public async Task<BlockHeader> VerifiedHeaderAsync(ulong height, CancellationToken ct = default)
    {
        var header = await HeaderAsync(height, ct).ConfigureAwait(false);
        var (commit, _) = await CommitAsync(height, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyHeader(header, commit, ChainId, Trusted) is { } failure)
            throw Failed(failure with { Message = $"header {height} is not finalized by the trusted validators: {failure.Message}" });
        return header;
    }

    /// <summary>
    /// Headers <paramref name="from"/>..<paramref name="to"/>, each finalized by the trusted validators and each chained
    /// to the one before by the commit the chain recorded (<c>lastCommitHash</c> of the next header).
    /// </summary>
    public async Task<IReadOnlyList<BlockHeader>> VerifiedRangeAsync(ulong from, ulong to, CancellationToken ct = default)
    {
        if (from == 0 || to < from) throw new ArgumentOutOfRangeException(nameof(to), $"need 1 <= from <= to, got {from}..{to}");
        var headers = new List<BlockHeader>();
        BlockHeader? previous = null;
        Commit? previousCommit = null;
        for (ulong h = from; h <= to; h++)
        {
            var header = await HeaderAsync(h, ct).ConfigureAwait(false);
            var (commit, canonical) = await CommitAsync(h, ct).ConfigureAwait(false);
            if (LightVerifier.VerifyHeader(header, commit, ChainId, Trusted) is { } bad)
                throw Failed(bad with { Message = $"header {h}: {bad.Message}" });
            if (previous is not null && LightVerifier.VerifyChaining(previous, previousCommit!, header) is { } broken)
                throw Failed(broken);
            if (h < to && !canonical)
                throw Failed(new VerifyFailure(VerifyFailureKind.BadHeader, $"the node serves a non-canonical commit for {h} below {to}", Field: "canonical",
                    Expected: "true", Actual: "false"));
            headers.Add(header);
            previous = header;
            previousCommit = commit;
        }
        return headers;
    }

    /// <summary>A committed transaction and its receipt, both proven against the verified header of their block.</summary>
    public async Task<LightTransaction> TransactionAsync(Hash32 hash, CancellationToken ct = default)
    {
        var served = await GetAsync<TransactionLookupResponse>($"txs/{hash}", ct).ConfigureAwait(false);
        var header = await VerifiedHeaderAsync(served.Height, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyTransaction(served, hash, header, out var tx, out var receipt) is { } failure) throw Failed(failure);
        return new LightTransaction(served, header, tx!, receipt!);
    }

    /// <summary>An account (empty when absent), proven against the state root of a verified header.</summary>
    public async Task<(Account Account, BlockHeader Header)> AccountAsync(Address address, CancellationToken ct = default)
    {
        var served = await GetAsync<AccountResponse>($"accounts/{address}", ct).ConfigureAwait(false);
        var header = await StateHeaderAsync(served.Proof, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyAccount(served, address, header.StateRoot, out var account) is { } failure) throw Failed(failure);
        return (account!, header);
    }

    /// <summary>A model's record (canonical bytes), proven against the state root of a verified header.</summary>
    public async Task<(ModelResponse Served, byte[] Record, BlockHeader Header)> ModelAsync(Hash32 modelId, CancellationToken ct = default)
    {
        var served = await GetAsync<ModelResponse>($"models/{modelId}", ct).ConfigureAwait(false);
        var header = await StateHeaderAsync(served.Proof, ct).ConfigureAwait(false);
        if (LightVerifier.VerifyModel(served, modelId, header.StateRoot, out var record) is { } failure) throw Failed(failure);
        return (served, record!, header);
    }

    /// <summary>A model's ONNX bytes (a chunked model's reassembled), proven against the state root of a verified header and hashing to <paramref name="modelId"/>.</summary>
    public Task<byte[]> ModelCodeAsync(Hash32 modelId, CancellationToken ct = default) =>
        ModelCodeAssembly.FetchAsync(modelId,
            (chunk, c) => GetAsync<ModelCodeResponse>(chunk is { } i ? $"models/{modelId}/code?chunk={i}" : $"models/{modelId}/code", c),
            async (proof, c) => (await StateHeaderAsync(proof, c).ConfigureAwait(false)).StateRoot, Failed, ct: ct);

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    private async Task<BlockHeader> StateHeaderAsync(StateProofJson proof, CancellationToken ct)
    {
        // A light client has no header at height 0 to anchor a genesis-state proof to.
        if (proof.Height == 0) throw new LightClientException("the node proves against the genesis state (height 0), which no header anchors");
        return await VerifiedHeaderAsync(proof.Height, ct).ConfigureAwait(false);
    }

    private Task<T> GetAsync<T>(string path, CancellationToken ct)
    {
        Requests++;
        return NodeHttp.GetAsync<T>(_http, path, ct);
    }

    private static T Decode<T>(string base64, string what) where T : ICanonicalObject<T> => NodeHttp.Decode<T>(base64, what);

    private static LightClientException Failed(VerifyFailure failure) => new(failure.Message, failure);
}
