using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;

namespace Chain.Node;

/// <summary>What one finalized height looked like across the devnet.</summary>
public sealed record DevnetHeight(ulong Height, int Round, int Transactions, int Inferences, double FinalityMs, bool ReceiptsIdentical, Hash32 BlockHash, Hash32 StateRoot);

/// <summary>
/// N validators in one process on a real clock: each with its own RocksDB store, state tree, executor,
/// mempool, WAL and signer guard. Consensus messages travel as canonical bytes and are strictly decoded
/// on arrival, exactly what the network layer will carry; delivery is in-process (no sockets yet).
/// Messages for a height a validator has not reached are held until it gets there.
/// </summary>
public sealed class InProcessDevnet : IDisposable
{
    private readonly ValidatorNode[] _nodes;
    private readonly Queue<(int To, byte[] Bytes)> _network = new();
    private readonly Queue<(int Node, ConsensusEvent Event)> _local = new();
    private readonly PriorityQueue<(int Node, TimeoutElapsed Event), ulong> _timers = new();
    private readonly List<(int Node, ConsensusEvent Event, ulong Height)>[] _future;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ulong _epochMs;
    private readonly Dictionary<ulong, double> _firstCommitMs = [];
    private readonly Dictionary<ulong, double> _proposedMs = [];

    public InProcessDevnet(string dataDirectory, Genesis genesis, IReadOnlyList<PrivateKey> validatorKeys, InferenceEngine engine, TimeoutConfig? timeouts = null)
    {
        _epochMs = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Genesis = genesis;
        _nodes = new ValidatorNode[validatorKeys.Count];
        _future = new List<(int, ConsensusEvent, ulong)>[_nodes.Length];
        var starts = new List<(int, IReadOnlyList<ConsensusAction>)>();
        for (int i = 0; i < _nodes.Length; i++)
        {
            _future[i] = [];
            _nodes[i] = new ValidatorNode($"validator-{i}", Path.Combine(dataDirectory, $"validator-{i}"), genesis, validatorKeys[i], engine,
                timeouts ?? new TimeoutConfig(ProposeBaseMs: 2000, PrevoteBaseMs: 1000, PrecommitBaseMs: 1000), Now, out var actions);
            starts.Add((i, actions));
        }
        _pendingStart = starts;
    }

    // The validators' first actions (the first proposal among them) run on the first RunUntil, so
    // transactions submitted before it can make it into the first block.
    private List<(int, IReadOnlyList<ConsensusAction>)>? _pendingStart;

    public Genesis Genesis { get; }

    /// <summary>Called with the height just before a proposer builds its block (a client can submit transactions for it).</summary>
    public Action<ulong>? BeforeBuild { get; set; }
    public IReadOnlyList<ValidatorNode> Nodes => _nodes;
    public int MessagesDelivered { get; private set; }
    public int MessagesRefused { get; private set; }

    private ulong Now => _epochMs + (ulong)_clock.ElapsedMilliseconds;

    /// <summary>Hands <paramref name="tx"/> to every validator's mempool (what gossip will do); returns the first refusal, if any.</summary>
    public Rejection? Submit(SignedTransaction tx)
    {
        Rejection? first = null;
        foreach (var node in _nodes) first ??= node.Mempool.Add(tx);
        return first;
    }

    /// <summary>Runs until every validator has stored <paramref name="height"/>, or the deadline passes.</summary>
    public bool RunUntil(ulong height, TimeSpan deadline)
    {
        var limit = _clock.Elapsed + deadline;
        if (_pendingStart is { } starts)
        {
            _pendingStart = null;
            foreach (var (i, actions) in starts) Execute(i, actions);
        }
        while (_nodes.Any(n => n.Executor.Height.Value < height))
        {
            if (_clock.Elapsed > limit) return false;
            if (_local.TryDequeue(out var local)) Feed(local.Node, local.Event);
            else if (_network.TryDequeue(out var message)) Deliver(message.To, message.Bytes);
            else if (_timers.TryPeek(out var timer, out var due))
            {
                if (due > Now) Thread.Sleep((int)Math.Min(50, due - Now)); // nothing else to do until the timeout is due
                else
                {
                    _timers.Dequeue();
                    Feed(timer.Node, timer.Event);
                }
            }
            else return false; // nothing left to do and not finished: stuck
        }
        return true;
    }

    /// <summary>The finalized height as every validator stored it, checked for identical blocks and receipts.</summary>
    public DevnetHeight Describe(ulong height)
    {
        var h = new Height(height);
        var reference = _nodes[0].Executor.Blocks;
        var block = reference.LoadBlock(h) ?? throw new InvalidOperationException($"height {height} is not stored");
        var receipts = reference.LoadReceipts(h);
        bool identical = _nodes.All(n =>
            n.Executor.Blocks.LoadBlock(h)?.Hash == block.Hash &&
            n.Executor.Blocks.LoadReceipts(h).Select(r => r.Hash).SequenceEqual(receipts.Select(r => r.Hash)));
        var commit = reference.LoadCommit(h)!;
        double finality = _firstCommitMs.TryGetValue(height, out var committed) && _proposedMs.TryGetValue(height, out var proposed) ? committed - proposed : double.NaN;
        return new DevnetHeight(height, (int)commit.Round.Value, block.Transactions.Count,
            block.Transactions.Count(t => t.Transaction.Body is InferBody), finality, identical, block.Hash, block.Header.StateRoot);
    }

    private void Deliver(int to, byte[] bytes)
    {
        if (!ConsensusMessages.TryDecode(bytes, out var message, out _))
        {
            MessagesRefused++;
            return;
        }
        MessagesDelivered++;
        Feed(to, message!);
    }

    private void Feed(int i, ConsensusEvent ev)
    {
        var node = _nodes[i];
        ulong current = node.Consensus.Engine.Height.Value;
        ulong h = HeightOf(ev) ?? current;
        if (h < current) return; // already decided here
        if (h > current)
        {
            _future[i].Add((i, ev, h));
            return;
        }
        Execute(i, node.Consensus.Handle(ev, Now));
    }

    private static ulong? HeightOf(ConsensusEvent ev) => ev switch
    {
        ProposalReceived p => p.Proposal.Proposal.Height.Value,
        VoteReceived v => v.Vote.Vote.Height.Value,
        TimeoutElapsed t => t.Height.Value,
        _ => null,
    };

    private void Execute(int i, IReadOnlyList<ConsensusAction> actions)
    {
        var node = _nodes[i];
        foreach (var action in actions)
        {
            switch (action)
            {
                case BroadcastProposal p:
                    _proposedMs.TryAdd(p.Block.Height.Value, _clock.Elapsed.TotalMilliseconds);
                    Broadcast(i, ConsensusMessages.Encode(new ProposalReceived(p.Proposal, p.Block)));
                    break;
                case BroadcastVote v:
                    Broadcast(i, ConsensusMessages.Encode(new VoteReceived(v.Vote)));
                    break;
                case ScheduleTimeout t:
                    _timers.Enqueue((i, new TimeoutElapsed(t.Height, t.Round, t.Step)), Now + t.DurationMs);
                    break;
                case BuildBlockRequest or VerifyProposalRequest:
                    if (action is BuildBlockRequest build) BeforeBuild?.Invoke(build.Height.Value);
                    if (node.Answer(action, Now) is { } answer) _local.Enqueue((i, answer));
                    break;
                case CommitBlock c:
                    node.CommitBlock(c.Block, c.Commit);
                    _firstCommitMs.TryAdd(c.Block.Height.Value, _clock.Elapsed.TotalMilliseconds);
                    // Messages held for the height this validator has now reached.
                    var ready = _future[i].Where(f => f.Item3 <= node.Consensus.Engine.Height.Value).ToList();
                    _future[i].RemoveAll(f => f.Item3 <= node.Consensus.Engine.Height.Value);
                    foreach (var (n, ev, _) in ready) _local.Enqueue((n, ev));
                    break;
            }
        }
    }

    private void Broadcast(int from, byte[] bytes)
    {
        for (int to = 0; to < _nodes.Length; to++)
            if (to != from) _network.Enqueue((to, bytes));
    }

    /// <summary>The published devnet keys: seed = SHA-256("chain-devnet/" + name) (genesis/README.md).</summary>
    public static PrivateKey DevnetKey(string name) => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-devnet/" + name)));

    public void Dispose()
    {
        foreach (var node in _nodes) node.Dispose();
    }
}
