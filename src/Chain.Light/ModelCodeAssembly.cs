using Chain.Core;
using Chain.Core.Protocol;
using Chain.Rpc;

namespace Chain.Light;

/// <summary>
/// Fetches and verifies a model's bytes, whichever way it was registered: one proven value, or a proven layout and
/// its proven chunks reassembled; either way the whole must hash to the model id. The one reassembly the RPC client,
/// the light client and light sync share: each passes how it fetches an answer and how it anchors a proof's height.
/// </summary>
public static class ModelCodeAssembly
{
    /// <param name="fetch">Fetches <c>GET /models/{id}/code</c>, with <c>?chunk=i</c> when the index is given.</param>
    /// <param name="stateRoot">The verified state root at a proof's height.</param>
    /// <param name="fail">The exception to throw for a failed check.</param>
    /// <param name="progress">Called with (chunks verified, chunk count) after each chunk; may be null.</param>
    public static async Task<byte[]> FetchAsync(Hash32 modelId, Func<int?, CancellationToken, Task<ModelCodeResponse>> fetch,
        Func<StateProofJson, CancellationToken, Task<Hash32>> stateRoot, Func<VerifyFailure, Exception> fail,
        Action<int, int>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(fetch);
        ArgumentNullException.ThrowIfNull(stateRoot);
        ArgumentNullException.ThrowIfNull(fail);
        var served = await fetch(null, ct).ConfigureAwait(false);
        var root = await stateRoot(served.Proof, ct).ConfigureAwait(false);
        if (served.Chunks is null)
        {
            if (LightVerifier.VerifyModelCode(served, modelId, root, out var whole) is { } failure) throw fail(failure);
            return whole!;
        }
        if (LightVerifier.VerifyModelLayout(served, modelId, root, out var layout) is { } bad) throw fail(bad);
        var code = new byte[layout!.TotalBytes];
        // A sealed model's chunks never change, so each may be proven at whatever height the node answers from.
        for (int i = 0; i < layout.ChunkCount; i++)
        {
            var part = await fetch(i, ct).ConfigureAwait(false);
            var partRoot = await stateRoot(part.Proof, ct).ConfigureAwait(false);
            if (LightVerifier.VerifyModelChunk(part, modelId, layout, i, partRoot, out var chunk) is { } wrong) throw fail(wrong);
            chunk!.CopyTo(code, (long)i * ProtocolLimits.ModelChunkBytes);
            progress?.Invoke(i + 1, layout.ChunkCount);
        }
        byte[]? assembled = code;
        if (LightVerifier.VerifyModelHash(modelId, ref assembled) is { } mismatch) throw fail(mismatch);
        return assembled!;
    }
}
