using Chain.Consensus.Storage;
using Chain.Core;
using Chain.Core.Crypto;

namespace Chain.Consensus;

/// <summary>
/// The engine with its crash safety: every input is written to the WAL before the engine sees it, own
/// signed messages are synced to the WAL before they are returned for broadcast, signatures go through the
/// <see cref="SignerGuard"/>, and on open the WAL tail of the starting height is replayed. Evidence the
/// engine reports is verified and pooled. Files: &lt;dir&gt;/consensus.wal and &lt;dir&gt;/signer.state.
/// </summary>
public sealed class ConsensusRunner
{
    private readonly ConsensusWal _wal;
    private readonly List<WalEntry> _live = new(); // entries of the current height, kept when the log is reset
    private Height _walHeight;

    private ConsensusRunner(ConsensusEngine engine, SignerGuard guard, ConsensusWal wal, Height height)
    {
        Engine = engine;
        Guard = guard;
        _wal = wal;
        _walHeight = height;
    }

    public ConsensusEngine Engine { get; }
    public SignerGuard Guard { get; }
    public EvidencePool Evidence { get; } = new();
    /// <summary>Bytes cut off the WAL tail on open (a torn final record).</summary>
    public long WalTruncatedBytes { get; private set; }
    /// <summary>Records replayed on open.</summary>
    public int Replayed { get; private set; }
    /// <summary>
    /// Blocks whose <see cref="ProposalVerified"/> verdict was replayed on open: the engine has it, so the host need not
    /// answer the verification request that replaying the proposal repeated.
    /// </summary>
    public IReadOnlySet<Hash32> ReplayedVerdicts => _replayedVerdicts;
    private readonly HashSet<Hash32> _replayedVerdicts = [];

    public static string WalPath(string dir) => Path.Combine(dir, "consensus.wal");
    public static string GuardPath(string dir) => Path.Combine(dir, "signer.state");

    /// <summary>
    /// Opens (or creates) the validator's consensus state and starts the engine at <paramref name="startHeight"/>
    /// (the host's last stored block + 1), replaying that height's WAL records. The returned actions must be
    /// executed like any others; they may repeat earlier broadcasts and requests, which is harmless.
    /// </summary>
    public static ConsensusRunner Open(ConsensusConfig config, PrivateKey key, IFileSystem fs, string dir, Height startHeight, ulong nowMs,
        out IReadOnlyList<ConsensusAction> actions)
    {
        var guard = SignerGuard.Open(key, fs, GuardPath(dir));
        var wal = ConsensusWal.Open(fs, WalPath(dir), out var entries, out long truncated);
        var engine = new ConsensusEngine(config, guard, startHeight);
        var runner = new ConsensusRunner(engine, guard, wal, startHeight) { WalTruncatedBytes = truncated };
        var all = new List<ConsensusAction>();
        all.AddRange(runner.Process(engine.Start(nowMs), nowMs));
        foreach (var e in entries)
        {
            if (e.Height < startHeight) continue;
            runner._live.Add(e);
            if (e.Height != engine.Height) continue; // records of a height the store has not reached cannot apply
            runner.Replayed++;
            if (e.Event is ProposalVerified verdict) runner._replayedVerdicts.Add(verdict.BlockHash);
            all.AddRange(runner.Process(engine.Handle(e.Event, e.NowMs), e.NowMs, replaying: true));
        }
        if (entries.Count != runner._live.Count) wal.Reset(runner._live);
        actions = all;
        return runner;
    }

    public IReadOnlyList<ConsensusAction> Handle(ConsensusEvent ev, ulong nowMs)
    {
        if (Engine.Height > _walHeight)
        {
            // The host has stored the decided block by now, so earlier heights' records are no longer needed.
            _live.RemoveAll(e => e.Height < Engine.Height);
            _wal.Reset(_live);
            _walHeight = Engine.Height;
        }
        var entry = new WalEntry(Engine.Height, nowMs, ev);
        _wal.Append(entry);
        _live.Add(entry);
        return Process(Engine.Handle(ev, nowMs), nowMs);
    }

    private IReadOnlyList<ConsensusAction> Process(IReadOnlyList<ConsensusAction> actions, ulong nowMs, bool replaying = false)
    {
        bool own = false;
        foreach (var a in actions)
        {
            ConsensusEvent? record = a switch
            {
                BroadcastProposal p => new ProposalReceived(p.Proposal, p.Block),
                BroadcastVote v => new VoteReceived(v.Vote),
                _ => null,
            };
            if (record is not null)
            {
                var h = record is ProposalReceived pr ? pr.Proposal.Proposal.Height : ((VoteReceived)record).Vote.Vote.Height;
                var entry = new WalEntry(h, nowMs, record);
                _wal.Append(entry);
                _live.Add(entry);
                own = true;
            }
            if (a is RecordEvidence ev && Verify(ev.Evidence)) Evidence.Add(ev.Evidence);
        }
        // Own messages are durable before the host can send them.
        if (own || replaying) _wal.Sync();
        return actions;
    }

    private bool Verify(Evidence evidence) => evidence switch
    {
        DuplicateVoteEvidence d => Engine.Config.Schedule.ValidatorsAt(d.Height) is { } active && d.Verify(Engine.Config.ChainId, active.Set, out _),
        // Produced from this node's own re-execution verdict, which for inference is the canonical executor's
        // (execution settles any fast-path disagreement before refusing a block).
        InvalidProposalEvidence => true,
        _ => false,
    };
}
