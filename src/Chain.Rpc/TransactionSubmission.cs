using System.Globalization;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>
/// POST /txs: decode strictly, hand to the node's mempool, and in commit mode wait (bounded) for the block
/// that includes it. The mempool's rules (<see cref="TransactionRules"/>, the same for gossip) decide admission: a
/// refusal is a 422 whose code is the <see cref="RejectCode"/> — for a body certain to fail (a model admission refuses,
/// an Infer that does not fit its registered model) the receipt status it would get — and nothing changes.
/// </summary>
internal sealed class TransactionSubmission(IRpcNode node, RpcOptions options)
{
    public async Task<IResult> SubmitAsync(HttpContext context)
    {
        var request = context.Request;
        var mode = request.Query["mode"].ToString() is { Length: > 0 } m ? m : "sync";
        if (mode is not ("sync" or "commit"))
            return RpcErrors.BadRequest($"mode must be 'sync' or 'commit', got '{ChainQueries.Truncate(mode)}'");
        var timeout = options.DefaultCommitTimeout;
        if (request.Query["timeoutMs"].ToString() is { Length: > 0 } t)
        {
            if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms < 1 || ms > (long)options.MaxCommitTimeout.TotalMilliseconds)
                return RpcErrors.BadRequest($"timeoutMs must be 1..{(long)options.MaxCommitTimeout.TotalMilliseconds}");
            timeout = TimeSpan.FromMilliseconds(ms);
        }

        var body = await BoundedBody.ReadAsync(request, options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null) return RpcErrors.TooLarge($"request body exceeds {options.MaxRequestBodyBytes} bytes");
        if (ExtractTransactionBytes(request.ContentType, body, out var error) is not { } encoded) return RpcErrors.BadRequest(error);
        if (encoded.Length > ProtocolLimits.MaxTransactionBytes)
            return RpcErrors.TooLarge($"transaction is {encoded.Length} bytes, the limit is {ProtocolLimits.MaxTransactionBytes}");
        if (!Canonical.TryDecode<SignedTransaction>(encoded, out var tx, out var decodeError))
            return RpcErrors.BadRequest(decodeError!.Message);

        // Subscribe before submitting so the committing block cannot slip past unseen.
        using var subscription = mode == "commit" ? node.CommittedBlocks.TrySubscribe() : null;
        if (mode == "commit" && subscription is null) return RpcErrors.Unavailable("too many commit waiters; retry or use mode=sync");
        if (node.SubmitTransaction(tx!) is { } rejection)
            return RpcErrors.Error(StatusCodes.Status422UnprocessableEntity, $"rejected: {RpcErrors.OneLine(rejection.Message)}", rejection.Code.ToString());
        if (mode == "sync")
            return RpcErrors.Json(new SubmitResponse(tx!.Hash.ToString(), "pending"), StatusCodes.Status202Accepted);
        return await WaitForCommitAsync(tx!.Hash, subscription!, timeout, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// POST /txs/batch: JSON <c>{"txs": [hex, …]}</c>, at most <see cref="RpcOptions.MaxBatchTransactions"/>; 200 with one
    /// answer per transaction in request order (<see cref="BatchSubmitResult"/>). A transaction that does not decode is
    /// answered <c>bad_request</c> and the others still go in; the batch is admitted as <see cref="IRpcNode.SubmitTransactions"/>.
    /// </summary>
    public async Task<IResult> SubmitBatchAsync(HttpContext context)
    {
        var request = context.Request;
        var body = await BoundedBody.ReadAsync(request, options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null) return RpcErrors.TooLarge($"request body exceeds {options.MaxRequestBodyBytes} bytes");
        if (request.ContentType?.Split(';')[0].Trim().ToLowerInvariant() != "application/json")
            return RpcErrors.BadRequest($"content type must be application/json ({{\"txs\": [hex, …]}}), got '{request.ContentType ?? "(none)"}'");
        BatchSubmitRequest? batch;
        try
        {
            batch = JsonSerializer.Deserialize<BatchSubmitRequest>(body, RpcJson.Options);
        }
        catch (JsonException e)
        {
            return RpcErrors.BadRequest($"malformed JSON: {RpcErrors.OneLine(e.Message)}");
        }
        if (batch?.Txs is not { Count: > 0 } hexes) return RpcErrors.BadRequest("JSON body must be {\"txs\": [\"<hex of a canonical signed transaction>\", …]} with at least one");
        if (hexes.Count > options.MaxBatchTransactions)
            return RpcErrors.TooLarge($"{hexes.Count} transactions in one batch, the limit is {options.MaxBatchTransactions}");

        var results = new BatchSubmitResult?[hexes.Count];
        var decoded = new List<SignedTransaction>(hexes.Count);
        var positions = new List<int>(hexes.Count);
        for (var i = 0; i < hexes.Count; i++)
        {
            if (DecodeHex(hexes[i], out var error) is not { } encoded) results[i] = new BatchSubmitResult(null, "rejected", $"txs[{i}]: {error}", "bad_request");
            else if (!Canonical.TryDecode<SignedTransaction>(encoded, out var tx, out var decodeError))
                results[i] = new BatchSubmitResult(null, "rejected", $"txs[{i}]: {RpcErrors.OneLine(decodeError!.Message)}", "bad_request");
            else
            {
                decoded.Add(tx!);
                positions.Add(i);
            }
        }
        var rejections = decoded.Count == 0 ? [] : node.SubmitTransactions(decoded);
        for (var k = 0; k < decoded.Count; k++)
        {
            var hash = decoded[k].Hash.ToString();
            results[positions[k]] = rejections[k] is { } r
                ? new BatchSubmitResult(hash, "rejected", $"rejected: {RpcErrors.OneLine(r.Message)}", r.Code.ToString())
                : new BatchSubmitResult(hash, "pending");
        }
        return RpcErrors.Json(new BatchSubmitResponse(results!), StatusCodes.Status200OK);
    }

    private static byte[]? DecodeHex(string? hex, out string error)
    {
        error = "";
        if (string.IsNullOrEmpty(hex))
        {
            error = "empty: give the hex of a canonical signed transaction";
            return null;
        }
        if (hex.Length % 2 != 0 || hex.Length / 2 > ProtocolLimits.MaxTransactionBytes)
        {
            error = hex.Length % 2 != 0 ? $"hex has an odd number of characters ({hex.Length})" : $"more than {ProtocolLimits.MaxTransactionBytes} bytes";
            return null;
        }
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            error = "not valid hex (0-9, a-f)";
            return null;
        }
    }

    private async Task<IResult> WaitForCommitAsync(Hash32 hash, BlockSubscription subscription, TimeSpan timeout, CancellationToken aborted)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(timeout);
        var current = subscription;
        try
        {
            while (true)
            {
                if (node.Blocks.FindTransaction(hash) is var (height, index) && node.Blocks.LoadReceipt(height, index) is { } receipt)
                    return RpcErrors.Json(new SubmitResponse(hash.ToString(), "committed", height.Value, index, RpcMapping.Receipt(receipt)));
                if (!await current.Reader.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
                {
                    // Cut off for lagging: the store is the truth, so check it again on a fresh subscription.
                    if (current != subscription) current.Dispose();
                    current = node.CommittedBlocks.TrySubscribe() ?? throw new OperationCanceledException();
                    continue;
                }
                while (current.Reader.TryRead(out _)) { }
            }
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return RpcErrors.Error(StatusCodes.Status504GatewayTimeout,
                $"transaction {hash} was admitted but not committed within {timeout.TotalMilliseconds:F0} ms; it may still be pending (GET /txs/{hash})", "commit_timeout");
        }
        finally
        {
            if (current != subscription) current.Dispose();
        }
    }

    // JSON {"tx": "<hex>"} or the raw canonical bytes as application/octet-stream.
    private static byte[]? ExtractTransactionBytes(string? contentType, byte[] body, out string error)
    {
        error = "";
        var media = contentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (media == "application/octet-stream")
        {
            if (body.Length == 0) error = "empty body: send the canonical signed transaction bytes";
            return body.Length == 0 ? null : body;
        }
        if (media != "application/json")
        {
            error = $"content type must be application/json ({{\"tx\": hex}}) or application/octet-stream, got '{contentType ?? "(none)"}'";
            return null;
        }
        SubmitRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<SubmitRequest>(body, RpcJson.Options);
        }
        catch (JsonException e)
        {
            error = $"malformed JSON: {e.Message}";
            return null;
        }
        if (request?.Tx is not { } hex || hex.Length == 0)
        {
            error = "JSON body must be {\"tx\": \"<hex of the canonical signed transaction>\"}";
            return null;
        }
        if (hex.Length % 2 != 0)
        {
            error = $"tx hex has an odd number of characters ({hex.Length})";
            return null;
        }
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            error = "tx is not valid hex (0-9, a-f)";
            return null;
        }
    }
}
