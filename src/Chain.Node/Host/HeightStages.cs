namespace Chain.Node.Host;

/// <summary>
/// Where one height's finality time went, as this node saw it (milliseconds; a stage this node did not go through is
/// null: only the proposer builds, a synced block has no consensus stages). Stages in order:
/// <list type="bullet">
/// <item><c>build</c>: BuildBlock (proposer);</item>
/// <item><c>propose</c>: from entering the height until a proposal for it is here (own: built; others: received);</item>
/// <item><c>verify</c>: re-executing the proposal (VerifyProposal), inference included, on the proposal verifier's
/// worker (the loop takes votes meanwhile); a verdict that comes back after its height was decided is not counted;</item>
/// <item><c>prevote</c>: from the proposal until 2/3 prevoted it (this node's precommit, line 36);</item>
/// <item><c>precommit</c>: from there until 2/3 precommitted it (the decision, line 49);</item>
/// <item><c>commit</c>: writing block, receipts and state in one synced batch (fsync included);</item>
/// <item><c>apply</c>: what follows the write before the next height starts (mempool update, events).</item>
/// </list>
/// <c>total</c> is entering the height to the end of apply. Stages overlap only where the node works on one while
/// waiting for another (verify runs inside prevote's wait), so they do not sum to total exactly.
/// </summary>
public sealed record HeightStageTimes(ulong Height, uint Round, bool Proposer, bool Synced,
    double? BuildMs, double? ProposeMs, double? VerifyMs, double? PrevoteMs, double? PrecommitMs, double CommitMs, double ApplyMs, double TotalMs)
{
    /// <summary>The stages by name, as exported (<c>chain_height_stage_seconds{stage}</c>).</summary>
    public IEnumerable<(string Stage, double Ms)> Stages()
    {
        if (BuildMs is { } b) yield return ("build", b);
        if (ProposeMs is { } p) yield return ("propose", p);
        if (VerifyMs is { } v) yield return ("verify", v);
        if (PrevoteMs is { } pv) yield return ("prevote", pv);
        if (PrecommitMs is { } pc) yield return ("precommit", pc);
        yield return ("commit", CommitMs);
        yield return ("apply", ApplyMs);
        yield return ("total", TotalMs);
    }
}

/// <summary>Collects the moments of the current height on the node's loop (timestamps from the node's TimeProvider).</summary>
internal sealed class HeightStageClock(TimeProvider time)
{
    private long _start = time.GetTimestamp();
    private long? _proposalAt, _prevoteQuorumAt, _decidedAt;
    private double? _buildMs, _verifyMs;
    private bool _proposer;

    public long Now => time.GetTimestamp();

    private double Ms(long from, long to) => time.GetElapsedTime(from, to).TotalMilliseconds;

    public void Built(long startedAt)
    {
        _buildMs = (_buildMs ?? 0) + Ms(startedAt, Now);
        _proposer = true;
    }

    /// <summary>A re-execution of <paramref name="ms"/> finished (timed on the verifier's worker, off the loop).</summary>
    public void Verified(double ms) => _verifyMs = (_verifyMs ?? 0) + ms;

    public void ProposalHere() => _proposalAt ??= Now;

    public void PrevoteQuorum() => _prevoteQuorumAt ??= Now;

    public void Decided() => _decidedAt ??= Now;

    /// <summary>Closes the height (its block was written between <paramref name="commitStart"/> and <paramref name="commitEnd"/>) and starts the next.</summary>
    public HeightStageTimes Finish(ulong height, uint round, bool synced, long commitStart, long commitEnd)
    {
        long end = Now;
        long decided = _decidedAt ?? commitStart;
        var times = new HeightStageTimes(height, round, _proposer, synced,
            _buildMs,
            _proposalAt is { } p ? Ms(_start, p) : null,
            _verifyMs,
            _proposalAt is { } p2 && _prevoteQuorumAt is { } q ? Ms(p2, q) : null,
            _prevoteQuorumAt is { } q2 ? Ms(q2, decided) : null,
            Ms(commitStart, commitEnd), Ms(commitEnd, end), Ms(_start, end));
        _start = end;
        _proposalAt = _prevoteQuorumAt = _decidedAt = null;
        _buildMs = _verifyMs = null;
        _proposer = false;
        return times;
    }
}
