using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>
/// POST /evidence: JSON <c>{"evidence": "&lt;base64 of one canonical evidence item&gt;"}</c> (a light client's
/// conflicting header, or any other kind), at most <see cref="RpcOptions.MaxEvidenceBytes"/> decoded. The node decodes it
/// strictly, verifies it against its chain and pools it (<see cref="IRpcNode.SubmitEvidence"/>): 202 pending, 200 known
/// (already in a committed block), 422 when it proves nothing; nothing changes on a refusal.
/// </summary>
internal sealed class EvidenceSubmission(IRpcNode node, RpcOptions options)
{
    private long MaxBodyBytes => (options.MaxEvidenceBytes + 2L) / 3 * 4 + 1024; // base64 and the JSON around it

    public async Task<IResult> SubmitAsync(HttpContext context)
    {
        var request = context.Request;
        var body = await BoundedBody.ReadAsync(request, MaxBodyBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null) return RpcErrors.TooLarge($"request body exceeds {MaxBodyBytes} bytes");
        if (request.ContentType?.Split(';')[0].Trim().ToLowerInvariant() != "application/json")
            return RpcErrors.BadRequest($"content type must be application/json ({{\"evidence\": base64}}), got '{request.ContentType ?? "(none)"}'");
        EvidenceSubmitRequest? submitted;
        try
        {
            submitted = JsonSerializer.Deserialize<EvidenceSubmitRequest>(body, RpcJson.Options);
        }
        catch (JsonException e)
        {
            return RpcErrors.BadRequest($"malformed JSON: {RpcErrors.OneLine(e.Message)}");
        }
        if (submitted?.Evidence is not { Length: > 0 } text)
            return RpcErrors.BadRequest("JSON body must be {\"evidence\": \"<base64 of a canonical evidence item>\"}");
        byte[] encoded;
        try
        {
            encoded = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return RpcErrors.BadRequest("evidence is not valid base64");
        }
        if (encoded.Length > options.MaxEvidenceBytes)
            return RpcErrors.TooLarge($"evidence is {encoded.Length} bytes, the limit is {options.MaxEvidenceBytes}");

        var admission = node.SubmitEvidence(encoded);
        if (admission.Refusal is { } refusal || admission.Hash is not { } hash || admission.Status is not { } status)
            return RpcErrors.Error(StatusCodes.Status422UnprocessableEntity, $"evidence refused: {RpcErrors.OneLine(admission.Refusal ?? "no answer")}", "evidence_rejected");
        return RpcErrors.Json(new EvidenceSubmitResponse(hash.ToString(), status),
            status == "pending" ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
    }
}
