using System.Buffers.Binary;
using Chain.Core;
using Chain.Core.Hashing;
using Chain.Core.Protocol;

namespace Chain.Consensus.Simulation;

/// <summary>
/// A deterministic stand-in for the inference application. A block's "inference output" (its receipts
/// root) is a pure function of what the proposer chose (height, parent, time, proposer), and the state
/// root chains the outputs, so any validator can re-execute a block and see whether the proposer lied.
/// Headers bind the validators of their height and of the next (from <c>schedule</c>), and are checked for it.
/// </summary>
public sealed class SimApplication(ChainId chainId, IValidatorSchedule schedule, IReadOnlyList<(Block Block, Commit Commit)> store, SignatureCache? cache = null) : IBlockApplication
{
    /// <summary>One validator set for every height.</summary>
    public SimApplication(ChainId chainId, ValidatorSet validators, IReadOnlyList<(Block Block, Commit Commit)> store, SignatureCache? cache = null)
        : this(chainId, new FixedValidatorSchedule(validators), store, cache)
    {
    }

    /// <summary>When set, built blocks carry a wrong inference output (a byzantine proposer).</summary>
    public Func<bool>? Lie { get; set; }

    /// <summary>The proposer's pooled evidence (canonical encodings), offered for the blocks it builds.</summary>
    public Func<IReadOnlyList<ReadOnlyMemory<byte>>>? PendingEvidence { get; set; }

    private readonly EvidenceVerifier _evidence = new(chainId);
    private readonly StoreHistory _history = new(schedule, store);

    // The simulator's chain as evidence sees it: the schedule's sets, the stored blocks and their commits.
    private sealed class StoreHistory(IValidatorSchedule schedule, IReadOnlyList<(Block Block, Commit Commit)> store) : IChainHistory
    {
        public ActiveValidators? ValidatorsAt(Height height) =>
            height.Value == 0 || height.Value > (ulong)store.Count + 2 ? null : schedule.ValidatorsAt(height);

        public BlockHeader? HeaderAt(Height height) =>
            height.Value == 0 || height.Value > (ulong)store.Count ? null : store[(int)height.Value - 1].Block.Header;

        public Commit? CommitAt(Height height)
        {
            if (height.Value == 0 || height.Value > (ulong)store.Count) return null;
            return height.Value < (ulong)store.Count ? store[(int)height.Value].Block.LastCommit : store[(int)height.Value - 1].Commit;
        }
    }

    public static Hash32 ExpectedOutput(BlockHeader h)
    {
        Span<byte> buf = stackalloc byte[8 + 32 + 8 + 20];
        BinaryPrimitives.WriteUInt64LittleEndian(buf, h.Height.Value);
        h.LastBlockHash.Bytes.CopyTo(buf[8..]);
        BinaryPrimitives.WriteUInt64LittleEndian(buf[40..], h.TimeMs);
        h.Proposer.Bytes.CopyTo(buf[48..]);
        return DomainHash.Sha256([.. "sim/inference"u8, .. buf]);
    }

    public static Hash32 NextState(Hash32 previous, Hash32 output) => DomainHash.Sha256([.. "sim/state"u8, .. previous.Bytes, .. output.Bytes]);

    /// <summary>The re-execution check on its own (used by the validity invariant): outputs and state as claimed.</summary>
    public static bool Reexecutes(Block block, Hash32 previousState) =>
        block.Header.ReceiptsRoot == ExpectedOutput(block.Header) && block.Header.StateRoot == NextState(previousState, block.Header.ReceiptsRoot);

    private Hash32 PreviousState(Height h) => h.Value == 1 ? Hash32.Zero : store[(int)h.Value - 2].Block.Header.StateRoot;

    private ValidatorSet SetAt(Height h) =>
        schedule.ValidatorsAt(h)?.Set ?? throw new InvalidOperationException($"the simulator's schedule has no validators for height {h}");

    public Block BuildBlock(Height height, Round round, Address proposer, ulong nowMs)
    {
        if ((ulong)store.Count != height.Value - 1) throw new InvalidOperationException($"asked to build {height} with {store.Count} blocks stored");
        Commit? last = height.Value == 1 ? null : store[^1].Commit;
        var lastHash = height.Value == 1 ? Hash32.Zero : store[^1].Block.Hash;
        var evidence = new List<ReadOnlyMemory<byte>>();
        foreach (var item in PendingEvidence?.Invoke() ?? [])
            if (evidence.Count < ProtocolLimits.MaxEvidencePerBlock && CheckEvidence(item, height, evidence, out _)) evidence.Add(item);
        var draft = new BlockHeader(chainId, height, nowMs, lastHash, last?.Hash ?? Hash32.Zero, Block.ComputeTransactionsRoot([]),
            Hash32.Zero, Hash32.Zero, SetAt(height).Hash, SetAt(height.Next).Hash, Block.ComputeEvidenceRoot(evidence), proposer);
        var output = ExpectedOutput(draft);
        if (Lie?.Invoke() == true) output = DomainHash.Sha256([.. "lie"u8, .. output.Bytes]);
        var header = new BlockHeader(chainId, height, nowMs, lastHash, last?.Hash ?? Hash32.Zero, draft.TransactionsRoot,
            output, NextState(PreviousState(height), output), draft.ValidatorsHash, draft.NextValidatorsHash, draft.EvidenceRoot, proposer);
        return new Block(header, [], last, evidence);
    }

    // The real verifier, with "already included" judged from the stored chain and the items before it in this block.
    private bool CheckEvidence(ReadOnlyMemory<byte> item, Height height, IReadOnlyList<ReadOnlyMemory<byte>> earlier, out string reason)
    {
        var check = _evidence.Check(item, height, _history, b => VerifyProposal(b, out _), out reason);
        if (check is null) return false;
        var hash = check.Hash;
        if (store.Any(s => s.Block.Evidence.Any(e => Evidence.HashOf(e.Span) == hash)) || earlier.Any(e => Evidence.HashOf(e.Span) == hash))
        {
            reason = $"evidence {hash} was already included";
            return false;
        }
        return true;
    }

    public bool VerifyProposal(Block block, out string reason)
    {
        var h = block.Header;
        if (!block.ValidateBasic(chainId, out reason)) return false;
        if ((ulong)store.Count != h.Height.Value - 1) { reason = $"block {h.Height} with {store.Count} blocks stored"; return false; }
        var lastHash = h.Height.Value == 1 ? Hash32.Zero : store[^1].Block.Hash;
        if (h.LastBlockHash != lastHash) { reason = "wrong parent"; return false; }
        if (block.LastCommit is { } c && !cache.VerifyCommit(c, chainId, SetAt(new Height(h.Height.Value - 1)), new Height(h.Height.Value - 1), lastHash, out reason)) return false;
        if (h.ValidatorsHash != SetAt(h.Height).Hash) { reason = $"validators hash is not the set of height {h.Height}"; return false; }
        if (h.NextValidatorsHash != SetAt(h.Height.Next).Hash) { reason = $"next validators hash is not the set of height {h.Height.Next}"; return false; }
        if (!Reexecutes(block, PreviousState(h.Height))) { reason = "inference outputs do not match re-execution"; return false; }
        for (int i = 0; i < block.Evidence.Count; i++)
            if (!CheckEvidence(block.Evidence[i], h.Height, block.Evidence.Take(i).ToList(), out var why)) { reason = $"evidence item {i}: {why}"; return false; }
        reason = "";
        return true;
    }
}
