using Chain.Consensus;
using Chain.Core.Crypto;
using Chain.Execution;
using Chain.Inference.Runtime;

namespace Chain.Node.Host;

/// <summary>Test-only misbehaviour a node can be told to commit, to check that honest validators catch it.</summary>
public sealed record FaultInjection
{
    /// <summary>
    /// When this node proposes, it builds its block normally and then alters one inference receipt's output
    /// hash and the header's receipts root: the block is self-consistent but wrong, and honest validators must
    /// refuse it by re-execution. Blocks without an inference are proposed unaltered.
    /// </summary>
    public bool TamperInferenceOutputs { get; init; }

    /// <summary>
    /// Wraps the node's opened RocksDB store (e.g. in one whose writes fail, as on a full disk) to test how the node
    /// stops. The node still disposes the RocksDB store itself.
    /// </summary>
    public Func<Storage.IKeyValueStore, Storage.IKeyValueStore>? WrapStore { get; init; }

    public static FaultInjection None { get; } = new();
}

/// <summary>Everything a <see cref="FullNode"/> needs besides its network. Every queue it keeps has a bound here.</summary>
public sealed record FullNodeOptions(string Name, string Home, Genesis Genesis, PrivateKey Key, InferenceEngine Engine)
{
    public TimeoutConfig Timeouts { get; init; } = new();
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Inputs (peer messages, timer ticks) waiting for the loop; beyond this, peer messages are dropped and counted.</summary>
    public int InputQueueCapacity { get; init; } = 8192;

    /// <summary>Bytes of peer payloads waiting for the loop, all peers together; beyond this, peer messages are dropped and counted.</summary>
    public long InputQueueBytes { get; init; } = 256L << 20;

    /// <summary>Received transaction batches waiting for the gossip worker (their bytes count in <see cref="InputQueueBytes"/>); beyond this, dropped and counted.</summary>
    public int TransactionQueueCapacity { get; init; } = 1024;

    /// <summary>
    /// Bodies one parts response carries at most, but always one: the rest is asked of the next peer. 8 MiB keeps a
    /// response within what a peer that does not know us accepts (NetworkLimits.UnknownPeerMaxPayloadBytes).
    /// </summary>
    public int PartsResponseByteBudget { get; init; } = 8 << 20;

    /// <summary>
    /// How long a proposal with missing bodies waits for transaction batches already received but not yet admitted
    /// (the proposer sends its batch before its proposal) before asking peers for the bodies.
    /// </summary>
    public TimeSpan GossipCatchUp { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A request for a proposal's missing transaction bodies unanswered this long goes to another peer.</summary>
    public TimeSpan PartsRequestTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many heights above the current one may have buffered consensus messages.</summary>
    public int MaxFutureHeights { get; init; } = 4;

    /// <summary>Buffered consensus messages per future height.</summary>
    public int MaxFutureMessagesPerHeight { get; init; } = 512;

    /// <summary>The loop's clock tick: timeouts fire with at most this much lateness.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Once consensus has stood still this long (same height, round and step), the gossip set is re-sent, and again
    /// every interval until it moves (<see cref="RegossipSchedule"/>).
    /// </summary>
    public TimeSpan RegossipInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the own height is sent on the Status channel.</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Blocks asked for per sync request (at most <see cref="SyncLimits.MaxBlocksPerResponse"/>).</summary>
    public int SyncBatchBlocks { get; init; } = SyncLimits.MaxBlocksPerResponse;

    /// <summary>A server stops adding blocks to a response past this many bytes (it always sends at least one).</summary>
    public int SyncResponseByteBudget { get; init; } = 8 << 20;

    /// <summary>A sync request unanswered this long goes to another peer.</summary>
    public TimeSpan SyncRequestTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A peer one height ahead is normal for a moment (it saw the last precommits first); sync starts only when a
    /// peer is two heights ahead or has stayed ahead this long.
    /// </summary>
    public TimeSpan SyncGrace { get; init; } = TimeSpan.FromMilliseconds(1500);

    public FaultInjection Faults { get; init; } = FaultInjection.None;

    /// <summary>Mempool limits, including the pre-execution queue (<see cref="MempoolOptions.PreExecutionQueueCapacity"/>).</summary>
    public MempoolOptions Mempool { get; init; } = new();

    /// <summary>
    /// With an empty mempool, a proposer waits up to this long after the previous height was decided before building
    /// its block (CometBFT's timeout_commit for empty blocks), so an idle chain does not commit empty blocks back to
    /// back; a transaction arriving meanwhile, or one already pending, is proposed at once (no idle waiting on the
    /// path from "transaction arrives" to "2/3 precommits"). Must stay well below the propose timeout.
    /// </summary>
    public TimeSpan MinBlockInterval { get; init; } = TimeSpan.Zero;

    /// <summary>Bytes of synced blocks this node serves one peer per second (bursts up to one maximal response).</summary>
    public long SyncServeBytesPerSecond { get; init; } = 64L << 20;

    /// <summary>Bytes of synced blocks this node serves all peers together per second (so many peers cannot multiply the per-peer rate).</summary>
    public long SyncServeTotalBytesPerSecond { get; init; } = 128L << 20;

    /// <summary>Most transactions a block this node proposes carries.</summary>
    public int MaxBlockTransactions { get; init; } = 500;

    /// <summary>Proposal verifications waiting for the verifier's worker (one runs; a newer request pushes the oldest out).</summary>
    public int VerificationQueueCapacity { get; init; } = 4;

    /// <summary>Throws with a clear message when a bound is out of range.</summary>
    public void Validate()
    {
        Require(InputQueueBytes is >= 64L << 20 and <= 1L << 40, nameof(InputQueueBytes), "64 MiB .. 1 TiB (at least one maximal message)");
        Require(InputQueueCapacity is >= 16 and <= 1_000_000, nameof(InputQueueCapacity), "16..1000000");
        Require(TransactionQueueCapacity is >= 1 and <= 1_000_000, nameof(TransactionQueueCapacity), "1..1000000");
        Require(MaxFutureHeights is >= 1 and <= 64, nameof(MaxFutureHeights), "1..64");
        Require(MaxFutureMessagesPerHeight is >= 1 and <= 100_000, nameof(MaxFutureMessagesPerHeight), "1..100000");
        Require(SyncBatchBlocks is >= 1 and <= SyncLimits.MaxBlocksPerResponse, nameof(SyncBatchBlocks), $"1..{SyncLimits.MaxBlocksPerResponse}");
        Require(PartsResponseByteBudget is >= 1 and <= 8 << 20, nameof(PartsResponseByteBudget), "1..8 MiB");
        Require(SyncResponseByteBudget >= 1 && SyncResponseByteBudget <= SyncLimits.MaxResponseBytes, nameof(SyncResponseByteBudget), $"1..{SyncLimits.MaxResponseBytes}");
        Require(TickInterval > TimeSpan.Zero && RegossipInterval > TimeSpan.Zero && StatusInterval > TimeSpan.Zero && SyncRequestTimeout > TimeSpan.Zero && PartsRequestTimeout > TimeSpan.Zero
                && GossipCatchUp > TimeSpan.Zero,
            "intervals", "positive");
        Require(SyncServeBytesPerSecond is >= 1 << 20 and <= 1L << 40, nameof(SyncServeBytesPerSecond), "1 MiB .. 1 TiB");
        Require(SyncServeTotalBytesPerSecond >= SyncServeBytesPerSecond && SyncServeTotalBytesPerSecond <= 1L << 40, nameof(SyncServeTotalBytesPerSecond), "SyncServeBytesPerSecond .. 1 TiB");
        Require(Mempool is { MaxTransactions: >= 1, MaxBytes: >= 1, PreExecutionQueueCapacity: >= 1 }, nameof(Mempool), "positive limits");
        Require(VerificationQueueCapacity is >= 1 and <= 64, nameof(VerificationQueueCapacity), "1..64");
        Require(MaxBlockTransactions is >= 1 and <= Core.Protocol.ProtocolLimits.MaxTransactionsPerBlock, nameof(MaxBlockTransactions), "1..10000");
        Require(MinBlockInterval >= TimeSpan.Zero && MinBlockInterval.TotalMilliseconds < Timeouts.ProposeBaseMs, nameof(MinBlockInterval),
            "0 .. the propose timeout (exclusive)");
    }

    private static void Require(bool ok, string name, string range)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, $"{name} must be in {range}");
    }
}
