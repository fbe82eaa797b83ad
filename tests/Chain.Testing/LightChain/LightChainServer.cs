using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Rpc;

namespace Chain.Testing.LightChain;

/// <summary>
/// Serves a <see cref="LightChain"/> in-process with the node's RPC JSON shapes (RpcModels: <c>GET /status</c>,
/// <c>/headers/{h}</c>, <c>/commits/{h}</c>, <c>/validators/{h}</c>, <c>/txs/{hash}</c>, <c>POST /evidence</c>), so a light
/// client runs over its real HTTP code. Faults a lying node commits are set explicitly: a forged header, a withheld
/// commit, a stale validator set, no answer at all. Evidence posted is decoded as Core's ConflictingHeader and kept.
/// </summary>
public sealed class LightChainServer(LightChain chain) : HttpMessageHandler
{
    public LightChain Chain { get; } = chain ?? throw new ArgumentNullException(nameof(chain));

    /// <summary>The height /status reports and the highest served.</summary>
    public ulong Latest { get; set; } = chain.Heights;

    /// <summary>Headers served instead of the chain's (a primary that lies).</summary>
    public Dictionary<ulong, BlockHeader> ForgedHeaders { get; } = [];

    /// <summary>Heights whose commit the node withholds (404).</summary>
    public HashSet<ulong> WithheldCommits { get; } = [];

    /// <summary>Height → the height whose validator set is served instead (a stale set).</summary>
    public Dictionary<ulong, ulong> StaleSets { get; } = [];

    /// <summary>Every request fails as a connection failure would.</summary>
    public bool Unresponsive { get; set; }

    public List<ConflictingHeader> EvidenceReceived { get; } = [];

    public int HeaderRequests { get; private set; }

    public HttpClient Client(string name = "node") => new(this, disposeHandler: false) { BaseAddress = new Uri($"http://{name}.test/") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Unresponsive) throw new HttpRequestException($"connection refused ({request.RequestUri!.Host})");
        var parts = request.RequestUri!.AbsolutePath.Trim('/').Split('/');
        if (request.Method == HttpMethod.Post && parts is ["evidence"])
        {
            var body = await request.Content!.ReadFromJsonAsync<EvidenceSubmitRequest>(RpcJson.Options, cancellationToken).ConfigureAwait(false);
            var evidence = Canonical.Decode<ConflictingHeader>(Convert.FromBase64String(body!.Evidence!));
            EvidenceReceived.Add(evidence);
            return Json(new EvidenceSubmitResponse(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(evidence.Encoded.Span)), "pending"));
        }
        if (parts is ["status"])
            return Json(new StatusResponse(Chain.ChainId.Value, Latest, Chain.Header(Latest).Hash.ToString(), Chain.Header(Latest).TimeMs, Chain.Header(Latest).StateRoot.ToString(),
                0, false, null, null, 0, 0));
        if (parts is ["txs", var hashText] && Hash32.TryParse(hashText, out var txHash))
            return Transaction(txHash);
        if (parts is [var kind, var heightText] && ulong.TryParse(heightText, NumberStyles.None, CultureInfo.InvariantCulture, out var h))
        {
            if (h == 0 || h > Latest) return Error(HttpStatusCode.NotFound, $"no block at height {h}");
            switch (kind)
            {
                case "headers":
                    HeaderRequests++;
                    var header = ForgedHeaders.GetValueOrDefault(h) ?? Chain.Header(h);
                    return Json(new HeaderResponse(HeaderJson(header), B64(header.Encoded)));
                case "commits":
                    if (WithheldCommits.Contains(h)) return Error(HttpStatusCode.NotFound, $"no commit for height {h}");
                    var c = Chain.Commit(h);
                    return Json(new CommitResponse(h, c.Round.Value, c.BlockHash.ToString(), c.Hash.ToString(),
                        c.Signatures.Select(s => new CommitSignatureJson(s.Validator.ToString(), s.TimestampMs, s.Signature.ToString())).ToArray(), B64(c.Encoded), h < Latest));
                case "validators":
                    var set = Chain.Validators(StaleSets.GetValueOrDefault(h, h));
                    return Json(new ValidatorsResponse(h, set.Hash.ToString(), set.TotalPower,
                        set.Validators.Select(v => new ValidatorJson(v.Address.ToString(), v.PublicKey.ToString(), v.Power)).ToArray(), B64(set.Encoded)));
            }
        }
        return Error(HttpStatusCode.NotFound, $"no route {request.RequestUri.AbsolutePath}");
    }

    private HttpResponseMessage Transaction(Hash32 hash)
    {
        foreach (var (height, tx, receipt) in Chain.Transfers)
        {
            if (tx.Hash != hash || height > Latest) continue;
            var header = Chain.Header(height);
            var t = tx.Transaction;
            var transfer = (TransferBody)t.Body;
            var json = new TransactionJson(tx.Hash.ToString(), "Transfer", t.ChainId.Value, t.SenderAddress.ToString(), t.Sender.ToString(), t.Nonce, t.Fee,
                tx.Signature.ToString(), transfer.Recipient.ToString(), transfer.Amount);
            var receiptJson = new ReceiptJson(receipt.TransactionHash.ToString(), receipt.Status.ToString(), receipt.GasUsed, null, receipt.Hash.ToString());
            return Json(new TransactionLookupResponse(height, 0, header.Hash.ToString(), json, receiptJson, B64(header.Encoded), B64(tx.Encoded), B64(receipt.Encoded),
                B64(MerkleTree.CreateProof([tx.Encoded], 0).Encoded), B64(MerkleTree.CreateProof([receipt.Encoded], 0).Encoded)));
        }
        return Error(HttpStatusCode.NotFound, $"transaction {hash} not found");
    }

    private static HeaderJson HeaderJson(BlockHeader h) => new(
        h.Hash.ToString(), h.Version, h.ChainId.Value, h.Height.Value, h.TimeMs,
        h.LastBlockHash.ToString(), h.LastCommitHash.ToString(), h.TransactionsRoot.ToString(), h.ReceiptsRoot.ToString(), h.StateRoot.ToString(),
        h.ValidatorsHash.ToString(), h.NextValidatorsHash.ToString(), h.EvidenceRoot.ToString(), h.Proposer.ToString());

    private static string B64(ReadOnlyMemory<byte> bytes) => Convert.ToBase64String(bytes.Span);

    private static HttpResponseMessage Json<T>(T value) => new(HttpStatusCode.OK) { Content = JsonContent.Create(value, options: RpcJson.Options) };

    private static HttpResponseMessage Error(HttpStatusCode status, string message) =>
        new(status) { Content = JsonContent.Create(new ErrorResponse(message), options: RpcJson.Options) };
}
