using Chain.Core;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Microsoft.AspNetCore.Http;

namespace Chain.Rpc;

/// <summary>Read-only endpoints over the block store: status, blocks, commits, validators, transactions.</summary>
internal sealed class ChainQueries(IRpcNode node)
{
    public IResult Status()
    {
        var info = node.GetNodeInfo();
        var latest = node.Blocks.LatestHeight;
        var header = latest is { } h ? node.Blocks.LoadHeader(h) : null;
        return RpcErrors.Json(new StatusResponse(
            node.ChainId.Value, header?.Height.Value ?? 0, header?.Hash.ToString(), header?.TimeMs,
            (header?.StateRoot ?? node.State.Root).ToString(), info.PeersConnected, info.Syncing,
            info.ValidatorAddress?.ToString(), info.NodeKey?.ToString(), info.MempoolTransactions, info.MempoolBytes,
            RpcMapping.Params(node.Parameters)));
    }

    public IResult Block(string height)
    {
        if (ResolveHeight(height) is not { } h) return BadHeight(height);
        if (h.Value == 0) return NoBlocksYet();
        return node.Blocks.LoadBlock(h) is { } block
            ? RpcErrors.Json(RpcMapping.Block(block))
            : RpcErrors.NotFound($"no block at height {h} (latest is {LatestText()})");
    }

    public IResult Header(string height)
    {
        if (ResolveHeight(height) is not { } h) return BadHeight(height);
        if (h.Value == 0) return NoBlocksYet();
        return node.Blocks.LoadHeader(h) is { } header
            ? RpcErrors.Json(new HeaderResponse(RpcMapping.Header(header), RpcMapping.B64(header.Encoded)))
            : RpcErrors.NotFound($"no block at height {h} (latest is {LatestText()})");
    }

    public IResult Commit(string height)
    {
        if (ResolveHeight(height) is not { } h) return BadHeight(height);
        if (h.Value == 0) return NoBlocksYet();
        // The commit the chain recorded for h is block h+1's lastCommit: the same on every node, and what header
        // h+1's lastCommitHash binds. Only for the latest height, which no block records yet, is the node's own
        // seen commit served (canonical: false); another node may hold another +2/3 set for it.
        if (node.Blocks.LoadBlock(new Height(h.Value + 1)) is { LastCommit: { } recorded })
            return RpcErrors.Json(RpcMapping.Commit(recorded, canonical: true));
        return node.Blocks.LoadCommit(h) is { } commit
            ? RpcErrors.Json(RpcMapping.Commit(commit, canonical: false))
            : RpcErrors.NotFound($"no commit at height {h} (latest is {LatestText()})");
    }

    /// <summary>/validators: the set of the next height, the one deciding now.</summary>
    public IResult Validators() => ValidatorsOf(new Height((node.Blocks.LatestHeight?.Value ?? 0) + 1));

    /// <summary>/validators/{height}: any committed height and the next two.</summary>
    public IResult Validators(string height)
    {
        if (ResolveHeight(height) is not { } h) return BadHeight(height);
        if (h.Value == 0) return NoBlocksYet();
        return ValidatorsOf(h);
    }

    private IResult ValidatorsOf(Height h) => node.ValidatorsAt(h) is { } active
        ? RpcErrors.Json(RpcMapping.Validators(h.Value, active.Set))
        : RpcErrors.NotFound($"the validators of height {h} are not known yet (latest is {LatestText()}; known up to two heights beyond it)");

    public IResult Transaction(string hash)
    {
        if (!RpcParse.IsLowerHex(hash, 64) || !Hash32.TryParse(hash, out var txHash))
            return RpcErrors.BadRequest($"transaction hash must be 64 lower-case hex characters, got '{Truncate(hash)}'");
        if (node.Blocks.FindTransaction(txHash) is not var (height, index))
            return RpcErrors.NotFound($"transaction {txHash} is not in any committed block");
        var block = node.Blocks.LoadBlock(height);
        var receipts = node.Blocks.LoadReceipts(height);
        if (block is null || index >= block.Transactions.Count || index >= receipts.Count)
            return RpcErrors.Unavailable($"block {height} is indexed but not readable yet; retry");
        var txLeaves = block.Transactions.Select(t => t.Encoded).ToArray();
        var receiptLeaves = receipts.Select(r => r.Encoded).ToArray();
        return RpcErrors.Json(new TransactionLookupResponse(
            height.Value, index, block.Hash.ToString(),
            RpcMapping.Transaction(block.Transactions[index]), RpcMapping.Receipt(receipts[index]),
            RpcMapping.B64(block.Header.Encoded), RpcMapping.B64(txLeaves[index]), RpcMapping.B64(receiptLeaves[index]),
            RpcMapping.B64(MerkleTree.CreateProof(txLeaves, index).Encoded),
            RpcMapping.B64(MerkleTree.CreateProof(receiptLeaves, index).Encoded)));
    }

    // "latest" or a decimal height ≥ 1; null for anything else. "latest" before the first block is height 0.
    private Height? ResolveHeight(string text)
    {
        if (text == "latest") return node.Blocks.LatestHeight ?? new Height(0);
        return RpcParse.TryHeight(text, out var value) ? new Height(value) : null;
    }

    private static IResult NoBlocksYet() => RpcErrors.NotFound("no block has been committed yet");

    private static IResult BadHeight(string text) =>
        RpcErrors.BadRequest($"height must be a decimal number from 1 without leading zeros, or 'latest'; got '{Truncate(text)}'");

    private string LatestText() => node.Blocks.LatestHeight?.ToString() ?? "none";

    internal static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
