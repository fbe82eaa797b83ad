using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Hashing;
using Chain.Core.Protocol;
using MessagePack;

namespace Chain.Consensus;

/// <summary>
/// Proof that a validator misbehaved, checkable by anyone from the chain id and the validator set (and,
/// for invalid proposals, by re-executing the block). Encoding: <c>[kind: uint, ...]</c>.
/// Hash: the domain hash <see cref="HashDomain.Evidence"/> ("chain/v1/evidence") of the encoding.
/// </summary>
public abstract class Evidence : CanonicalObject<Evidence>, ICanonicalObject<Evidence>
{
    public const byte KindDuplicateVote = 1, KindInvalidProposal = 2, KindLightClientAttack = ConflictingHeader.EvidenceKind;
    private Hash32? _hash;

    public abstract byte Kind { get; }
    /// <summary>The kind as execution records it (and slashing looks it up).</summary>
    public abstract string KindLabel { get; }
    public abstract Height Height { get; }
    public Hash32 Hash => _hash ??= HashOf(Encoded.Span);

    /// <summary>The hash of evidence given as its canonical encoding (what blocks carry).</summary>
    public static Hash32 HashOf(ReadOnlySpan<byte> encoded) => DomainHash.Compute(HashDomain.Evidence, encoded);

    public static string KindName => "evidence";
    public static int MaxEncodedSize => ProtocolLimits.MaxBlockBytes + 1024;

    public static Evidence ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(3, "evidence");
        long at = reader.Offset;
        byte kind = reader.ReadByte("evidence kind");
        switch (kind)
        {
            case KindDuplicateVote:
            {
                var a = SignedVote.ReadFrom(ref reader);
                long bAt = reader.Offset;
                var b = SignedVote.ReadFrom(ref reader);
                if (a.Encoded.Span.SequenceCompareTo(b.Encoded.Span) >= 0)
                    throw reader.Error(DecodeError.NonCanonical, "duplicate-vote evidence: votes not in ascending encoding order", bAt);
                return new DuplicateVoteEvidence(a, b);
            }
            case KindInvalidProposal:
                return new InvalidProposalEvidence(SignedProposal.ReadFrom(ref reader), Block.ReadFrom(ref reader));
            case KindLightClientAttack:
                return new LightClientAttackEvidence(ConflictingHeader.ReadFields(ref reader)); // encoding owned by Core
            default:
                throw reader.Error(DecodeError.InvalidValue, $"unknown evidence kind {kind}", at);
        }
    }
}

/// <summary>
/// Equivocation: two votes by one validator for the same height, round and type naming different blocks
/// (nil counts as a block). Encoding: <c>[1, signedVoteA, signedVoteB]</c> with A's encoding &lt; B's.
/// </summary>
public sealed class DuplicateVoteEvidence : Evidence
{
    public DuplicateVoteEvidence(SignedVote first, SignedVote second)
    {
        // One canonical order, so the same pair is always the same evidence.
        bool swap = first.Encoded.Span.SequenceCompareTo(second.Encoded.Span) > 0;
        VoteA = swap ? second : first;
        VoteB = swap ? first : second;
    }

    public SignedVote VoteA { get; }
    public SignedVote VoteB { get; }
    public override byte Kind => KindDuplicateVote;
    public override string KindLabel => "duplicate-vote";
    public Address Offender => VoteA.Vote.Validator;
    public override Height Height => VoteA.Vote.Height;

    public bool Verify(ChainId chainId, ValidatorSet validators, out string reason)
    {
        Vote a = VoteA.Vote, b = VoteB.Vote;
        if (a.Validator != b.Validator) { reason = "votes are from different validators"; return false; }
        if (a.Height != b.Height || a.Round != b.Round || a.Type != b.Type)
        {
            reason = $"votes are for different (height, round, type): ({a.Height},{a.Round},{a.Type}) vs ({b.Height},{b.Round},{b.Type})";
            return false;
        }
        if (a.BlockHash == b.BlockHash) { reason = "votes name the same block: no conflict"; return false; }
        if (!validators.TryGet(a.Validator, out var v, out _)) { reason = $"{a.Validator} is not a validator"; return false; }
        if (!VoteA.Verify(chainId, v.PublicKey) || !VoteB.Verify(chainId, v.PublicKey))
        {
            reason = "a signature does not verify for this chain";
            return false;
        }
        reason = "";
        return true;
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        VoteA.WriteTo(ref writer);
        VoteB.WriteTo(ref writer);
    }
}

/// <summary>
/// A proposer signed a proposal for a block that fails re-execution (e.g. wrong inference outputs).
/// Encoding: <c>[2, signedProposal, block]</c>. Anyone can check the signature and that the proposer was
/// the proposer of that round; the invalidity itself is checked by re-executing the block.
/// </summary>
public sealed class InvalidProposalEvidence(SignedProposal proposal, Block block) : Evidence
{
    public SignedProposal Proposal { get; } = proposal;
    public Block Block { get; } = block;
    public override byte Kind => KindInvalidProposal;
    public override string KindLabel => "invalid-proposal";
    public Address Offender => Proposal.Proposal.Proposer;
    public override Height Height => Proposal.Proposal.Height;

    /// <param name="reexecute">
    /// The application's validity predicate: true when the block re-executes correctly. For inference it must use the
    /// canonical executor only, never a fast path (docs/determinism.md).
    /// </param>
    public bool Verify(ChainId chainId, ActiveValidators active, Func<Block, bool> reexecute, out string reason)
    {
        var p = Proposal.Proposal;
        if (!active.Set.TryGet(p.Proposer, out var v, out _)) { reason = $"{p.Proposer} is not a validator"; return false; }
        var expected = new ProposerSelection(active).Proposer(p.Height, p.Round);
        if (expected != p.Proposer) { reason = $"{p.Proposer} was not the proposer of ({p.Height},{p.Round})"; return false; }
        if (!Proposal.Verify(chainId, v.PublicKey)) { reason = "proposal signature does not verify for this chain"; return false; }
        if (Block.Hash != p.BlockHash) { reason = "block is not the one the proposal names"; return false; }
        if (!Block.ValidateBasic(chainId, out var basic)) { reason = $"block body does not match its header ({basic}): not the proposer's block"; return false; }
        if (reexecute(Block)) { reason = "the block re-executes correctly: not invalid"; return false; }
        reason = "";
        return true;
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        Proposal.WriteTo(ref writer);
        Block.WriteTo(ref writer);
    }
}

/// <summary>
/// Light-client attack: a header for a height this chain decided, which is not the chain's header there, with a
/// commit signed by validators of that height (Core's <see cref="ConflictingHeader"/>; encoding
/// <c>[3, header, commit]</c>). Who is provably faulty depends on the chain's own header and commit at that height,
/// so the offenders come from <see cref="Judge"/>, not from the evidence alone.
/// </summary>
public sealed class LightClientAttackEvidence(ConflictingHeader conflict) : Evidence
{
    public ConflictingHeader Conflict { get; } = conflict ?? throw new ArgumentNullException(nameof(conflict));
    public override byte Kind => KindLightClientAttack;
    public override string KindLabel => "light-client-attack";
    public override Height Height => Conflict.Height;

    /// <summary>
    /// The rules of docs/consensus.md, "Light-client attack evidence": the header differs from the chain's header at
    /// its height; its commit verifies under that height's validators with more than 1/3 of their power. A lunatic
    /// header (chain id, parent, or either validators hash differs from the chain's) convicts every signer; otherwise
    /// (equivocation) the signers that also signed the chain's commit in the same round. Null with
    /// <paramref name="reason"/> when it proves nothing or convicts nobody.
    /// </summary>
    public IReadOnlyList<Address>? Judge(ChainId chainId, ValidatorSet validators, BlockHeader chainHeader, Commit? chainCommit, out string reason)
    {
        var header = Conflict.Header;
        if (chainHeader.Height != header.Height) throw new ArgumentException("the chain's header is for another height", nameof(chainHeader));
        if (header.Hash == chainHeader.Hash) { reason = $"the header is this chain's header at height {header.Height}: no attack"; return null; }
        if (Conflict.Commit.Verify(chainId, validators, header.Height, header.Hash, CommitQuorum.OneThird) is { } failure)
        {
            reason = $"the conflicting commit: {failure.Message}";
            return null;
        }
        var signers = Conflict.Commit.Signatures.Select(s => s.Validator);
        List<Address> offenders;
        if (IsLunatic(header, chainHeader)) offenders = signers.ToList(); // every signer is in the set: Verify checked it
        else if (chainCommit is null) { reason = $"no commit of this chain for height {header.Height} to compare with"; return null; }
        else if (chainCommit.Round != Conflict.Commit.Round) offenders = [];
        else
        {
            var honest = chainCommit.Signatures.Select(s => s.Validator).ToHashSet();
            offenders = signers.Where(honest.Contains).ToList();
        }
        if (offenders.Count == 0)
        {
            reason = "no signer is provably faulty (an equivocation needs signers of both commits in the same round)";
            return null;
        }
        reason = "";
        return offenders;
    }

    /// <summary>A header no honest validator signs: it disagrees with the chain on what a validator checks itself.</summary>
    public static bool IsLunatic(BlockHeader conflicting, BlockHeader chainHeader) =>
        conflicting.ChainId != chainHeader.ChainId || conflicting.LastBlockHash != chainHeader.LastBlockHash
        || conflicting.ValidatorsHash != chainHeader.ValidatorsHash || conflicting.NextValidatorsHash != chainHeader.NextValidatorsHash;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(3);
        writer.Write(Kind);
        Conflict.WriteFields(ref writer);
    }
}

/// <summary>
/// Evidence waiting to be put in a block. Deduplicated by hash; pending items come out in arrival order.
/// The application includes <see cref="Pending"/> in the blocks it builds and calls <see cref="MarkCommitted"/>.
/// </summary>
public sealed class EvidencePool(int maxPending = 1024, long maxPendingBytes = 64L << 20, int maxCommittedRemembered = 65_536)
{
    private readonly Dictionary<Hash32, Evidence> _pending = new();
    private readonly List<Hash32> _order = new();
    private readonly HashSet<Hash32> _committed = new();
    private readonly Queue<Hash32> _committedOrder = new();
    private long _pendingBytes;

    /// <summary>Bytes of the pending items' encodings.</summary>
    public long PendingBytes => _pendingBytes;

    /// <summary>True when an item of <paramref name="bytes"/> would not fit (count or bytes): it is then refused.</summary>
    public bool IsFull(long bytes) => _pending.Count >= maxPending || _pendingBytes + bytes > maxPendingBytes;

    /// <summary>Adds evidence the caller has verified; false when it is already known or the pool is full.</summary>
    public bool Add(Evidence evidence)
    {
        var h = evidence.Hash;
        if (_committed.Contains(h) || _pending.ContainsKey(h) || IsFull(evidence.Encoded.Length)) return false;
        _pending.Add(h, evidence);
        _pendingBytes += evidence.Encoded.Length;
        _order.Add(h);
        return true;
    }

    private void Remove(Hash32 hash)
    {
        if (_pending.Remove(hash, out var gone)) _pendingBytes -= gone.Encoded.Length;
    }

    public IReadOnlyList<Evidence> Pending(int max = int.MaxValue) =>
        _order.Where(_pending.ContainsKey).Take(max).Select(h => _pending[h]).ToList();

    public int Count => _pending.Count;

    /// <summary>
    /// Drops what can no longer be included once <paramref name="next"/> is the height being decided: invalid
    /// proposals of earlier heights, and duplicate votes and light-client attacks past the inclusion window
    /// (see <see cref="EvidenceVerifier"/>).
    /// </summary>
    public void Prune(Height next)
    {
        foreach (var (hash, evidence) in _pending.ToList())
        {
            bool stale = evidence switch
            {
                InvalidProposalEvidence => evidence.Height.Value < next.Value,
                DuplicateVoteEvidence or LightClientAttackEvidence => EvidenceVerifier.PastWindow(evidence.Height, next),
                _ => true,
            };
            if (stale) Remove(hash);
        }
        _order.RemoveAll(h => !_pending.ContainsKey(h));
    }

    public void MarkCommitted(IEnumerable<Hash32> hashes)
    {
        foreach (var h in hashes)
        {
            // Remembered for a bounded while: execution refuses an item already in state anyway.
            if (_committed.Add(h)) _committedOrder.Enqueue(h);
            while (_committedOrder.Count > maxCommittedRemembered) _committed.Remove(_committedOrder.Dequeue());
            Remove(h);
        }
        _order.RemoveAll(h => !_pending.ContainsKey(h));
    }
}
