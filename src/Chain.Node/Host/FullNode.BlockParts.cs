using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>
/// Hash-only block propagation: proposals travel as <see cref="CompactProposal"/>s (header, last commit, evidence,
/// transaction hashes); a receiver rebuilds the block from its mempool, fetches the bodies it lacks with
/// <see cref="PartsRequest"/>/<see cref="PartsResponse"/> (each body checked against the asked hash, the block against
/// the header's transactions root), and feeds the engine the full <see cref="ProposalReceived"/> as before, so the
/// engine and its WAL still see whole blocks. All on the loop.
/// </summary>
public sealed partial class FullNode
{
    /// <summary>Blocks of the current height being rebuilt at once (distinct proposals); more are dropped until re-gossip.</summary>
    private const int MaxPendingProposals = 4;

    /// <summary>Full proposals kept to serve parts requests and re-proposals (own and rebuilt), newest last.</summary>
    private const int ServableBlocksKept = 8;

    private readonly Dictionary<Hash32, PendingProposal> _pendingProposals = [];
    private readonly Dictionary<Hash32, Block> _servableBlocks = [];
    private readonly Queue<Hash32> _servableOrder = new();

    /// <summary>A compact proposal whose bodies are being gathered.</summary>
    private sealed class PendingProposal(CompactProposal compact, PeerId from)
    {
        public CompactProposal Compact { get; } = compact;
        public SignedTransaction?[] Bodies { get; } = new SignedTransaction?[compact.TransactionHashes.Count];
        /// <summary>Every signed proposal naming this block (a later round may re-propose it), with its sender.</summary>
        public List<(SignedProposal Proposal, PeerId From)> Proposals { get; } = [(compact.Proposal, from)];
        public List<PeerId> Asked { get; } = [];
        public PeerId? Awaiting { get; set; }
        public long AskedAtMs { get; set; }
        public long CreatedAtMs { get; init; }
        public Round Round => Compact.Proposal.Proposal.Round;
        public int Missing => Bodies.Count(b => b is null);
    }

    /// <summary>The wire form of a consensus message: a proposal goes without its transaction bodies.</summary>
    private static byte[] EncodeForPeers(ConsensusEvent ev) =>
        ev is ProposalReceived p ? CompactProposal.Of(p).Encoded.ToArray() : ConsensusMessages.Encode(ev);

    private void RememberServable(Block block)
    {
        if (!_servableBlocks.TryAdd(block.Hash, block)) return;
        _servableOrder.Enqueue(block.Hash);
        while (_servableOrder.Count > ServableBlocksKept) _servableBlocks.Remove(_servableOrder.Dequeue());
    }

    private void OnBlockPartsMessage(PeerId from, byte[] payload)
    {
        if (!Canonical.TryDecode<BlockPartsMessage>(payload, out var message, out var error))
        {
            Refuse(from, $"undecodable block parts message: {error!.Message}");
            return;
        }
        switch (message)
        {
            case CompactProposal c: OnCompactProposal(c, from); break;
            case PartsRequest r: OnPartsRequest(r, from); break;
            case PartsResponse r: OnPartsResponse(r, from); break;
        }
    }

    private void OnCompactProposal(CompactProposal compact, PeerId from)
    {
        var proposal = compact.Proposal.Proposal;
        if (proposal.Height != compact.Height || proposal.BlockHash != compact.BlockHash)
        {
            Refuse(from, $"compact proposal names block {proposal.BlockHash} at {proposal.Height} but carries header {compact.BlockHash} at {compact.Height}");
            return;
        }
        ulong current = _validator.Consensus.Engine.Height.Value, height = compact.Height.Value;
        if (height < current) return; // decided here already
        if (height > current)
        {
            if (!_future.TryAdd(current, height, new FutureMessage(null, compact, from))) Metrics.FutureDropped();
            return;
        }
        if (_servableBlocks.TryGetValue(compact.BlockHash, out var known))
        {
            FeedProposal(new ProposalReceived(compact.Proposal, known), from); // re-gossip or a re-proposal of a block we have
            return;
        }
        if (_pendingProposals.TryGetValue(compact.BlockHash, out var pending))
        {
            if (!pending.Proposals.Any(p => p.Proposal.Signature == compact.Proposal.Signature) && IsSignedByItsProposer(compact, from))
                pending.Proposals.Add((compact.Proposal, from));
            return;
        }
        // Fetching costs requests and memory: only for a proposal its round's proposer signed, one block per round.
        if (!IsSignedByItsProposer(compact, from)) return;
        var round = proposal.Round;
        if (_pendingProposals.Values.Any(p => p.Round == round)) return; // another block for this round: the engine judges a full one
        if (_pendingProposals.Count >= MaxPendingProposals)
        {
            // Keep the rounds nearest: a far-ahead round's proposer cannot crowd out the current round's block.
            var farthest = _pendingProposals.Values.MaxBy(p => p.Round)!;
            if (farthest.Round <= round)
            {
                Metrics.FutureDropped(); // bounded like buffered messages: re-gossip brings it again
                return;
            }
            _pendingProposals.Remove(farthest.Compact.BlockHash);
        }
        long now = NowMs;
        pending = new PendingProposal(compact, from) { CreatedAtMs = now };
        FillFromMempool(pending);
        if (pending.Missing == 0)
        {
            Complete(pending);
            return;
        }
        _pendingProposals[compact.BlockHash] = pending;
        if (!GossipInFlight) Ask(pending, from, now); // else the next ticks look again first (RetryPendingProposals)
    }

    private bool GossipInFlight => Volatile.Read(ref _transactionBatchesInFlight) > 0;

    // The engine's proposer and signature checks (ConsensusEngine.OnProposal), made before any body is fetched; the
    // engine makes them again on the full proposal.
    private bool IsSignedByItsProposer(CompactProposal compact, PeerId from)
    {
        var engine = _validator.Consensus.Engine;
        var p = compact.Proposal.Proposal;
        var expected = engine.Proposer(p.Height, p.Round);
        if (p.Proposer != expected)
        {
            Refuse(from, $"compact proposal: {p.Proposer} is not the proposer of ({p.Height},{p.Round}); {expected} is");
            return false;
        }
        if (!engine.Validators.Set.TryGet(p.Proposer, out var validator, out _) || !compact.Proposal.Verify(_options.Genesis.ChainId, validator.PublicKey))
        {
            Refuse(from, $"compact proposal: signature does not verify for {p.Proposer}");
            return false;
        }
        return true;
    }

    private void FillFromMempool(PendingProposal pending)
    {
        var hashes = pending.Compact.TransactionHashes;
        for (int i = 0; i < hashes.Count; i++) pending.Bodies[i] ??= _validator.Mempool.Get(hashes[i]);
    }

    private void Ask(PendingProposal pending, PeerId peer, long now)
    {
        var hashes = pending.Compact.TransactionHashes;
        var missing = Enumerable.Range(0, hashes.Count).Where(i => pending.Bodies[i] is null).Select(i => hashes[i]).ToArray();
        pending.Asked.Add(peer);
        pending.Awaiting = peer;
        pending.AskedAtMs = now;
        Metrics.ProposalPartsRequested(missing.Length);
        _network.Send(peer, MessageChannel.Consensus, new PartsRequest(pending.Compact.Height, pending.Compact.BlockHash, missing).Encoded.ToArray());
    }

    // The next peer to ask: those that sent the proposal first, then any other; each once before any twice.
    private void AskNext(PendingProposal pending, long now)
    {
        var candidates = pending.Proposals.Select(p => p.From).Concat(_network.ConnectedPeers).Distinct().ToList();
        if (candidates.Count == 0) return;
        var next = candidates.FirstOrDefault(p => !pending.Asked.Contains(p), candidates[pending.Asked.Count % candidates.Count]);
        Ask(pending, next, now);
    }

    private void Complete(PendingProposal pending)
    {
        _pendingProposals.Remove(pending.Compact.BlockHash);
        var firstFrom = pending.Proposals[0].From;
        var rebuilt = pending.Compact.Rebuild(pending.Bodies!, _options.Genesis.ChainId, out var reason);
        if (rebuilt is null)
        {
            // Every body matched its listed hash, so the compact form itself does not make the header's block: its sender's fault.
            Refuse(firstFrom, $"compact proposal {pending.Compact.BlockHash}: {reason}");
            return;
        }
        Metrics.ProposalRebuilt();
        RememberServable(rebuilt.Block);
        FeedProposal(rebuilt, firstFrom);
        foreach (var (other, from) in pending.Proposals.Skip(1)) FeedProposal(new ProposalReceived(other, rebuilt.Block), from);
    }

    private void FeedProposal(ProposalReceived proposal, PeerId from)
    {
        _stages.ProposalHere();
        Feed(proposal, from);
    }

    private void OnPartsRequest(PartsRequest request, PeerId from)
    {
        _servableBlocks.TryGetValue(request.BlockHash, out var block);
        var inBlock = block?.Transactions.ToDictionary(t => t.Hash);
        var found = new List<SignedTransaction>(request.TransactionHashes.Count);
        long bytes = 0;
        foreach (var hash in request.TransactionHashes)
        {
            var tx = inBlock is not null && inBlock.TryGetValue(hash, out var t) ? t : _validator.Mempool.Get(hash);
            if (tx is null) continue;
            // The response's bound (always one body): the asker fetches the rest elsewhere. It keeps parts responses
            // within what a peer that does not know us accepts (NetworkLimits.UnknownPeerMaxPayloadBytes).
            if (found.Count > 0 && bytes + tx.Encoded.Length > _options.PartsResponseByteBudget) break;
            bytes += tx.Encoded.Length;
            found.Add(tx);
        }
        var answer = new PartsResponse(request.Height, request.BlockHash, found).Encoded;
        if (!_syncServeLimit.TrySpend(from, answer.Length, NowMs))
        {
            Metrics.SyncRequestThrottled(); // the same serving budget as block sync: unanswered, it asks someone else
            return;
        }
        _network.Send(from, MessageChannel.Consensus, answer.ToArray());
    }

    private void OnPartsResponse(PartsResponse response, PeerId from)
    {
        if (response.Height != _validator.Consensus.Engine.Height || !_pendingProposals.TryGetValue(response.BlockHash, out var pending) || pending.Awaiting != from)
            return; // late (decided, or we asked someone else since) or unsolicited: changes nothing
        var index = new Dictionary<Hash32, int>();
        var hashes = pending.Compact.TransactionHashes;
        for (int i = 0; i < hashes.Count; i++)
            if (pending.Bodies[i] is null) index[hashes[i]] = i;
        foreach (var tx in response.Transactions)
        {
            if (!index.Remove(tx.Hash, out _))
            {
                Refuse(from, $"parts response for block {response.BlockHash} carries transaction {tx.Hash}, not asked for");
                AskNext(pending, NowMs);
                return; // nothing of a bad answer is kept
            }
        }
        Metrics.ProposalPartsReceived(response.Transactions.Count);
        var bodies = response.Transactions.ToDictionary(t => t.Hash); // no duplicates: each removed one asked hash above
        for (int i = 0; i < hashes.Count; i++)
            if (pending.Bodies[i] is null && bodies.TryGetValue(hashes[i], out var body)) pending.Bodies[i] = body;
        FillFromMempool(pending); // gossip may have brought some meanwhile
        if (pending.Missing == 0) Complete(pending);
        else AskNext(pending, NowMs); // the peer had only some: the rest from another
    }

    /// <summary>
    /// On each tick: bodies gossip brought meanwhile; the first request once no received batch is waiting for admission
    /// (or <see cref="FullNodeOptions.GossipCatchUp"/> passed); a new peer for requests unanswered past <see cref="FullNodeOptions.PartsRequestTimeout"/>.
    /// </summary>
    private void RetryPendingProposals(long now)
    {
        foreach (var pending in _pendingProposals.Values.ToList())
        {
            FillFromMempool(pending);
            if (pending.Missing == 0) Complete(pending);
            else if (pending.Awaiting is null)
            {
                if (!GossipInFlight || now - pending.CreatedAtMs >= (long)_options.GossipCatchUp.TotalMilliseconds) AskNext(pending, now);
            }
            else if (now - pending.AskedAtMs >= (long)_options.PartsRequestTimeout.TotalMilliseconds) AskNext(pending, now);
        }
    }

    /// <summary>A new height: proposals of the old one no longer need bodies.</summary>
    private void ForgetPendingProposals() => _pendingProposals.Clear();
}

/// <summary>A consensus message held for a future height: an engine message or a compact proposal, with its sender.</summary>
internal readonly record struct FutureMessage(ConsensusEvent? Event, CompactProposal? Compact, PeerId From);
