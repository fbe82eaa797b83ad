using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Rpc;

namespace Chain.Cli.Commands;

/// <summary>
/// `chain tx register-model` for a model over the single-transaction limit (docs/execution.md, "Chunked registration"):
/// the manifest, the chunks the node does not hold yet, and the seal, in batches that each wait for their last transaction's
/// commit, with a progress bar. Run again after an interruption, it asks the node which chunks are present and sends the rest.
/// </summary>
internal sealed class ChunkedUpload(RpcClient client, PrivateKey key, ExecutionParameters parameters, ChainId chain, TextWriter output, TimeSpan commitTimeout)
{
    /// <summary>Transactions sent before waiting for a commit: at most this many chunks (8 MiB) are pending if interrupted.</summary>
    private const int Batch = 8;

    public int Run(string name, byte[] model)
    {
        var id = DomainHash.Compute(HashDomain.Model, model);
        output.WriteLine($"model id {id} ({model.Length} bytes in {BeginModelUploadBody.ChunksFor(model.Length)} chunks of {ProtocolLimits.ModelChunkBytes})");
        if (Registered(id))
        {
            output.WriteLine($"model {id} is already registered");
            return 0;
        }
        int count = BeginModelUploadBody.ChunksFor(model.Length);
        var upload = NodeOptions.Call(() => client.ModelUploadAsync(id, key.Address));
        var bodies = new List<TransactionBody>();
        var present = new HashSet<int>();
        if (upload is null) bodies.Add(new BeginModelUploadBody(name, id, model.Length));
        else
        {
            if (upload.TotalBytes != model.Length) throw new CliException($"the node holds an upload of {id} of {upload.TotalBytes} bytes, this file is {model.Length}");
            present.UnionWith(upload.Present);
            output.WriteLine($"resuming: the node holds {present.Count} of {count} chunks (upload expires at height {upload.ExpiresAt})");
        }
        for (int i = 0; i < count; i++)
            if (!present.Contains(i))
                bodies.Add(new UploadModelChunkBody(id, i, model.AsSpan(i * ProtocolLimits.ModelChunkBytes, BeginModelUploadBody.ChunkLength(model.Length, i))));
        bodies.Add(new SealModelBody(id, count));

        int done = present.Count;
        Progress(done, count);
        ulong nonce = NodeOptions.Call(() => client.AccountAsync(key.Address)).Account.Nonce;
        for (int start = 0; start < bodies.Count; start += Batch)
        {
            var batch = bodies.Skip(start).Take(Batch).ToList();
            for (int j = 0; j < batch.Count; j++)
            {
                var body = batch[j];
                var tx = new Transaction(chain, key.PublicKey, nonce++, Gas.MinFee(body, parameters), body).Sign(key);
                bool last = j == batch.Count - 1;
                var response = NodeOptions.Call(() => client.SubmitAsync(tx, last ? SubmitMode.Commit : SubmitMode.Sync, commitTimeout));
                if (last && response.Receipt is { } receipt && receipt.Status != nameof(ReceiptStatus.Success))
                    throw new CliException($"{body.Kind} transaction {response.Hash} failed: {receipt.Status} (run again to resume)");
            }
            done += batch.Count(b => b is UploadModelChunkBody);
            Progress(done, count);
        }
        if (!Registered(id)) throw new CliException($"the seal of model {id} was included but the model is not registered: admission refused it, or a chunk failed (run again to resume)");
        output.WriteLine($"model {id} registered");
        return 0;
    }

    private bool Registered(Hash32 id)
    {
        try
        {
            client.ModelAsync(id).GetAwaiter().GetResult();
            return true;
        }
        catch (RpcClientException e) when (e.Status == 404)
        {
            return false;
        }
        catch (RpcClientException e)
        {
            throw new CliException($"the node did not answer whether model {id} is registered: {e.Message}");
        }
    }

    private void Progress(int done, int count)
    {
        const int Width = 30;
        int filled = count == 0 ? Width : done * Width / count;
        output.WriteLine($"[{new string('#', filled)}{new string('-', Width - filled)}] {done}/{count} chunks");
    }
}
