using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>
/// The Tendermint algorithm (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure state machine for one
/// validator. Inputs are method calls (<see cref="Start"/>, <see cref="Handle"/>) carrying the host's clock
/// reading; outputs are the returned <see cref="ConsensusAction"/> lists. No I/O, threads, clocks or
/// randomness: the same inputs always give the same outputs, which is what WAL replay and the simulator
/// rely on. Rule numbers in comments are the paper's line numbers.
/// </summary>
public sealed class ConsensusEngine
{
    private enum Validity { Pending, Valid, Invalid }

    private sealed class RoundState
    {
        public ProposalReceived? Proposal;
        // Whether the proposal's block time was no later than this validator's clock plus the allowed drift when the
        // proposal arrived (judged once, at arrival, from the host's clock reading that the WAL records).
        public bool ProposalTimely;
        public readonly VoteSet Prevotes = new();
        public readonly VoteSet Precommits = new();
        public bool PrevoteTimeoutScheduled, PrecommitTimeoutScheduled, PrevoteQuorumHandled;
    }

    private readonly ConsensusConfig _config;
    private readonly IConsensusSigner? _signer;
    // The validators of the current height (set on entering it), its proposer rotation, and this node's address
    // when it is one of them: a key outside the set observes and signs nothing.
    private ActiveValidators _active = null!;
    private ValidatorSet _validators = null!;
    private ProposerSelection _proposers = null!;
    private Address? _self;

    private Height _height;
    private Round _round;
    private Step _step;
    private Block? _lockedValue, _validValue;
    private Round? _lockedRound, _validRound;
    private bool _awaitingBuild, _started;
    private readonly SortedDictionary<uint, RoundState> _rounds = new();
    private readonly Dictionary<Hash32, Block> _blocks = new();
    private readonly Dictionary<Hash32, Validity> _validity = new();

    private List<ConsensusAction> _out = new();
    private ulong _now;

    /// <param name="signer">Signs own messages; null (or a key outside the set) makes a non-voting observer.</param>
    public ConsensusEngine(ConsensusConfig config, IConsensusSigner? signer, Height height)
    {
        if (height.Value == 0) throw new ArgumentOutOfRangeException(nameof(height), "heights start at 1");
        _config = config;
        _signer = signer;
        EnterHeight(height);
    }

    /// <summary>Moves to <paramref name="height"/> and its validator set (the proposer rotation is kept while the set
    /// and its first height are unchanged, since its cost grows with the heights it has run).</summary>
    private void EnterHeight(Height height)
    {
        var active = _config.ValidatorsAt(height);
        if (_proposers is null || active.Hash != _active.Hash || active.ActiveSince != _active.ActiveSince)
            _proposers = new ProposerSelection(active);
        _active = active;
        _validators = active.Set;
        _self = _signer is not null && _validators.TryGet(_signer.Address, out _, out _) ? _signer.Address : null;
        _height = height;
    }

    public Height Height => _height;
    public Round Round => _round;
    public Step Step => _step;
    public Hash32? LockedBlock => _lockedValue?.Hash;
    public Round? LockedRound => _lockedRound;
    public Hash32? ValidBlock => _validValue?.Hash;
    public Round? ValidRound => _validRound;
    public ConsensusConfig Config => _config;
    /// <summary>The validators of the current height.</summary>
    public ActiveValidators Validators => _active;
    /// <summary>True when this engine's signer is a validator of the current height (it votes and proposes).</summary>
    public bool IsValidator => _self is not null;

    public Address Proposer(Height height, Round round) => height == _height
        ? _proposers.Proposer(height, round)
        : new ProposerSelection(_config.ValidatorsAt(height)).Proposer(height, round);

    /// <summary>A one-line summary of the rounds this height has seen (for diagnostics).</summary>
    public string DescribeRounds(int last = int.MaxValue) => string.Join(" ", _rounds.TakeLast(last).Select(kv =>
        $"r{kv.Key}[{(kv.Value.Proposal is null ? "" : "P")} pv:{kv.Value.Prevotes.TotalPower}/nil{kv.Value.Prevotes.NilPower} pc:{kv.Value.Precommits.TotalPower}/nil{kv.Value.Precommits.NilPower}]"));

    /// <summary>Enters round 0 of the starting height. Call once, before <see cref="Handle"/>.</summary>
    public IReadOnlyList<ConsensusAction> Start(ulong nowMs)
    {
        if (_started) throw new InvalidOperationException("engine already started");
        _started = true;
        Begin(nowMs);
        StartRound(new Round(0));
        Reevaluate();
        return End();
    }

    public IReadOnlyList<ConsensusAction> Handle(ConsensusEvent ev, ulong nowMs)
    {
        if (!_started) throw new InvalidOperationException("call Start first");
        Begin(nowMs);
        switch (ev)
        {
            case ProposalReceived p: OnProposal(p); break;
            case VoteReceived v: OnVote(v); break;
            case DecisionReceived d: OnDecision(d); break;
            case TimeoutElapsed t: OnTimeout(t); break;
            case ProposalVerified pv: OnVerified(pv); break;
            case BlockBuilt b: OnBlockBuilt(b); break;
            case StatusReceived: break; // for the host's catch-up logic only
            default: throw new ArgumentException($"unknown event {ev.GetType().Name}", nameof(ev));
        }
        Reevaluate();
        return End();
    }

    /// <summary>
    /// What this validator re-sends periodically so that messages lost before the network stabilised are
    /// recovered: the current round's proposal (with the prevotes of its polRound), its own votes, and the
    /// votes of the previous round, which let a validator still in that round reach its timeouts and follow.
    /// </summary>
    public IReadOnlyList<ConsensusEvent> GossipMessages()
    {
        var list = new List<ConsensusEvent> { new StatusReceived(_height, _round) };
        if (_round.Value > 0 && _rounds.TryGetValue(_round.Value - 1, out var previous))
        {
            list.AddRange(previous.Prevotes.AllVotes.Select(v => new VoteReceived(v)));
            list.AddRange(previous.Precommits.AllVotes.Select(v => new VoteReceived(v)));
        }
        if (!_rounds.TryGetValue(_round.Value, out var rs)) return list;
        if (rs.Proposal is { } p)
        {
            list.Add(p);
            if (p.Proposal.Proposal.PolRound is { } vr && _rounds.TryGetValue(vr.Value, out var polState))
                list.AddRange(polState.Prevotes.VotesFor(p.Block.Hash).ToList().Select(v => new VoteReceived(v)));
        }
        if (_self is { } me)
        {
            if (rs.Prevotes.TryGet(me, out var pv)) list.Add(new VoteReceived(pv));
            if (rs.Precommits.TryGet(me, out var pc)) list.Add(new VoteReceived(pc));
        }
        return list;
    }

    private void Begin(ulong nowMs)
    {
        _out = new List<ConsensusAction>();
        _now = nowMs;
    }

    private List<ConsensusAction> End()
    {
        var result = _out;
        _out = new List<ConsensusAction>();
        return result;
    }

    private RoundState R(Round r)
    {
        if (!_rounds.TryGetValue(r.Value, out var rs)) _rounds[r.Value] = rs = new RoundState();
        return rs;
    }

    private ulong PowerOf(Address a) => _validators.TryGet(a, out var v, out _) ? v.Power : 0;

    private void Reject(ConsensusEvent ev, string reason, bool senderAtFault = false) => _out.Add(new MessageRejected(ev, reason, senderAtFault));

    // ---- inputs ----

    private void OnProposal(ProposalReceived ev)
    {
        var p = ev.Proposal.Proposal;
        if (p.Height != _height) { Reject(ev, $"proposal for height {p.Height}, this validator is at height {_height}"); return; }
        if (p.Round.Value > (ulong)_round.Value + _config.MaxRoundsAhead) { Reject(ev, $"proposal round {p.Round} is too far ahead of {_round}"); return; }
        var expected = _proposers.Proposer(p.Height, p.Round);
        if (p.Proposer != expected) { Reject(ev, $"{p.Proposer} is not the proposer of ({p.Height},{p.Round}); {expected} is", senderAtFault: true); return; }
        if (ev.Block.Hash != p.BlockHash) { Reject(ev, "block does not match the proposal's block hash", senderAtFault: true); return; }
        // The hash covers only the header: a body that does not match it must be refused here, or anyone could
        // alter an honest proposer's transactions or last commit in transit and make it look invalid.
        if (!ev.Block.ValidateBasic(_config.ChainId, out var basic)) { Reject(ev, $"block body does not match its header: {basic}", senderAtFault: true); return; }
        if (_rounds.TryGetValue(p.Round.Value, out var held) && held.Proposal is { } existing)
        {
            if (!existing.Proposal.Equals(ev.Proposal))
                Reject(ev, $"a different proposal for ({p.Height},{p.Round}) is already held");
            return; // duplicates are normal with gossip
        }
        _validators.TryGet(p.Proposer, out var v, out _);
        if (!_config.SignatureCache.VerifyProposal(_config.ChainId, ev.Proposal, v.PublicKey))
        {
            Reject(ev, $"proposal signature does not verify for chain '{_config.ChainId}' (bad signature or another chain's proposal)", senderAtFault: true);
            return;
        }
        // Round state only for signed messages, so unsigned ones cannot make this validator allocate rounds.
        var round = R(p.Round);
        round.Proposal = ev;
        round.ProposalTimely = IsTimely(ev.Block);
        _blocks.TryAdd(ev.Block.Hash, ev.Block);
        RequestVerification(ev.Block);
    }

    private void OnVote(VoteReceived ev)
    {
        var vote = ev.Vote.Vote;
        if (vote.Height != _height)
        {
            Reject(ev, vote.Height < _height
                ? $"vote for old height {vote.Height}, this validator is at height {_height}"
                : $"vote for future height {vote.Height}, this validator is at height {_height}");
            return;
        }
        if (!_validators.TryGet(vote.Validator, out var validator, out _)) { Reject(ev, $"{vote.Validator} is not a validator", senderAtFault: true); return; }
        if (vote.Round.Value > (ulong)_round.Value + _config.MaxRoundsAhead) { Reject(ev, $"vote round {vote.Round} is too far ahead of {_round}"); return; }
        _rounds.TryGetValue(vote.Round.Value, out var held);
        var set = held is null ? null : vote.Type == VoteType.Prevote ? held.Prevotes : held.Precommits;
        if (set is not null && set.TryGet(vote.Validator, out var existing))
        {
            if (existing.Equals(ev.Vote)) return; // exact duplicate (gossip): no signature check needed
            // A conflicting vote is kept only for nil or a block proposed at this height, which bounds what an
            // equivocator can make us store; it is counted for that block and is evidence either way.
            if (!_config.SignatureCache.VerifyVote(_config.ChainId, ev.Vote, validator.PublicKey))
            {
                Reject(ev, $"vote signature does not verify for chain '{_config.ChainId}'", senderAtFault: true);
                return;
            }
            if (set.Has(ev.Vote)) return; // same block again (other timestamp): nothing new
            if (existing.Vote.BlockHash != vote.BlockHash)
                _out.Add(new RecordEvidence(new DuplicateVoteEvidence(existing, ev.Vote)));
            if (vote.BlockHash is not { } h || _blocks.ContainsKey(h)) set.Add(ev.Vote, validator.Power);
            return;
        }
        if (!_config.SignatureCache.VerifyVote(_config.ChainId, ev.Vote, validator.PublicKey))
        {
            Reject(ev, $"vote signature does not verify for chain '{_config.ChainId}' (bad signature or another chain's vote)", senderAtFault: true);
            return;
        }
        // Round state only for signed votes of members, so unsigned ones cannot make this validator allocate rounds.
        var rs = R(vote.Round);
        (vote.Type == VoteType.Prevote ? rs.Prevotes : rs.Precommits).Add(ev.Vote, validator.Power);
    }

    private void OnDecision(DecisionReceived ev)
    {
        if (ev.Block.Height != _height) { Reject(ev, $"decision for height {ev.Block.Height}, this validator is at height {_height}"); return; }
        if (!ev.Block.ValidateBasic(_config.ChainId, out var basic)) { Reject(ev, $"decided block body does not match its header: {basic}", senderAtFault: true); return; }
        if (!_config.SignatureCache.VerifyCommit(ev.Commit, _config.ChainId, _validators, _height, ev.Block.Hash, out var reason)) { Reject(ev, $"decision's commit: {reason}", senderAtFault: true); return; }
        // A valid commit carries precommits from more than 2/3, so at least one correct validator re-executed it.
        Decide(ev.Block, ev.Commit);
    }

    private void OnTimeout(TimeoutElapsed t)
    {
        if (t.Height != _height || t.Round != _round) return; // stale
        switch (t.Step)
        {
            case Step.Propose when _step == Step.Propose: // line 57
                _awaitingBuild = false;
                CastVote(VoteType.Prevote, null);
                _step = Step.Prevote;
                break;
            case Step.Prevote when _step == Step.Prevote: // line 61
                CastVote(VoteType.Precommit, null);
                _step = Step.Precommit;
                break;
            case Step.Precommit: // line 65
                StartRound(_round.Next);
                break;
        }
    }

    private void OnVerified(ProposalVerified pv)
    {
        if (pv.Height != _height || !_validity.TryGetValue(pv.BlockHash, out var current) || current != Validity.Pending) return;
        _validity[pv.BlockHash] = pv.Valid ? Validity.Valid : Validity.Invalid;
        if (pv.Valid) return;
        // Every proposer that signed this block proposed something that fails re-execution.
        foreach (var rs in _rounds.Values)
            if (rs.Proposal is { } p && p.Block.Hash == pv.BlockHash)
                _out.Add(new RecordEvidence(new InvalidProposalEvidence(p.Proposal, p.Block)));
    }

    private void OnBlockBuilt(BlockBuilt b)
    {
        if (!_awaitingBuild || b.Height != _height || b.Round != _round || _step != Step.Propose) return;
        _awaitingBuild = false;
        if (b.Block.Height != _height) return;
        Propose(b.Block, null);
    }

    // ---- steps ----

    private void StartRound(Round r) // line 11
    {
        _round = r;
        _step = Step.Propose;
        _awaitingBuild = false;
        R(r);
        if (_self is { } me && _proposers.Proposer(_height, r) == me)
        {
            if (_validValue is { } vv) Propose(vv, _validRound); // line 15: re-propose the valid value
            else
            {
                _awaitingBuild = true;
                _out.Add(new BuildBlockRequest(_height, r));
            }
        }
        // Also armed for the proposer: it bounds how long a slow BuildBlock may stall the round.
        _out.Add(new ScheduleTimeout(_height, r, Step.Propose, _config.Timeouts.DurationMs(Step.Propose, r)));
    }

    // The block-time bound of line 22 (see TryPrevote), judged with the clock reading of the current input.
    private bool IsTimely(Block block) => block.Header.TimeMs <= _now + _config.MaxClockDriftMs;

    private void Propose(Block block, Round? polRound)
    {
        var rs = R(_round);
        if (rs.Proposal is not null) return; // already proposed (e.g. restored from the WAL)
        var proposal = new Proposal(_height, _round, polRound, block.Hash, _now, _self!.Value);
        var signed = _signer!.SignProposal(_config.ChainId, proposal, out var reason);
        if (signed is null) { _out.Add(new SigningRefused(_height, _round, Step.Propose, reason)); return; }
        var ev = new ProposalReceived(signed, block);
        rs.Proposal = ev;
        rs.ProposalTimely = IsTimely(block);
        _blocks.TryAdd(block.Hash, block);
        _validity[block.Hash] = Validity.Valid; // built or already validated by this node
        _out.Add(new BroadcastProposal(signed, block));
    }

    private void CastVote(VoteType type, Hash32? hash)
    {
        if (_self is not { } me) return;
        var rs = R(_round);
        var set = type == VoteType.Prevote ? rs.Prevotes : rs.Precommits;
        if (set.TryGet(me, out var existing))
        {
            // Restored from the WAL: never sign a second vote for this round and type.
            if (existing.Vote.BlockHash == hash) _out.Add(new BroadcastVote(existing));
            return;
        }
        // A vote for a block is stamped after the block's time, so the next block's BFT time (the median of these
        // precommits' timestamps) is after this one's even when this validator's clock lags.
        ulong stamp = hash is { } h && _blocks.TryGetValue(h, out var voted) && voted.Header.TimeMs >= _now
            ? (voted.Header.TimeMs == ulong.MaxValue ? ulong.MaxValue : voted.Header.TimeMs + 1)
            : _now;
        var vote = new Vote(type, _height, _round, hash, stamp, me);
        var signed = _signer!.SignVote(_config.ChainId, vote, out var reason);
        if (signed is null)
        {
            _out.Add(new SigningRefused(_height, _round, type == VoteType.Prevote ? Step.Prevote : Step.Precommit, reason));
            return;
        }
        set.Add(signed, PowerOf(me));
        _out.Add(new BroadcastVote(signed));
    }

    private void RequestVerification(Block block)
    {
        if (_validity.ContainsKey(block.Hash)) return;
        _validity[block.Hash] = Validity.Pending;
        _out.Add(new VerifyProposalRequest(_height, block));
    }

    private Validity? ValidityOf(Hash32 hash) => _validity.TryGetValue(hash, out var v) ? v : null;

    private void Decide(Block block, Commit commit) // line 49
    {
        _out.Add(new CommitBlock(block, commit));
        // The schedule knows H+1 once H−1 is committed, which it was before this height started.
        EnterHeight(_height.Next);
        _rounds.Clear();
        _blocks.Clear();
        _validity.Clear();
        _lockedValue = _validValue = null;
        _lockedRound = _validRound = null;
        StartRound(new Round(0));
    }

    private void Reevaluate()
    {
        bool progress;
        do
        {
            progress = TrySkipRound() || TryDecide() || TryPrevote() || TryPrevoteQuorum() || TryPrevoteNil();
            ArmTimeouts();
        } while (progress);
    }

    // Line 55: f+1 power already in a higher round means at least one correct validator is there.
    private bool TrySkipRound()
    {
        Round? target = null;
        foreach (var (r, rs) in _rounds)
        {
            if (r <= _round.Value) continue;
            var senders = new HashSet<Address>();
            foreach (var v in rs.Prevotes.Votes) senders.Add(v.Vote.Validator);
            foreach (var v in rs.Precommits.Votes) senders.Add(v.Vote.Validator);
            if (rs.Proposal is { } p) senders.Add(p.Proposal.Proposal.Proposer);
            ulong power = 0;
            foreach (var a in senders) power += PowerOf(a);
            if (_validators.ExceedsOneThird(power)) target = new Round(r);
        }
        if (target is not { } t) return false;
        StartRound(t);
        return true;
    }

    // Line 49: 2/3+ precommits for a block in any round, and the block is known and valid.
    private bool TryDecide()
    {
        foreach (var (r, rs) in _rounds)
        {
            if (rs.Precommits.SupermajorityBlock(_validators) is not { } hash) continue;
            if (!_blocks.TryGetValue(hash, out var block)) continue; // wait for the proposal (gossip or catch-up)
            switch (ValidityOf(hash))
            {
                case null: RequestVerification(block); continue;
                case Validity.Valid:
                    var sigs = rs.Precommits.VotesFor(hash).Select(v => new CommitSignature(v.Vote.Validator, v.Vote.TimestampMs, v.Signature));
                    Decide(block, new Commit(_height, new Round(r), hash, sigs));
                    return true;
                default: continue;
            }
        }
        return false;
    }

    // Lines 22 and 28: the first prevote of the round, on the round proposer's proposal.
    private bool TryPrevote()
    {
        if (_step != Step.Propose || !_rounds.TryGetValue(_round.Value, out var rs) || rs.Proposal is not { } p) return false;
        var block = p.Block;
        var validity = ValidityOf(block.Hash);
        if (validity is null or Validity.Pending) return false; // wait for re-execution (timeoutPropose bounds it)
        bool valid = validity == Validity.Valid;
        bool vote;
        if (p.Proposal.Proposal.PolRound is not { } vr)
        {
            // Line 22, with a time bound: a fresh proposal whose block time is ahead of this validator's clock by more
            // than the allowed drift gets nil, so one validator with a fast clock cannot move block time ahead (more
            // than 1/3 of the power would have to agree). A re-proposal with a proof of lock is not judged again.
            vote = valid && rs.ProposalTimely && (_lockedRound is null || _lockedValue!.Hash == block.Hash);
        }
        else
        {
            if (!_rounds.TryGetValue(vr.Value, out var pol) || !_validators.IsSupermajority(pol.Prevotes.PowerFor(block.Hash)))
                return false; // line 28 needs the proof of lock
            vote = valid && (_lockedRound is null || _lockedRound.Value <= vr || _lockedValue!.Hash == block.Hash);
        }
        CastVote(VoteType.Prevote, vote ? block.Hash : null);
        _step = Step.Prevote;
        return true;
    }

    // Line 36: 2/3+ prevotes for the valid proposal of this round: lock (if still prevoting) and record it as valid.
    private bool TryPrevoteQuorum()
    {
        if (_step < Step.Prevote || !_rounds.TryGetValue(_round.Value, out var rs) || rs.PrevoteQuorumHandled || rs.Proposal is not { } p) return false;
        var block = p.Block;
        if (ValidityOf(block.Hash) != Validity.Valid || !_validators.IsSupermajority(rs.Prevotes.PowerFor(block.Hash))) return false;
        rs.PrevoteQuorumHandled = true;
        if (_step == Step.Prevote)
        {
            _lockedValue = block;
            _lockedRound = _round;
            CastVote(VoteType.Precommit, block.Hash);
            _step = Step.Precommit;
        }
        _validValue = block;
        _validRound = _round;
        return true;
    }

    // Line 44: 2/3+ prevotes for nil.
    private bool TryPrevoteNil()
    {
        if (_step != Step.Prevote || !_rounds.TryGetValue(_round.Value, out var rs) || !_validators.IsSupermajority(rs.Prevotes.NilPower)) return false;
        CastVote(VoteType.Precommit, null);
        _step = Step.Precommit;
        return true;
    }

    // Lines 34 and 47: 2/3+ of any votes start the step's timeout, once per round.
    private void ArmTimeouts()
    {
        if (!_rounds.TryGetValue(_round.Value, out var rs)) return;
        if (_step == Step.Prevote && !rs.PrevoteTimeoutScheduled && _validators.IsSupermajority(rs.Prevotes.TotalPower))
        {
            rs.PrevoteTimeoutScheduled = true;
            _out.Add(new ScheduleTimeout(_height, _round, Step.Prevote, _config.Timeouts.DurationMs(Step.Prevote, _round)));
        }
        if (!rs.PrecommitTimeoutScheduled && _validators.IsSupermajority(rs.Precommits.TotalPower))
        {
            rs.PrecommitTimeoutScheduled = true;
            _out.Add(new ScheduleTimeout(_height, _round, Step.Precommit, _config.Timeouts.DurationMs(Step.Precommit, _round)));
        }
    }
}
