using Chain.Consensus;
using Chain.Core.Protocol;
using Chain.Network;

namespace Chain.Node.Host;

/// <summary>What the node's loop consumes; everything that touches consensus state arrives as one of these.</summary>
internal abstract record NodeInput;

internal sealed record PeerMessageInput(PeerMessage Message) : NodeInput;

internal sealed record PeerConnectedInput(PeerId Peer) : NodeInput;

internal sealed record PeerDisconnectedInput(PeerId Peer) : NodeInput;

/// <summary>Evidence verified off the loop (POST /evidence), to pool for inclusion.</summary>
/// <summary>Verified evidence to pool and gossip on; <paramref name="From"/> is the peer it came from (null: RPC).</summary>
internal sealed record EvidenceInput(Evidence Evidence, PeerId? From = null) : NodeInput;

/// <summary>The proposal verifier finished one or more verifications (FullNode._verdicts holds them).</summary>
internal sealed record VerdictsInput : NodeInput;

/// <summary>Transactions were admitted while the loop waited for some (FullNode.WakeForTransactions).</summary>
internal sealed record TransactionsArrivedInput : NodeInput;

/// <summary>The clock ticked: fire due timeouts, re-gossip, status, sync.</summary>
internal sealed record TickInput : NodeInput;

/// <summary>A committed block as the node reports it.</summary>
/// <param name="LatencyMs">Milliseconds from entering the height to committing it (finality latency as this node saw it).</param>
/// <param name="Synced">True when the block arrived by block sync rather than this node's consensus rounds.</param>
public sealed record BlockCommitted(ulong Height, Block Block, IReadOnlyList<Receipt> Receipts, uint Round, long LatencyMs, bool Synced);

/// <summary>
/// A consensus event (or a compact proposal whose height came) waiting on the loop's local queue, with the peer it
/// came from (null: local).
/// </summary>
internal readonly record struct PendingEvent(ConsensusEvent? Event, ConsensusAction? Request, PeerId? From, CompactProposal? Compact = null);
