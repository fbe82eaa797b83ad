using Chain.Core;
using Chain.Storage;

namespace Chain.Node.Host;

/// <summary>Answers sync requests from the block store, within the same bounds the requester checks.</summary>
public static class BlockSyncServer
{
    /// <summary>
    /// Consecutive blocks with commits from the requested height: at most the requested count (itself at most
    /// <see cref="SyncLimits.MaxBlocksPerResponse"/>), stopping before the byte budget is passed but always at least one.
    /// </summary>
    public static SyncResponse Respond(BlockStore store, Height latest, SyncRequest request, int byteBudget)
    {
        var blocks = new List<SyncedBlock>();
        long bytes = 0;
        ulong last = Math.Min(latest.Value, request.From.Value + Math.Min(request.MaxBlocks, (uint)SyncLimits.MaxBlocksPerResponse) - 1);
        for (ulong h = request.From.Value; h <= last; h++)
        {
            var block = store.LoadBlock(new Height(h));
            var commit = store.LoadCommit(new Height(h));
            if (block is null || commit is null) break;
            long size = block.Encoded.Length + commit.Encoded.Length;
            if (blocks.Count > 0 && bytes + size > byteBudget) break;
            blocks.Add(new SyncedBlock(block, commit));
            bytes += size;
        }
        return new SyncResponse(blocks);
    }
}
