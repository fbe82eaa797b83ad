using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>Blocks carrying evidence: built by the proposer, re-verified by everyone, recorded in state once.</summary>
public class EvidenceInclusionTests
{
    private static readonly Genesis TestGenesis = Fixture.Genesis();
    private static EvidenceVerifier Verifier() => new(Fixture.Chain);

    private static ChainExecutor WithVerifier(IEvidenceVerifier? verifier = null) =>
        new(TestGenesis, new InMemoryStore(), new InMemoryStateBackend(), Runner(), evidence: verifier ?? Verifier());

    private static DuplicateVoteEvidence Equivocation(int validator, ulong height, ChainId? chain = null)
    {
        var key = Validator(validator);
        Vote Prevote(byte b) => new(VoteType.Prevote, new Height(height), new Round(0), new Hash32(Enumerable.Repeat(b, 32).ToArray()), 5, key.Address);
        return new DuplicateVoteEvidence(Prevote(1).Sign(chain ?? Fixture.Chain, key), Prevote(2).Sign(chain ?? Fixture.Chain, key));
    }

    private static ProposalContext ContextWith(ChainExecutor executor, Commit? lastCommit, params Evidence[] evidence) =>
        Context(executor, lastCommit) with { Evidence = evidence.Select(e => e.Encoded).ToList() };

    // The same block with other evidence and a header whose evidence root matches it (everything else unchanged).
    private static Block WithEvidence(Block block, IEnumerable<ReadOnlyMemory<byte>> evidence, Hash32? evidenceRoot = null)
    {
        var items = evidence.ToList();
        var h = block.Header;
        var header = new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot, h.ReceiptsRoot,
            h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, evidenceRoot ?? Block.ComputeEvidenceRoot(items), h.Proposer);
        return new Block(header, block.Transactions, block.LastCommit, items);
    }

    [Fact]
    public void Duplicate_vote_evidence_is_included_verified_by_another_node_and_recorded_once()
    {
        var proposer = WithVerifier();
        var validator = WithVerifier();
        var evidence = Equivocation(2, height: 1);

        var proposal = proposer.BuildBlock(ContextWith(proposer, null, evidence), [Transfer(User(0), 0, User(1).Address, 5)]);
        var block = proposal.Block;
        Assert.Single(block.Evidence);
        Assert.Equal(Block.ComputeEvidenceRoot(block.Evidence), block.Header.EvidenceRoot);
        Assert.True(block.ValidateBasic(Fixture.Chain, out _));

        // The block survives the wire (strict decode + re-encode) with its evidence.
        var decoded = Core.Codec.Canonical.Decode<Block>(block.Encoded);
        Assert.True(decoded.Encoded.Span.SequenceEqual(block.Encoded.Span));

        var verdict = validator.VerifyProposal(decoded);
        Assert.True(verdict.Accepted, verdict.Failure?.Message);
        Assert.Equal(block.Header.StateRoot, verdict.StateRoot);

        var commit = CommitFor(block);
        proposer.Commit(block, commit);
        validator.Commit(decoded, commit);
        var record = validator.GetEvidence(evidence.Hash);
        Assert.NotNull(record);
        Assert.Equal(Validator(2).Address, record!.Offender);
        Assert.Equal(1UL, record.OffenceHeight);
        Assert.Equal(1UL, record.IncludedAt);
        Assert.Equal("duplicate-vote", record.Kind);

        // Offered again, the proposer leaves it out; a block that carries it anyway is refused.
        var second = proposer.BuildBlock(ContextWith(proposer, commit, evidence), []);
        Assert.Empty(second.Block.Evidence);
        var replay = WithEvidence(second.Block, [evidence.Encoded]);
        var refused = validator.VerifyProposal(replay);
        Assert.Equal(VerifyFailureKind.InvalidEvidence, refused.Failure?.Kind);
        Assert.Contains("already included", refused.Failure!.Message);
    }

    [Fact]
    public void Forged_foreign_or_non_canonical_evidence_is_left_out_by_the_proposer_and_refused_in_a_block()
    {
        var forgedSignature = Equivocation(1, 1).Encoded.ToArray();
        forgedSignature[^1] ^= 1; // last byte of the second vote's signature
        var cases = new (string Name, ReadOnlyMemory<byte> Bytes, string Reason)[]
        {
            ("bad signature", forgedSignature, "signature"),
            ("other chain", Equivocation(1, 1, new ChainId("other-chain")).Encoded, "signature"),
            ("trailing byte", Equivocation(1, 1).Encoded.ToArray().Append((byte)0).ToArray(), "does not decode"),
            ("not a validator", new DuplicateVoteEvidence(
                new Vote(VoteType.Prevote, new Height(1), new Round(0), null, 5, User(3).Address).Sign(Fixture.Chain, User(3)),
                new Vote(VoteType.Prevote, new Height(1), new Round(0), Hash32.Zero, 5, User(3).Address).Sign(Fixture.Chain, User(3))).Encoded, "not a validator"),
            ("from the future", Equivocation(1, 5).Encoded, "duplicate votes at height 5 cannot be included at height 1"),
            ("garbage", new byte[] { 0x93, 0x07, 0x01, 0x02 }, "does not decode"),
        };
        foreach (var (name, bytes, reason) in cases)
        {
            var proposer = WithVerifier();
            var built = proposer.BuildBlock(Context(proposer, null) with { Evidence = [bytes] }, []);
            Assert.True(built.Block.Evidence.Count == 0, $"{name}: the proposer included it");

            var validator = WithVerifier();
            var stateBefore = validator.StateRoot;
            var verdict = validator.VerifyProposal(WithEvidence(built.Block, [bytes]));
            Assert.True(verdict.Failure?.Kind == VerifyFailureKind.InvalidEvidence, $"{name}: {verdict.Failure?.Kind} {verdict.Failure?.Message}");
            Assert.Contains(reason, verdict.Failure!.Message);
            Assert.Equal(stateBefore, validator.StateRoot);
        }
    }

    [Fact]
    public void A_header_whose_evidence_root_does_not_match_its_evidence_is_refused()
    {
        var proposer = WithVerifier();
        var block = proposer.BuildBlock(Context(proposer, null), []).Block;
        var mismatched = WithEvidence(block, [Equivocation(0, 1).Encoded], evidenceRoot: block.Header.EvidenceRoot);
        var verdict = WithVerifier().VerifyProposal(mismatched);
        Assert.Equal(VerifyFailureKind.InvalidBlock, verdict.Failure?.Kind);
        Assert.Contains("evidence root mismatch", verdict.Failure!.Message);

        var twice = WithEvidence(block, [Equivocation(0, 1).Encoded, Equivocation(0, 1).Encoded]);
        Assert.Contains("repeats", WithVerifier().VerifyProposal(twice).Failure!.Message);
    }

    [Fact]
    public void Without_an_evidence_verifier_a_block_with_evidence_is_refused()
    {
        var proposer = WithVerifier();
        var block = proposer.BuildBlock(ContextWith(proposer, null, Equivocation(3, 1)), []).Block;
        Assert.Single(block.Evidence);
        var plain = Executor(genesis: TestGenesis);
        var verdict = plain.VerifyProposal(block);
        Assert.Equal(VerifyFailureKind.InvalidEvidence, verdict.Failure?.Kind);
        Assert.Contains("no evidence verifier", verdict.Failure!.Message);
    }

    [Fact]
    public void Invalid_proposal_evidence_is_includable_only_at_its_height_and_only_if_the_block_really_fails_re_execution()
    {
        var selection = new ProposerSelection(TestGenesis.Validators);
        var badProposerAddress = selection.Proposer(new Height(1), new Round(0));
        var badProposer = Enumerable.Range(0, Validators).Select(Validator).Single(k => k.Address == badProposerAddress);

        // Round 0: the proposer's block claims a state root that re-execution does not give.
        var honest = WithVerifier();
        var good = honest.BuildBlock(new ProposalContext(TimeAt(1), badProposerAddress, null), [Transfer(User(0), 0, User(1).Address, 7)]).Block;
        var h = good.Header;
        var wrong = new Block(new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot, h.ReceiptsRoot,
            new Hash32(Enumerable.Repeat((byte)9, 32).ToArray()), h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer), good.Transactions, null);
        SignedProposal Signed(Block b) => new Consensus.Proposal(new Height(1), new Round(0), null, b.Hash, TimeAt(1), badProposerAddress).Sign(Fixture.Chain, badProposer);
        var evidence = new InvalidProposalEvidence(Signed(wrong), wrong);

        // Round 1 at the same height: the next proposer includes it; another node agrees.
        var nextProposer = selection.Proposer(new Height(1), new Round(1));
        var proposer = WithVerifier();
        var block = proposer.BuildBlock(new ProposalContext(TimeAt(1), nextProposer, null, [evidence.Encoded]), []).Block;
        Assert.Single(block.Evidence);
        var validator = WithVerifier();
        Assert.True(validator.VerifyProposal(block).Accepted);
        validator.Commit(block, CommitFor(block));
        Assert.Equal("invalid-proposal", validator.GetEvidence(evidence.Hash)?.Kind);
        Assert.Equal(badProposerAddress, validator.GetEvidence(evidence.Hash)?.Offender);

        // A correct block dressed up as invalid is not evidence.
        var framed = new InvalidProposalEvidence(Signed(good), good);
        var fresh = WithVerifier();
        var refused = fresh.VerifyProposal(WithEvidence(fresh.BuildBlock(new ProposalContext(TimeAt(1), nextProposer, null), []).Block, [framed.Encoded]));
        Assert.Contains("re-executes correctly", refused.Failure!.Message);

        // At a later height the state it was proposed on is gone: not includable.
        var later = validator.BuildBlock(new ProposalContext(TimeAt(2), selection.Proposer(new Height(2), new Round(0)), CommitFor(block), [evidence.Encoded]), []);
        Assert.Empty(later.Block.Evidence);
        var stale = WithEvidence(later.Block, [evidence.Encoded]);
        Assert.Contains("can only be included at that height", validator.VerifyProposal(stale).Failure!.Message);
    }
}
