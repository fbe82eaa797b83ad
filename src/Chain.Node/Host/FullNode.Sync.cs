using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>Peer status and block sync: asking, serving and verifying decided blocks.</summary>
public sealed partial class FullNode
{
    private void OnStatusMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<PeerStatus>(payload, out var status, out var error))
        {
            Refuse(from, $"undecodable status: {error!.Message}");
            return;
        }
        _sync.PeerHeight(from, status!.LatestHeight.Value);
        Metrics.SetSyncTarget(Math.Max(_sync.TargetHeight, _validator.Executor.Height.Value));
        RequestBlocksIfBehind(NowMs);
    }

    private void RequestBlocksIfBehind(long now)
    {
        if (_sync.Next(_validator.Executor.Height.Value, now) is not { } request) return;
        var bytes = new SyncRequest(new Height(request.From), request.Count).Encoded.ToArray();
        if (!_network.Send(request.Peer, MessageChannel.Sync, bytes)) _sync.Completed(request.Peer, bad: true, now);
    }

    private void OnSyncMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<SyncMessage>(payload, out var message, out var error))
        {
            Refuse(from, $"undecodable sync message: {error!.Message}");
            if (_sync.IsAwaiting(from)) _sync.Completed(from, bad: true, NowMs);
            return;
        }
        switch (message)
        {
            case SyncRequest request:
                var answer = BlockSyncServer.Respond(_validator.Executor.Blocks, _validator.Executor.Height, request, _options.SyncResponseByteBudget).Encoded;
                if (!_syncServeLimit.TrySpend(from, answer.Length, NowMs))
                {
                    Metrics.SyncRequestThrottled(); // over its serving budget: unanswered, it will ask someone else
                    break;
                }
                _network.Send(from, MessageChannel.Sync, answer.ToArray());
                break;
            case SyncResponse response:
                if (!_sync.IsAwaiting(from)) return; // late (we gave up on it) or unsolicited: ignore, it changes nothing
                ApplySyncResponse(from, response);
                break;
        }
    }

    private void ApplySyncResponse(PeerId from, SyncResponse response)
    {
        bool bad = response.Blocks.Count == 0; // nothing to give after all: ask someone else
        foreach (var synced in response.Blocks)
        {
            ulong expected = _validator.Executor.Height.Value + 1;
            if (synced.Block.Height.Value < expected) continue; // consensus decided it here meanwhile
            if (synced.Block.Height.Value > expected)
            {
                Refuse(from, $"sync response skips from height {expected} to {synced.Block.Height}");
                bad = true;
                break;
            }
            _syncing = true;
            bool ok;
            string reason;
            try
            {
                ok = TryApplyDecided(synced.Block, synced.Commit, out reason);
            }
            finally
            {
                _syncing = false;
            }
            if (!ok)
            {
                Refuse(from, $"synced block {expected}: {reason}");
                bad = true;
                break;
            }
            DrainLocal();
        }
        _sync.Completed(from, bad, NowMs);
        Metrics.SetSyncTarget(Math.Max(_sync.TargetHeight, _validator.Executor.Height.Value));
        RequestBlocksIfBehind(NowMs); // the next batch at once
    }

    /// <summary>
    /// Verifies a decided block completely (its commit under the validators of its height, its body against its header,
    /// and re-execution, inference included) and hands it to consensus as a decision, which commits it and
    /// moves to the next height. Nothing is stored when any check fails.
    /// </summary>
    private bool TryApplyDecided(Block block, Commit commit, out string reason)
    {
        var engine = _validator.Consensus.Engine;
        var chainId = _options.Genesis.ChainId;
        if (block.Height != engine.Height)
        {
            reason = $"block is for height {block.Height}, this node is at {engine.Height}";
            return false;
        }
        if (!commit.Verify(chainId, engine.Validators.Set, block.Height, block.Hash, out var commitReason))
        {
            reason = $"commit does not finalize block {block.Hash}: {commitReason}";
            return false;
        }
        if (!block.ValidateBasic(chainId, out var basic))
        {
            reason = $"block body does not match its header: {basic}";
            return false;
        }
        // Serialised with the verifier like a commit; a block it just verified is not executed again (its result is reused).
        _verifier.Settle(block.Height);
        var verdict = _validator.Executor.VerifyProposal(block);
        if (!verdict.Accepted)
        {
            reason = $"re-execution refuses the block: {verdict.Failure}";
            return false;
        }
        Feed(new DecisionReceived(block, commit), from: null);
        if (engine.Height == block.Height)
        {
            reason = "consensus did not accept the decision";
            return false;
        }
        reason = "";
        return true;
    }
}
