using Chain.Consensus;
using Chain.Core;
using Chain.Execution;

namespace Chain.Node.Host;

/// <summary>A proposal's re-execution as the verifier finished it, waiting to be fed to consensus on the loop.</summary>
/// <param name="Verdict">The consensus event to feed (null when <paramref name="Failure"/> is set).</param>
/// <param name="Reason">Why re-execution refused the block ("" when it accepted it).</param>
/// <param name="Ms">How long the re-execution took (the <c>verify</c> stage).</param>
/// <param name="Failure">What the executor threw (a store failure): the loop fail-stops on it, as it did when verifying itself.</param>
internal sealed record VerifiedProposal(ProposalVerified? Verdict, string Reason, double Ms, Exception? Failure = null);

/// <summary>
/// Re-executes proposals (<see cref="VerifyProposalRequest"/>) on one worker thread, so the consensus loop goes on
/// taking votes and timeouts meanwhile. Bounded: a block hash is queued or verified at most once at a time, at most
/// <c>capacity</c> requests wait (the oldest gives way), and requests of heights below the newest request or already
/// committed are dropped unverified. Finished verdicts go to <c>done</c> on the worker; the node feeds them to
/// consensus on its loop (WAL first, like every input).
/// <para>
/// Serialisation with commit: the executor runs build, verify and commit one at a time under its own gate, so committed
/// state never changes under a verification. The loop calls <see cref="Settle"/> before it builds or commits: queued
/// requests of the decided height are dropped and it waits for the one in flight (a commit of that very block then
/// reuses its execution, <see cref="ChainExecutor.VerifyProposal"/>). The wait is the loop's only blocked time.
/// </para>
/// </summary>
internal sealed class ProposalVerifier : IDisposable
{
    /// <summary>The worker thread's name (tests recognise the verifier's store reads by it).</summary>
    public const string ThreadName = "proposal-verifier";

    private readonly ChainExecutor _executor;
    private readonly TimeProvider _time;
    private readonly NodeMetrics _metrics;
    private readonly Action<VerifiedProposal> _done;
    private readonly int _capacity;
    private readonly object _sync = new();
    private readonly LinkedList<VerifyProposalRequest> _queue = new();
    private readonly HashSet<Hash32> _pending = []; // queued or in flight
    private readonly Thread _worker;
    private bool _busy, _stopped;

    public ProposalVerifier(ChainExecutor executor, TimeProvider time, NodeMetrics metrics, Action<VerifiedProposal> done, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _executor = executor;
        _time = time;
        _metrics = metrics;
        _done = done;
        _capacity = capacity;
        _worker = new Thread(Run) { Name = ThreadName, IsBackground = true };
    }

    public void Start() => _worker.Start();

    /// <summary>Queues a request (loop); false when it is already queued or in flight, or the verifier stopped.</summary>
    public bool Request(VerifyProposalRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_sync)
        {
            if (_stopped || !_pending.Add(request.Block.Hash)) return false;
            // The engine asks only at its current height: anything older still queued can no longer matter.
            DropQueued(r => r.Height < request.Height);
            if (_queue.Count >= _capacity)
            {
                var oldest = _queue.First!.Value;
                DropQueued(r => ReferenceEquals(r, oldest));
            }
            _queue.AddLast(request);
            Publish();
            Monitor.PulseAll(_sync);
            return true;
        }
    }

    /// <summary>
    /// Called on the loop before it builds or commits: drops queued requests of heights up to <paramref name="decided"/>
    /// (when given) and waits for the verification in flight, which holds the executor.
    /// </summary>
    public void Settle(Height? decided)
    {
        long started = _time.GetTimestamp();
        lock (_sync)
        {
            if (decided is { } h) DropQueued(r => r.Height <= h);
            Publish();
            if (!_busy) return;
            if (decided is not null) _metrics.CommitWaitedForVerification();
            while (_busy) Monitor.Wait(_sync);
        }
        _metrics.AddLoopBlockedOnVerification(_time.GetElapsedTime(started));
    }

    // Under _sync, after every change of the queue or of _busy.
    private void Publish() => _metrics.SetVerificationsInFlight(_queue.Count + (_busy ? 1 : 0));

    private void DropQueued(Func<VerifyProposalRequest, bool> stale)
    {
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            if (stale(node.Value))
            {
                _queue.Remove(node);
                _pending.Remove(node.Value.Block.Hash);
                _metrics.VerificationDropped();
            }
            node = next;
        }
    }

    private void Run()
    {
        while (Next() is { } request)
        {
            VerifiedProposal result;
            try
            {
                result = Verify(request);
            }
            catch (Exception e)
            {
                result = new VerifiedProposal(null, e.Message, 0, e);
            }
            lock (_sync)
            {
                _busy = false;
                _pending.Remove(request.Block.Hash);
                Publish();
                Monitor.PulseAll(_sync);
            }
            _done(result);
        }
    }

    // The next request still worth verifying, marked in flight; null once stopped.
    private VerifyProposalRequest? Next()
    {
        lock (_sync)
        {
            while (true)
            {
                if (_stopped) return null;
                if (_queue.First is { } first)
                {
                    _queue.RemoveFirst();
                    if (first.Value.Height == _executor.Height.Next)
                    {
                        _busy = true;
                        Publish();
                        return first.Value;
                    }
                    _pending.Remove(first.Value.Block.Hash); // decided meanwhile: no verdict is needed
                    _metrics.VerificationDropped();
                    Publish();
                    continue;
                }
                Monitor.Wait(_sync);
            }
        }
    }

    private VerifiedProposal Verify(VerifyProposalRequest request)
    {
        long started = _time.GetTimestamp();
        var verdict = _executor.VerifyProposal(request.Block);
        double ms = _time.GetElapsedTime(started).TotalMilliseconds;
        _metrics.ProposalVerified();
        return new VerifiedProposal(new ProposalVerified(request.Height, request.Block.Hash, verdict.Accepted),
            verdict.Failure?.ToString() ?? "", ms);
    }

    /// <summary>Stops the worker after the verification in flight (it reads the store: call before the store closes).</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_stopped) return;
            _stopped = true;
            _queue.Clear();
            _pending.Clear();
            Publish();
            Monitor.PulseAll(_sync);
        }
        if (_worker.IsAlive) _worker.Join();
    }
}
