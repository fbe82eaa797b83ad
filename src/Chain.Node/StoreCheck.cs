using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Storage;

namespace Chain.Node;

/// <summary>What <see cref="StoreCheck.Run"/> found: the heights checked and every problem (empty when the store is sound).</summary>
public sealed record StoreCheckReport(ulong LatestHeight, ulong BlocksChecked, Hash32 StateRoot, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// <c>chain db check</c>: opens a stopped node's store (which runs the open-time integrity checks: every table file
/// the manifest lists present with its recorded size, RocksDB's paranoid checks) and verifies the block store and the
/// state: each block decodes, passes its structural checks and its header's hash chain links to the block below;
/// each height's commit is signed by more than 2/3 of the power of that height's validators (the executor's
/// <see cref="ChainExecutor.ValidatorsAt"/>, whose hash the header must bind) for that block; the state tree's
/// version and root are the last header's height and state root. Reading every block also makes RocksDB verify the
/// block checksums of everything read. The consensus WAL is not checked here (it is replayed, and checked, at start).
/// </summary>
public static class StoreCheck
{
    private const int MaxProblems = 50;

    public static StoreCheckReport Run(NodeHome home, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(home);
        var genesis = home.LoadGenesis();
        using var store = RocksDbStore.Open(Path.Combine(home.DataDirectory, "db"));
        var blocks = new BlockStore(store);
        var problems = new List<string>();
        ulong latest = blocks.LatestHeight?.Value ?? 0;
        if (blocks.ChainId is { } chainId && chainId != genesis.ChainId)
            problems.Add($"the store holds chain '{chainId}', the genesis is for '{genesis.ChainId}'");

        using var inference = new InferenceEngine(enableFastPath: false);
        var schedule = OpenSchedule(genesis, store, inference, problems);
        BlockHeader? previous = null;
        ulong checkedBlocks = 0;
        for (ulong h = 1; h <= latest && problems.Count < MaxProblems; h++)
        {
            var height = new Height(h);
            try
            {
                var block = blocks.LoadBlock(height);
                var header = blocks.LoadHeader(height);
                var commit = blocks.LoadCommit(height);
                if (block is null || header is null || commit is null)
                {
                    problems.Add($"height {h}: {(block is null ? "block" : header is null ? "header" : "commit")} missing (latest is {latest})");
                    previous = header ?? block?.Header;
                    continue;
                }
                if (header.Hash != block.Header.Hash)
                    problems.Add($"height {h}: the stored header {header.Hash} is not the block's header {block.Header.Hash}");
                if (!block.ValidateBasic(genesis.ChainId, out var why))
                    problems.Add($"height {h}: block {block.Hash}: {why}");
                if (previous is not null && header.LastBlockHash != previous.Hash)
                    problems.Add($"height {h}: links to block {header.LastBlockHash} below, but the stored block {h - 1} is {previous.Hash}");
                if (schedule?.ValidatorsAt(height) is not { } active)
                    problems.Add($"height {h}: commit not checked: the validators of this height are not known");
                else if (header.ValidatorsHash != active.Hash)
                    problems.Add($"height {h}: the header binds validators {header.ValidatorsHash}, the chain's set of this height is {active.Hash}");
                else if (!commit.Verify(genesis.ChainId, active.Set, height, header.Hash, out var reason))
                    problems.Add($"height {h}: commit: {reason}");
                previous = header;
                checkedBlocks++;
                if (h % 1000 == 0) progress?.Invoke($"checked {h}/{latest} blocks");
            }
            catch (Exception e) when (e is StorageException or FormatException or InvalidDataException)
            {
                problems.Add($"height {h}: unreadable: {e.Message}");
            }
        }

        var root = Hash32.Zero;
        try
        {
            var state = JellyfishStateBackend.Open(store);
            root = state.Root;
            if (latest > 0 && state.Version != latest)
                problems.Add($"state tree is at version {state.Version?.ToString() ?? "none"}, the latest block is {latest}");
            else if (previous is not null && previous.Height.Value == latest && state.Root != previous.StateRoot)
                problems.Add($"state root {state.Root} differs from block {latest}'s state root {previous.StateRoot}");
        }
        catch (StorageException e)
        {
            problems.Add($"state tree: {e.Message}");
        }
        return new StoreCheckReport(latest, checkedBlocks, root, problems);
    }

    // The validators of each height come from the executed state; a store too damaged to open for execution has none
    // (reported once), and the per-height checks then say so. No inference runs: the executor only reads the state.
    private static IValidatorSchedule? OpenSchedule(Genesis genesis, IKeyValueStore store, InferenceEngine inference, List<string> problems)
    {
        try
        {
            var state = JellyfishStateBackend.Open(store);
            if (state.Version is null) return new BlockStore(store).LatestHeight is null ? new FixedValidatorSchedule(genesis.Validators) : null;
            return new ChainExecutor(genesis, store, state, new InferenceRunner(inference));
        }
        catch (Exception e) when (e is InvalidOperationException or StorageException or FormatException or InvalidDataException)
        {
            problems.Add($"the store does not open for execution, so validator sets are unknown: {e.Message}");
            return null;
        }
    }
}
