using System.Security.Cryptography;
using System.Text;
using Chain.Core.Codec;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Consensus.Simulation;

/// <summary>
/// A deterministic simulation of N validators in one process (in the style of FoundationDB's simulator and
/// TigerBeetle's VOPR). One seeded PRNG drives a virtual clock and a priority queue of events; the network
/// drops, delays, duplicates and reorders messages and partitions the validators until the global
/// stabilisation time (GST), after which every message arrives within SyncDelayMs and crashed validators are
/// back. Invariants are checked as the run goes: agreement, validity, no honest double-sign, evidence only
/// against byzantine validators, garbage never accepted, and liveness (all honest validators reach the
/// target height within a bound after GST). The same seed and options replay the same run exactly.
/// </summary>
public sealed class Simulator
{
    private static readonly ChainId Chain = new("sim");
    [ThreadStatic] private static List<PrivateKey>? _keys;

    private sealed class Node
    {
        public required int Index;
        public required PrivateKey Key;
        public bool Byzantine, Up;
        public int Incarnation;
        public readonly SimFileSystem Fs = new();
        public readonly List<(Block Block, Commit Commit)> Store = new();
        public SimApplication App = null!;
        public ConsensusRunner? Runner;
        public ConsensusEngine? ByzantineEngine;
        public readonly Dictionary<(int Peer, ulong Height), ulong> CatchUpSent = new();
        public ConsensusEngine Engine => Runner?.Engine ?? ByzantineEngine!;
        public string Dir => $"/validator{Index}";
    }

    private abstract record Ev(int Node);
    private sealed record Deliver(int Node, int From, byte[] Bytes, bool Garbage) : Ev(Node);
    private sealed record Local(int Node, int Incarnation, ConsensusEvent Event) : Ev(Node);
    private sealed record Gossip(int Node, int Incarnation) : Ev(Node);
    private sealed record Crash(int Node) : Ev(Node);
    private sealed record Restart(int Node) : Ev(Node);
    private sealed record PartitionChange(bool[]? Side) : Ev(-1);
    private sealed record Stabilise() : Ev(-1);

    private readonly SimOptions _o;
    private readonly ulong _seed;
    private readonly SimRandom _rng;
    private readonly Node[] _nodes;
    private readonly ConsensusConfig _config;
    private readonly List<ValidatorSet> _sets; // every set the schedule uses (for the byzantine power bound)
    private long _signedOutsideSet;
    private readonly SignatureCache _cache = new();
    private readonly PriorityQueue<Ev, (ulong Time, ulong Seq)> _queue = new();
    private ulong _seq, _now, _gst, _deadline = ulong.MaxValue, _lastCommitTime;
    private bool _stable;
    private bool[]? _partition;
    private readonly List<string> _violations = new();
    private readonly Dictionary<ulong, (Hash32 Hash, int Round, IReadOnlyList<int> Signers)> _decided = new();
    private readonly Dictionary<(Address, ulong, uint, Step), (Hash32? Hash, Round? Pol)> _honestSigned = new();
    private long _messages, _events, _garbageRefused, _rejected, _signingRefusals;
    private int _crashes, _walTruncations, _evidence, _evidenceIncluded;
    private ulong _trace = 14695981039346656037UL;
    private bool _crashAtWriteDone;
    private readonly bool[] _half;
    // Blocks the byzantine validators have seen per height, so their conflicting votes name real blocks.
    private readonly Dictionary<ulong, List<Hash32>> _byzantineBlocks = new();

    public Simulator(SimOptions options, ulong seed)
    {
        _o = options;
        _seed = seed;
        _rng = new SimRandom(seed);
        if (options.Validators is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(options), "1..64 validators");
        var keys = Keys(options.Validators);
        IValidatorSchedule schedule;
        if (options.TurnoverEvery > 0)
        {
            var steps = TurnoverSteps(keys, options);
            _sets = steps.Select(s => s.Set).ToList();
            schedule = new SteppedValidatorSchedule(steps);
        }
        else
        {
            var powers = Enumerable.Range(0, options.Validators).Select(_ => options.WeightedPower ? _rng.Range(1, 4) : 1UL).ToArray();
            var set = new ValidatorSet(keys.Select((k, i) => new Validator(k.PublicKey, powers[i])));
            _sets = [set];
            schedule = new FixedValidatorSchedule(set);
        }
        _config = new ConsensusConfig(Chain, schedule, options.Timeouts) { SignatureCache = _cache };
        _nodes = keys.Select((k, i) => new Node { Index = i, Key = k }).ToArray();
        foreach (var n in _nodes)
        {
            n.App = new SimApplication(Chain, schedule, n.Store, _cache);
            // Honest proposers put what their runner pooled into their blocks, as the real node does.
            n.App.PendingEvidence = () => n.Runner is { } r ? r.Evidence.Pending(ProtocolLimits.MaxEvidencePerBlock).Select(e => e.Encoded).ToList() : [];
        }
        // Each equivocator always sends one version to the same half of the network: the strongest split.
        _half = Enumerable.Range(0, options.Validators).Select(_ => _rng.Chance(0.5)).ToArray();
        if (options.ForceByzantine is { } forced)
        {
            for (int i = 0; i < Math.Min(forced, options.Validators); i++) _nodes[i].Byzantine = true;
        }
        else if ((options.Faults & (Faults.Equivocate | Faults.BadInference | Faults.Garbage)) != 0)
        {
            // Byzantine validators hold less than a third of the power of every set, the bound Tendermint tolerates.
            var byzPower = new ulong[_sets.Count];
            foreach (int i in Shuffled(options.Validators))
            {
                if (Enumerable.Range(0, _sets.Count).Any(s => (UInt128)(byzPower[s] + PowerIn(_sets[s], i)) * 3 >= _sets[s].TotalPower)) continue;
                if (!_rng.Chance(0.8)) continue;
                _nodes[i].Byzantine = true;
                for (int s = 0; s < _sets.Count; s++) byzPower[s] += PowerIn(_sets[s], i);
            }
        }
    }

    private ulong PowerIn(ValidatorSet set, int node) => set.TryGet(_nodes[node].Key.Address, out var v, out _) ? v.Power : 0;

    // The sliding window of SimOptions.TurnoverEvery: N/2 + 1 sets, from nodes 0..N/2−1 to N/2..N−1, powers 1..4 that
    // change with the step (all 1 without WeightedPower). No randomness: the schedule is the same for every seed.
    private static List<(Height From, ValidatorSet Set)> TurnoverSteps(List<PrivateKey> keys, SimOptions o)
    {
        if (keys.Count < 2 || keys.Count % 2 != 0) throw new ArgumentOutOfRangeException(nameof(o), "turnover needs an even number of validators");
        int half = keys.Count / 2;
        return Enumerable.Range(0, half + 1).Select(step => (
            new Height(1 + (ulong)(step * o.TurnoverEvery)),
            new ValidatorSet(Enumerable.Range(step, half).Select(i => new Validator(keys[i].PublicKey, o.WeightedPower ? 1 + (ulong)((i * 7 + step * 3) % 4) : 1UL)))))
            .ToList();
    }

    private static List<PrivateKey> Keys(int n)
    {
        _keys ??= new List<PrivateKey>();
        while (_keys.Count < n)
            _keys.Add(PrivateKey.FromSeed(SHA256.HashData(Encoding.ASCII.GetBytes($"sim-validator-{_keys.Count}"))));
        return _keys.Take(n).ToList();
    }

    private int[] Shuffled(int n)
    {
        var a = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--) { int j = _rng.Below(i + 1); (a[i], a[j]) = (a[j], a[i]); }
        return a;
    }

    private bool On(Faults f) => (_o.Faults & f) != 0;
    private bool Honest(int i) => !_nodes[i].Byzantine;
    private void Push(ulong at, Ev ev) => _queue.Enqueue(ev, (at, _seq++));
    private void Violation(string what)
    {
        if (_violations.Count < 20) _violations.Add($"t={_now}ms: {what}");
    }

    public SimResult Run()
    {
        bool anyFault = _o.Faults != Faults.None;
        _gst = anyFault ? _rng.Range(_o.MinGstMs, _o.MaxGstMs) : 0;
        foreach (var n in _nodes)
        {
            if (_o.CrashAtWrite is { } c && c.Node == n.Index)
                n.Fs.WriteHook = count => { if (!_crashAtWriteDone && count == c.Write) { _crashAtWriteDone = true; throw new SimulatedCrashException(); } };
            StartNode(n);
        }
        if (On(Faults.Partition))
        {
            for (int k = 0, count = 1 + _rng.Below(3); k < count; k++)
            {
                ulong start = _rng.Below(_gst), end = Math.Min(_gst, start + _rng.Range(1000, 10_000));
                var side = Enumerable.Range(0, _nodes.Length).Select(_ => _rng.Chance(0.5)).ToArray();
                Push(start, new PartitionChange(side));
                Push(end, new PartitionChange(null));
            }
        }
        if (On(Faults.Crash))
        {
            for (int k = 0, count = 1 + _rng.Below(4); k < count; k++)
            {
                int who = _rng.Below(_nodes.Length);
                if (!Honest(who)) continue;
                ulong at = _rng.Below(_gst);
                Push(at, new Crash(who));
                Push(Math.Min(_gst, at + _rng.Range(100, 8000)), new Restart(who));
            }
        }
        Push(_gst, new Stabilise());

        while (_queue.TryDequeue(out var ev, out var prio))
        {
            _now = prio.Time;
            _events++;
            _trace = (_trace ^ _now ^ ((ulong)ev.Node << 48) ^ (ulong)ev.GetType().Name.Length) * 1099511628211UL;
            Dispatch(ev);
            if (_violations.Count > 0 && _violations.Any(v => !v.Contains("liveness", StringComparison.Ordinal))) break;
            if (_stable && Done()) break;
            if (_now > _deadline)
            {
                Violation($"liveness: honest validators at heights [{string.Join(",", _nodes.Where(n => !n.Byzantine).Select(n => n.Store.Count))}] " +
                          $"of {_o.Heights} at the deadline {_deadline}ms (GST {_gst}ms); {DescribeNodes()}");
                break;
            }
            if (_events > _o.MaxEvents) { Violation($"liveness: event budget {_o.MaxEvents} exhausted"); break; }
        }
        if (!Done() && _violations.Count == 0) Violation("liveness: event queue ran dry before the target height");

        var rounds = Enumerable.Range(1, _o.Heights).Where(h => _decided.ContainsKey((ulong)h)).Select(h => _decided[(ulong)h].Round + 1).ToList();
        var signers = Enumerable.Range(1, _o.Heights).Where(h => _decided.ContainsKey((ulong)h)).Select(h => _decided[(ulong)h].Signers).ToList();
        var members = Enumerable.Range(1, _o.Heights).Select(h => (IReadOnlyList<int>)MembersOf(new Height((ulong)h))).ToList();
        return new SimResult
        {
            Seed = _seed,
            Violations = _violations,
            HeightsCommitted = _nodes.Where(n => !n.Byzantine).Min(n => n.Store.Count),
            RoundsPerHeight = rounds,
            Messages = _messages,
            VirtualTimeMs = _now,
            GstMs = _gst,
            Events = _events,
            TraceHash = _trace,
            Byzantine = _nodes.Count(n => n.Byzantine),
            Crashes = _crashes,
            WalTailsTruncated = _walTruncations,
            GarbageRefused = _garbageRefused,
            Rejected = _rejected,
            EvidenceRecorded = _evidence,
            EvidenceIncluded = _evidenceIncluded,
            SigningRefusals = _signingRefusals,
            CommitSigners = signers,
            SetMembers = members,
            SignedOutsideSet = _signedOutsideSet,
            TimeAfterGstMs = _lastCommitTime > _gst ? _lastCommitTime - _gst : 0,
        };
    }

    private string DescribeNodes() => string.Join(" | ", _nodes.Select(n =>
        $"v{n.Index}{(n.Byzantine ? "(byz)" : "")} " +
        (n.Up ? $"at ({n.Engine.Height},{n.Engine.Round},{n.Engine.Step}) locked {n.Engine.LockedRound?.ToString() ?? "-"} valid {n.Engine.ValidRound?.ToString() ?? "-"} {n.Engine.DescribeRounds(3)}" : "down")));

    private bool Done() => _nodes.All(n => n.Byzantine || n.Store.Count >= _o.Heights);

    private void Dispatch(Ev ev)
    {
        switch (ev)
        {
            case Deliver d: OnDeliver(d); break;
            case Local l:
                var n = _nodes[l.Node];
                if (n.Up && n.Incarnation == l.Incarnation) Feed(n, l.Event, garbage: false);
                break;
            case Gossip g: OnGossip(g); break;
            case Crash c: if (_nodes[c.Node].Up && !_stable) CrashNode(_nodes[c.Node]); break;
            case Restart r: if (!_nodes[r.Node].Up) StartNode(_nodes[r.Node]); break;
            case PartitionChange p: if (!_stable) _partition = p.Side; break;
            case Stabilise: OnStabilise(); break;
        }
    }

    private void OnStabilise()
    {
        _stable = true;
        _partition = null;
        foreach (var n in _nodes) if (!n.Up) StartNode(n);
        // Bound: finish the rounds already reached plus K more, then K rounds for each remaining height.
        int k = _nodes.Length + 2;
        uint r0 = _nodes.Where(n => n.Up).Max(n => n.Engine.Round.Value);
        int hmin = _nodes.Where(n => !n.Byzantine).Min(n => n.Store.Count);
        ulong first = 0, perHeight = 0;
        for (uint r = 0; r <= r0 + (uint)k; r++) first += _o.Timeouts.RoundMs(new Round(r));
        for (uint r = 0; r <= (uint)k; r++) perHeight += _o.Timeouts.RoundMs(new Round(r));
        ulong slack = _o.MaxAsyncDelayMs + 2000;
        _deadline = _now + slack + first + (ulong)Math.Max(0, _o.Heights - hmin) * (perHeight + 2000);
    }

    // ---- node lifecycle ----

    private void StartNode(Node n)
    {
        n.Up = true;
        n.Incarnation++;
        Push(_now + _rng.Range(1, _o.GossipIntervalMs), new Gossip(n.Index, n.Incarnation));
        var start = new Height((ulong)n.Store.Count + 1);
        if (n.Byzantine)
        {
            n.ByzantineEngine = new ConsensusEngine(_config, new UnguardedSigner(n.Key), start);
            if (On(Faults.BadInference)) n.App.Lie = () => _rng.Chance(0.7);
            Execute(n, n.ByzantineEngine.Start(_now));
            return;
        }
        IReadOnlyList<ConsensusAction> actions;
        try
        {
            n.Runner = ConsensusRunner.Open(_config, n.Key, n.Fs, n.Dir, start, _now, out actions);
        }
        catch (SimulatedCrashException)
        {
            CrashNode(n);
            Push(_now + _rng.Range(100, 2000), new Restart(n.Index));
            return;
        }
        catch (Exception e)
        {
            Violation($"validator {n.Index} failed to restart: {e.Message}");
            n.Up = false;
            return;
        }
        if (n.Runner.WalTruncatedBytes > 0) _walTruncations++;
        Execute(n, actions);
    }

    private void CrashNode(Node n)
    {
        n.Up = false;
        n.Incarnation++;
        n.Runner = null;
        n.Fs.Crash(_rng);
        _crashes++;
    }

    private void Feed(Node n, ConsensusEvent ev, bool garbage)
    {
        IReadOnlyList<ConsensusAction> actions;
        try
        {
            actions = n.Runner is { } r ? r.Handle(ev, _now) : n.ByzantineEngine!.Handle(ev, _now);
        }
        catch (SimulatedCrashException)
        {
            CrashNode(n);
            Push(_now + _rng.Range(100, 2000), new Restart(n.Index));
            return;
        }
        if (garbage && !n.Byzantine && !actions.Any(a => a is MessageRejected m && ReferenceEquals(m.Message, ev)))
            Violation($"validator {n.Index} accepted a mutated message of kind {ev.Kind}");
        Execute(n, actions);
    }

    // ---- network ----

    private void Send(int from, int to, byte[] bytes, bool garbage = false)
    {
        _messages++;
        if (!_stable)
        {
            if (On(Faults.Drop) && _rng.Chance(0.2)) return;
            if (_partition is { } p && p[from] != p[to]) return;
        }
        ulong max = _stable ? _o.SyncDelayMs : On(Faults.Delay) ? _o.MaxAsyncDelayMs : _o.SyncDelayMs;
        Push(_now + _rng.Range(1, max), new Deliver(to, from, bytes, garbage));
        if (On(Faults.Duplicate) && _rng.Chance(0.1)) Push(_now + _rng.Range(1, max), new Deliver(to, from, bytes, garbage));
    }

    private void Broadcast(int from, byte[] bytes)
    {
        for (int to = 0; to < _nodes.Length; to++) if (to != from) Send(from, to, bytes);
    }

    private void OnDeliver(Deliver d)
    {
        var n = _nodes[d.Node];
        if (!n.Up) return;
        if (!ConsensusMessages.TryDecode(d.Bytes, out var msg, out var reason))
        {
            if (!d.Garbage && Honest(d.From)) Violation($"validator {d.Node} could not decode an honest message from {d.From}: {reason}");
            _garbageRefused++;
            return;
        }
        ulong h = msg switch
        {
            ProposalReceived p => p.Proposal.Proposal.Height.Value,
            VoteReceived v => v.Vote.Vote.Height.Value,
            DecisionReceived dr => dr.Block.Height.Value,
            StatusReceived st => st.Height.Value,
            _ => 0,
        };
        ulong current = n.Engine.Height.Value;
        if (h < current)
        {
            // The sender lags: send it the decision for the height it is at (at most once a second).
            if (h >= 1 && (ulong)n.Store.Count >= h && !d.Garbage
                && (!n.CatchUpSent.TryGetValue((d.From, h), out var last) || _now >= last + 1000))
            {
                n.CatchUpSent[(d.From, h)] = _now;
                var (block, commit) = n.Store[(int)h - 1];
                Send(n.Index, d.From, ConsensusMessages.Encode(new DecisionReceived(block, commit)));
            }
            return;
        }
        if (n.Byzantine && msg is ProposalReceived seen) NoteByzantineBlock(h, seen.Block.Hash);
        if (h > current || msg is StatusReceived) return; // ahead of us: the sender will help us catch up when it hears from us
        Feed(n, msg!, d.Garbage);
    }

    private void OnGossip(Gossip g)
    {
        var n = _nodes[g.Node];
        if (!n.Up || n.Incarnation != g.Incarnation) return;
        foreach (var m in n.Engine.GossipMessages()) Broadcast(n.Index, ConsensusMessages.Encode(m));
        Push(_now + _o.GossipIntervalMs, new Gossip(n.Index, n.Incarnation));
    }

    // ---- actions ----

    private void Execute(Node n, IReadOnlyList<ConsensusAction> actions)
    {
        foreach (var a in actions)
        {
            switch (a)
            {
                case BroadcastProposal p: SendProposal(n, p); break;
                case BroadcastVote v: SendVote(n, v.Vote); break;
                case ScheduleTimeout t:
                    Push(_now + t.DurationMs, new Local(n.Index, n.Incarnation, new TimeoutElapsed(t.Height, t.Round, t.Step)));
                    break;
                case BuildBlockRequest b:
                    var block = n.App.BuildBlock(b.Height, b.Round, n.Key.Address, _now);
                    Push(_now + _rng.Range(0, 50), new Local(n.Index, n.Incarnation, new BlockBuilt(b.Height, b.Round, block)));
                    break;
                case VerifyProposalRequest vr:
                    bool ok = n.App.VerifyProposal(vr.Block, out _);
                    Push(_now + _rng.Range(1, 100), new Local(n.Index, n.Incarnation, new ProposalVerified(vr.Height, vr.Block.Hash, ok)));
                    break;
                case CommitBlock c: OnCommit(n, c); break;
                case RecordEvidence e: OnEvidence(n, e.Evidence); break;
                case MessageRejected: _rejected++; break;
                case SigningRefused: _signingRefusals++; break;
            }
        }
    }

    private int NodeOf(Address a) => Array.FindIndex(_nodes, x => x.Key.Address == a);

    private List<int> MembersOf(Height h) =>
        _config.ValidatorsAt(h).Set.Validators.Select(v => NodeOf(v.Address)).Order().ToList();

    private void CheckHonestSignature(Node n, Address who, Height h, Round r, Step s, Hash32? hash, Round? pol)
    {
        // Only a validator of the height signs for it (a node that left the set runs on as a full node).
        if (!_config.ValidatorsAt(h).Set.TryGet(who, out _, out _))
        {
            _signedOutsideSet++;
            Violation($"validator {n.Index} signed {s} at ({h},{r}) outside the set of height {h}");
        }
        if (n.Byzantine) return;
        var key = (who, h.Value, r.Value, s);
        if (_honestSigned.TryGetValue(key, out var prior))
        {
            if (prior.Hash != hash || prior.Pol != pol)
                Violation($"honest validator {n.Index} double-signed {s} at ({h},{r}): {prior.Hash?.ToString() ?? "nil"} and {hash?.ToString() ?? "nil"}");
        }
        else _honestSigned[key] = (hash, pol);
    }

    private void SendProposal(Node n, BroadcastProposal p)
    {
        var prop = p.Proposal.Proposal;
        CheckHonestSignature(n, prop.Proposer, prop.Height, prop.Round, Step.Propose, prop.BlockHash, prop.PolRound);
        var bytes = ConsensusMessages.Encode(new ProposalReceived(p.Proposal, p.Block));
        if (n.Byzantine && On(Faults.Equivocate) && _rng.Chance(0.4))
        {
            // A second block at the same height and round, each half of the network gets one.
            var other = n.App.BuildBlock(prop.Height, prop.Round, n.Key.Address, _now + 1 + _rng.Below(1000UL));
            var p2 = new Proposal(prop.Height, prop.Round, prop.PolRound, other.Hash, prop.TimestampMs, prop.Proposer).Sign(Chain, n.Key);
            var bytes2 = ConsensusMessages.Encode(new ProposalReceived(p2, other));
            NoteByzantineBlock(prop.Height.Value, prop.BlockHash);
            NoteByzantineBlock(prop.Height.Value, other.Hash);
            for (int to = 0; to < _nodes.Length; to++) if (to != n.Index) Send(n.Index, to, _half[to] ? bytes : bytes2);
        }
        else Broadcast(n.Index, bytes);
        MaybeGarbage(n, bytes);
    }

    private void SendVote(Node n, SignedVote sv)
    {
        var v = sv.Vote;
        CheckHonestSignature(n, v.Validator, v.Height, v.Round, v.Type == VoteType.Prevote ? Step.Prevote : Step.Precommit, v.BlockHash, null);
        var bytes = ConsensusMessages.Encode(new VoteReceived(sv));
        if (n.Byzantine && On(Faults.Equivocate) && _rng.Chance(0.5))
        {
            var known = _byzantineBlocks.GetValueOrDefault(v.Height.Value)?.Where(b => b != v.BlockHash).ToList() ?? [];
            Hash32? otherHash = known.Count > 0 && _rng.Chance(0.8) ? known[_rng.Below(known.Count)]
                : v.BlockHash is null ? RandomHash() : _rng.Chance(0.5) ? null : RandomHash();
            var conflicting = new Vote(v.Type, v.Height, v.Round, otherHash, v.TimestampMs, v.Validator).Sign(Chain, n.Key);
            var bytes2 = ConsensusMessages.Encode(new VoteReceived(conflicting));
            for (int to = 0; to < _nodes.Length; to++) if (to != n.Index) Send(n.Index, to, _half[to] ? bytes : bytes2);
        }
        else Broadcast(n.Index, bytes);
        MaybeGarbage(n, bytes);
    }

    private void NoteByzantineBlock(ulong height, Hash32 hash)
    {
        if (!_byzantineBlocks.TryGetValue(height, out var list)) _byzantineBlocks[height] = list = new List<Hash32>();
        if (!list.Contains(hash)) list.Add(hash);
    }

    private Hash32 RandomHash()
    {
        Span<byte> b = stackalloc byte[32];
        _rng.Fill(b);
        return new Hash32(b);
    }

    private void MaybeGarbage(Node n, byte[] valid)
    {
        if (!n.Byzantine || !On(Faults.Garbage) || !_rng.Chance(0.3)) return;
        byte[] junk;
        switch (_rng.Below(4))
        {
            case 0: junk = new byte[_rng.Range(0, 200)]; _rng.Fill(junk); break;
            case 1: junk = (byte[])valid.Clone(); junk[_rng.Below(junk.Length)] ^= (byte)(1 << _rng.Below(8)); break;
            case 2: junk = valid[..Math.Max(0, valid.Length - 1 - _rng.Below(valid.Length))]; break;
            default: junk = [.. valid, (byte)_rng.Below(256)]; break;
        }
        Send(n.Index, _rng.Below(_nodes.Length - 1) is var t && t >= n.Index ? t + 1 : t, junk, garbage: true);
    }

    private void OnCommit(Node n, CommitBlock c)
    {
        var h = c.Block.Height.Value;
        if (h <= (ulong)n.Store.Count)
        {
            if (n.Store[(int)h - 1].Block.Hash != c.Block.Hash) Violation($"validator {n.Index} decided {h} twice, differently");
            return; // re-decided during WAL replay
        }
        if (h != (ulong)n.Store.Count + 1) { Violation($"validator {n.Index} committed {h} with {n.Store.Count} stored"); return; }
        var prevState = h == 1 ? Hash32.Zero : n.Store[^1].Block.Header.StateRoot;
        n.Store.Add((c.Block, c.Commit));
        if (n.Byzantine) return;
        if (!_cache.VerifyCommit(c.Commit, Chain, _config.ValidatorsAt(c.Block.Height).Set, c.Block.Height, c.Block.Hash, out var why))
            Violation($"validator {n.Index} committed block {h} with a bad commit: {why}");
        if (!SimApplication.Reexecutes(c.Block, prevState))
            Violation($"validity: validator {n.Index} committed block {h} that fails re-execution");
        if (n.Runner is { } runner)
        {
            runner.Evidence.MarkCommitted(c.Block.Evidence.Select(e => Evidence.HashOf(e.Span)));
            runner.Evidence.Prune(c.Block.Height.Next);
        }
        if (!_decided.ContainsKey(h))
        {
            foreach (var item in c.Block.Evidence)
            {
                _evidenceIncluded++;
                var offender = OffenderOf(Canonical.Decode<Evidence>(item));
                if (_nodes.FirstOrDefault(x => x.Key.Address == offender) is not { Byzantine: true } framed)
                    Violation($"evidence: block {h} includes evidence against {offender}, not a byzantine validator");
            }
        }
        if (_decided.TryGetValue(h, out var first))
        {
            if (first.Hash != c.Block.Hash) Violation($"agreement: height {h} decided as {first.Hash} and {c.Block.Hash}");
        }
        else _decided[h] = (c.Block.Hash, (int)c.Commit.Round.Value, c.Commit.Signatures.Select(s => NodeOf(s.Validator)).ToList());
        if (h == (ulong)_o.Heights) _lastCommitTime = Math.Max(_lastCommitTime, _now);
    }

    // The engine records only these two kinds (light-client attacks come from light clients).
    private static Address? OffenderOf(Evidence e) => e switch
    {
        DuplicateVoteEvidence d => d.Offender,
        InvalidProposalEvidence ip => ip.Offender,
        _ => null,
    };

    private void OnEvidence(Node n, Evidence e)
    {
        if (n.Byzantine) return;
        _evidence++;
        var offender = _nodes.FirstOrDefault(x => x.Key.Address == OffenderOf(e));
        if (offender is not { Byzantine: true }) Violation($"validator {n.Index} recorded {e.GetType().Name} against {OffenderOf(e)}, not a byzantine validator");
        bool ok = e switch
        {
            DuplicateVoteEvidence d => d.Verify(Chain, _config.ValidatorsAt(d.Height).Set, out _),
            InvalidProposalEvidence ip => ip.Verify(Chain, _config.ValidatorsAt(ip.Height), b => n.App.VerifyProposal(b, out _), out _),
            _ => false,
        };
        if (!ok) Violation($"validator {n.Index} recorded evidence that does not verify");
    }
}
