namespace Chain.Rpc;

/// <summary>POST /evidence: one evidence item, its canonical encoding in base64 (docs/rpc.md).</summary>
public sealed record EvidenceSubmitRequest(string? Evidence);

/// <summary>The answer to POST /evidence: the evidence hash and "pending" (pooled for inclusion) or "known".</summary>
public sealed record EvidenceSubmitResponse(string Hash, string Status);
