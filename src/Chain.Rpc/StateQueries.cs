using Chain.Core;
using Chain.Core.Codec;
using Chain.Execution;
using Chain.State;
using Microsoft.AspNetCore.Http;
using Chain.Core.State;
using Chain.Core.Merkle;

namespace Chain.Rpc;

/// <summary>
/// Accounts and models with state proofs. The state may advance while a proof is read, so the server proves a
/// key, checks the proof against the state root of the header at the height it read, and retries if a commit
/// slipped in between: what it serves always verifies against the header it names.
/// </summary>
internal sealed class StateQueries(IRpcNode node)
{
    private const int MaxAttempts = 64;

    internal sealed record ProvenValue(ulong Height, Hash32 Root, Hash32 Key, byte[]? Value, StateProof Proof)
    {
        public StateProofJson ToJson() => new(Height, Root.ToString(), Key.ToString(),
            Value is null ? null : RpcMapping.B64(Value), RpcMapping.B64(Proof.Encoded));
    }

    public IResult Account(string address)
    {
        if (!RpcParse.IsLowerHex(address, 40) || !Address.TryParse(address, out var parsed))
            return RpcErrors.BadRequest($"address must be 40 lower-case hex characters, got '{ChainQueries.Truncate(address)}'");
        if (Read(StateKeys.Account(parsed)) is not { } proven)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        var account = proven.Value is null ? Core.State.Account.Empty : Canonical.Decode<Core.State.Account>(proven.Value);
        return RpcErrors.Json(new AccountResponse(parsed.ToString(), account.Balance, account.Nonce, proven.ToJson()));
    }

    public IResult Model(string id)
    {
        if (!RpcParse.IsLowerHex(id, 64) || !Hash32.TryParse(id, out var modelId))
            return RpcErrors.BadRequest($"model id must be 64 lower-case hex characters, got '{ChainQueries.Truncate(id)}'");
        if (Read(StateKeys.Model(modelId)) is not { } proven)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        if (proven.Value is null) return RpcErrors.NotFound($"no model {modelId} is registered (as of height {proven.Height})");
        var info = Canonical.Decode<ModelInfo>(proven.Value);
        return RpcErrors.Json(new ModelResponse(modelId.ToString(), info.Name, info.Owner.ToString(),
            RpcMapping.Tensor(info.Input), RpcMapping.Tensor(info.Output), info.Gas, info.Macs, info.RegisteredAt, proven.ToJson()));
    }

    /// <summary>
    /// GET /models/{id}/code[?chunk=i]: a model registered in one transaction, whole; a chunked model's layout, or with
    /// <paramref name="chunk"/> one chunk. Each answer is one proven state value (docs/rpc.md, "Model code").
    /// </summary>
    public IResult ModelCode(string id, string? chunk = null)
    {
        if (!RpcParse.IsLowerHex(id, 64) || !Hash32.TryParse(id, out var modelId))
            return RpcErrors.BadRequest($"model id must be 64 lower-case hex characters, got '{ChainQueries.Truncate(id)}'");
        int? index = null;
        if (chunk is not null)
        {
            if (!int.TryParse(chunk, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i)
                || i >= Core.Protocol.ProtocolLimits.MaxModelChunks)
                return RpcErrors.BadRequest($"chunk must be an integer from 0 to {Core.Protocol.ProtocolLimits.MaxModelChunks - 1}, got '{ChainQueries.Truncate(chunk)}'");
            index = i;
        }
        if (Read(StateKeys.ModelCode(modelId)) is not { } proven)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        if (proven.Value is not null)
            return index is null ? RpcErrors.Json(new ModelCodeResponse(modelId.ToString(), proven.Value.Length, proven.ToJson()))
                : RpcErrors.NotFound($"model {modelId} was registered in one transaction: it has no chunks (omit chunk)");
        if (Read(StateKeys.ModelLayout(modelId)) is not { } layoutValue)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        if (layoutValue.Value is null) return RpcErrors.NotFound($"no model {modelId} is registered (as of height {layoutValue.Height})");
        var layout = Canonical.Decode<ModelLayout>(layoutValue.Value);
        if (index is not { } n) return RpcErrors.Json(new ModelCodeResponse(modelId.ToString(), layout.TotalBytes, layoutValue.ToJson(), layout.ChunkCount));
        if (n >= layout.ChunkCount) return RpcErrors.NotFound($"model {modelId} has {layout.ChunkCount} chunks, there is no chunk {n}");
        // A sealed model's chunks never change: proving one at a later height than the layout is sound.
        if (Read(layout.ChunkKey(modelId, n)) is not { } provenChunk || provenChunk.Value is null)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        return RpcErrors.Json(new ModelCodeResponse(modelId.ToString(), provenChunk.Value.Length, provenChunk.ToJson(), layout.ChunkCount, n));
    }

    /// <summary>GET /models/{id}/uploads/{owner}: an unsealed upload and the chunk indexes present (unproven; see <see cref="ModelUploadResponse"/>).</summary>
    public IResult ModelUpload(string id, string owner)
    {
        if (!RpcParse.IsLowerHex(id, 64) || !Hash32.TryParse(id, out var modelId))
            return RpcErrors.BadRequest($"model id must be 64 lower-case hex characters, got '{ChainQueries.Truncate(id)}'");
        if (!RpcParse.IsLowerHex(owner, 40) || !Address.TryParse(owner, out var address))
            return RpcErrors.BadRequest($"owner must be 40 lower-case hex characters, got '{ChainQueries.Truncate(owner)}'");
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var latest = node.Blocks.LatestHeight;
            if (node.State.Get(StateKeys.ModelUpload(address, modelId)) is not { } encoded)
                return RpcErrors.NotFound($"{address} has no unsealed upload of model {modelId} (as of height {latest?.Value ?? 0})");
            var upload = Canonical.Decode<Execution.ModelUpload>(encoded);
            var present = Enumerable.Range(0, upload.ChunkCount).Where(i => node.State.Get(StateKeys.ModelChunk(address, modelId, (uint)i)) is not null).ToArray();
            if (node.Blocks.LatestHeight == latest)
                return RpcErrors.Json(new ModelUploadResponse(modelId.ToString(), address.ToString(), upload.Name, upload.TotalBytes, upload.ChunkCount,
                    upload.ExpiresAt, present, latest?.Value ?? 0));
        }
        return RpcErrors.Unavailable("the state kept changing while it was read; retry");
    }

    // Null when no consistent read succeeded; throws InvalidOperationException when no state exists at all.
    internal ProvenValue? Read(Hash32 key)
    {
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var latest = node.Blocks.LatestHeight;
            Hash32 root;
            if (latest is { } h)
            {
                if (node.Blocks.LoadHeader(h) is not { } header) continue;
                root = header.StateRoot;
            }
            else
            {
                root = node.State.Root; // genesis state: no header yet
            }
            var value = node.State.Get(key);
            var proof = node.State.Prove(key);
            if (proof.Verify(root, key, value) && node.Blocks.LatestHeight == latest)
                return new ProvenValue(latest?.Value ?? 0, root, key, value, proof);
            Thread.Yield();
        }
        return null;
    }
}
