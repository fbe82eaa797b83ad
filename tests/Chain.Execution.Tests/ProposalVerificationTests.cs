using Chain.Core;
using Chain.Core.Protocol;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>VerifyProposal refuses any tampered output, receipt or root, and says exactly where.</summary>
public class ProposalVerificationTests
{
    private static (ChainExecutor Proposer, ChainExecutor Validator, Proposal Proposal) Setup()
    {
        var proposer = Executor();
        var validator = Executor();
        var txs = new[]
        {
            Transfer(User(1), 0, User(2).Address, 10),
            Infer(User(2), 0, GenesisModelId, Input(5)),
            Infer(User(3), 0, GenesisModelId, Input(6)),
        };
        var proposal = proposer.BuildBlock(Context(proposer, null), txs);
        Assert.Equal(3, proposal.Block.Transactions.Count);
        return (proposer, validator, proposal);
    }

    private static Block WithHeader(Block block, Hash32? receiptsRoot = null, Hash32? stateRoot = null, Hash32? txRoot = null,
        ulong? height = null, ulong? time = null, Address? proposer = null, Hash32? lastBlockHash = null)
    {
        var h = block.Header;
        var header = new BlockHeader(h.ChainId, new Height(height ?? h.Height.Value), time ?? h.TimeMs, lastBlockHash ?? h.LastBlockHash, h.LastCommitHash,
            txRoot ?? h.TransactionsRoot, receiptsRoot ?? h.ReceiptsRoot, stateRoot ?? h.StateRoot,
            h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, proposer ?? h.Proposer);
        return new Block(header, block.Transactions, block.LastCommit);
    }

    [Fact]
    public void An_honest_proposal_is_accepted_and_commits()
    {
        var (_, validator, proposal) = Setup();
        var verdict = validator.VerifyProposal(proposal.Block, proposal.Receipts);
        Assert.True(verdict.Accepted, verdict.Failure?.Message);
        Assert.Equal(proposal.Receipts.Select(r => r.Hash), verdict.Receipts.Select(r => r.Hash));
        validator.Commit(proposal.Block, CommitFor(proposal.Block));
        Assert.Equal(proposal.Block.Header.StateRoot, validator.StateRoot);
        Assert.Equal(proposal.Receipts.Select(r => r.Hash), validator.Blocks.LoadReceipts(new Height(1)).Select(r => r.Hash));
    }

    [Fact]
    public void A_block_verified_once_is_not_executed_again_by_a_second_verification_or_its_commit()
    {
        var (_, validator, proposal) = Setup();
        var first = validator.VerifyProposal(proposal.Block);
        Assert.True(first.Accepted, first.Failure?.Message);
        long hits = validator.CacheCounters.InferenceHits, misses = validator.CacheCounters.InferenceMisses;
        Assert.True(hits + misses >= 2); // the first verification ran both inferences (or found them cached)

        // The node's worker verified it; sync or a peer's decision verifies it again, then the commit: no inference runs.
        var again = validator.VerifyProposal(proposal.Block);
        Assert.True(again.Accepted);
        Assert.Equal(first.StateRoot, again.StateRoot);
        Assert.Equal(first.Receipts.Select(r => r.Hash), again.Receipts.Select(r => r.Hash));
        validator.Commit(proposal.Block, CommitFor(proposal.Block));
        Assert.Equal((hits, misses), (validator.CacheCounters.InferenceHits, validator.CacheCounters.InferenceMisses));
        Assert.Equal(proposal.Block.Header.StateRoot, validator.StateRoot);
        // After the commit the block is no longer the next one: it is judged afresh, and refused.
        Assert.False(validator.VerifyProposal(proposal.Block).Accepted);
    }

    [Fact]
    public void A_tampered_output_hash_is_named_with_index_and_both_hashes()
    {
        var (_, validator, proposal) = Setup();
        var receipts = proposal.Receipts.ToArray();
        var real = receipts[2];
        var r = real.Inference!;
        var fake = Core.Hashing.DomainHash.Sha256("forged"u8);
        receipts[2] = new Receipt(real.TransactionHash, real.Status, real.GasUsed,
            new InferenceResult(r.ModelId, r.SemanticsVersion, r.InputHash, fake, r.Output.Span));
        var failure = validator.VerifyProposal(proposal.Block, receipts).Failure!;
        Assert.Equal(VerifyFailureKind.ReceiptMismatch, failure.Kind);
        Assert.Equal(2, failure.TransactionIndex);
        Assert.Equal(proposal.Block.Transactions[2].Hash, failure.TransactionHash);
        Assert.Equal("outputHash", failure.Field);
        Assert.Equal(r.OutputHash.ToString(), failure.Expected);
        Assert.Equal(fake.ToString(), failure.Actual);
    }

    [Fact]
    public void A_tampered_output_tensor_is_named()
    {
        var (_, validator, proposal) = Setup();
        var receipts = proposal.Receipts.ToArray();
        var real = receipts[1];
        var r = real.Inference!;
        var output = r.Output.ToArray();
        output[^1] ^= 1;
        receipts[1] = new Receipt(real.TransactionHash, real.Status, real.GasUsed,
            new InferenceResult(r.ModelId, r.SemanticsVersion, r.InputHash, r.OutputHash, output));
        var failure = validator.VerifyProposal(proposal.Block, receipts).Failure!;
        Assert.Equal((VerifyFailureKind.ReceiptMismatch, 1, "output"), (failure.Kind, failure.TransactionIndex!.Value, failure.Field!));
    }

    [Theory]
    [InlineData("status")]
    [InlineData("gasUsed")]
    [InlineData("inference")]
    public void A_tampered_receipt_field_is_named(string field)
    {
        var (_, validator, proposal) = Setup();
        var receipts = proposal.Receipts.ToArray();
        var real = receipts[1];
        receipts[1] = field switch
        {
            "status" => new Receipt(real.TransactionHash, ReceiptStatus.OutOfGas, real.GasUsed, real.Inference),
            "gasUsed" => new Receipt(real.TransactionHash, real.Status, real.GasUsed + 1, real.Inference),
            _ => new Receipt(real.TransactionHash, real.Status, real.GasUsed, null),
        };
        var failure = validator.VerifyProposal(proposal.Block, receipts).Failure!;
        Assert.Equal(VerifyFailureKind.ReceiptMismatch, failure.Kind);
        Assert.Equal(1, failure.TransactionIndex);
        Assert.Equal(field, failure.Field);
    }

    [Fact]
    public void A_missing_receipt_is_refused()
    {
        var (_, validator, proposal) = Setup();
        var failure = validator.VerifyProposal(proposal.Block, proposal.Receipts.Take(2).ToArray()).Failure!;
        Assert.Equal((VerifyFailureKind.ReceiptCount, "3", "2"), (failure.Kind, failure.Expected!, failure.Actual!));
    }

    [Fact]
    public void A_tampered_receipts_root_is_refused_with_both_roots()
    {
        var (_, validator, proposal) = Setup();
        var fake = Core.Hashing.DomainHash.Sha256("root"u8);
        var failure = validator.VerifyProposal(WithHeader(proposal.Block, receiptsRoot: fake)).Failure!;
        Assert.Equal(VerifyFailureKind.ReceiptsRoot, failure.Kind);
        Assert.Equal(proposal.Block.Header.ReceiptsRoot.ToString(), failure.Expected);
        Assert.Equal(fake.ToString(), failure.Actual);
    }

    [Fact]
    public void A_receipts_root_over_forged_receipts_is_refused_even_without_the_receipts()
    {
        var (_, validator, proposal) = Setup();
        var receipts = proposal.Receipts.ToArray();
        receipts[0] = new Receipt(receipts[0].TransactionHash, receipts[0].Status, receipts[0].GasUsed + 5);
        var failure = validator.VerifyProposal(WithHeader(proposal.Block, receiptsRoot: Block.ComputeReceiptsRoot(receipts))).Failure!;
        Assert.Equal(VerifyFailureKind.ReceiptsRoot, failure.Kind);
    }

    [Fact]
    public void A_tampered_state_root_is_refused_with_both_roots()
    {
        var (_, validator, proposal) = Setup();
        var fake = Core.Hashing.DomainHash.Sha256("state"u8);
        var failure = validator.VerifyProposal(WithHeader(proposal.Block, stateRoot: fake), proposal.Receipts).Failure!;
        Assert.Equal(VerifyFailureKind.StateRoot, failure.Kind);
        Assert.Equal(proposal.Block.Header.StateRoot.ToString(), failure.Expected);
        Assert.Equal(fake.ToString(), failure.Actual);
    }

    [Fact]
    public void A_tampered_transactions_root_is_refused()
    {
        var (_, validator, proposal) = Setup();
        var failure = validator.VerifyProposal(WithHeader(proposal.Block, txRoot: Hash32.Zero)).Failure!;
        Assert.Equal(VerifyFailureKind.InvalidBlock, failure.Kind);
        Assert.Contains("transactions root", failure.Message);
    }

    [Fact]
    public void Wrong_height_parent_time_and_proposer_are_refused()
    {
        var (_, validator, proposal) = Setup();
        Assert.Equal(VerifyFailureKind.BadTime, validator.VerifyProposal(WithHeader(proposal.Block, time: GenesisTime - 1)).Failure!.Kind);
        Assert.Equal(VerifyFailureKind.UnknownProposer, validator.VerifyProposal(WithHeader(proposal.Block, proposer: User(0).Address)).Failure!.Kind);
        validator.Commit(proposal.Block, CommitFor(proposal.Block));
        var again = validator.VerifyProposal(proposal.Block).Failure!;
        Assert.Equal((VerifyFailureKind.WrongHeight, "2", "1"), (again.Kind, again.Expected!, again.Actual!));
    }

    [Fact]
    public void A_second_block_must_link_to_the_committed_one_and_carry_its_commit()
    {
        var (proposer, validator, proposal) = Setup();
        var commit = CommitFor(proposal.Block);
        proposer.Commit(proposal.Block, commit);
        validator.Commit(proposal.Block, commit);
        var next = proposer.BuildBlock(Context(proposer, commit), [Transfer(User(1), 1, User(4).Address, 1)]);
        Assert.True(validator.VerifyProposal(next.Block, next.Receipts).Accepted);

        var wrongParent = WithHeader(next.Block, lastBlockHash: Hash32.Zero);
        // ValidateBasic ties lastBlockHash to the last commit, so this is caught as an invalid block.
        Assert.False(validator.VerifyProposal(wrongParent).Accepted);

        var forged = new Commit(commit.Height, commit.Round, commit.BlockHash, [commit.Signatures[0]]);
        var weak = new Block(new BlockHeader(next.Block.Header.ChainId, next.Block.Height, next.Block.Header.TimeMs, next.Block.Header.LastBlockHash,
            forged.Hash, next.Block.Header.TransactionsRoot, next.Block.Header.ReceiptsRoot, next.Block.Header.StateRoot,
            next.Block.Header.ValidatorsHash, next.Block.Header.NextValidatorsHash, next.Block.Header.EvidenceRoot, next.Block.Header.Proposer),
            next.Block.Transactions, forged);
        var failure = validator.VerifyProposal(weak).Failure!;
        Assert.Equal(VerifyFailureKind.BadLastCommit, failure.Kind);
        Assert.Contains("2/3", failure.Message);
    }

    [Fact]
    public void Commit_refuses_a_commit_without_a_supermajority_and_writes_nothing()
    {
        var (_, validator, proposal) = Setup();
        var full = CommitFor(proposal.Block);
        var weak = new Commit(full.Height, full.Round, full.BlockHash, full.Signatures.Take(2));
        var root = validator.StateRoot;
        Assert.Throws<InvalidOperationException>(() => validator.Commit(proposal.Block, weak));
        Assert.Equal(root, validator.StateRoot);
        Assert.Null(validator.Blocks.LatestHeight);
    }

    [Fact]
    public void Commit_re_executes_a_block_it_has_not_seen_and_refuses_a_bad_one()
    {
        var (_, validator, proposal) = Setup();
        var bad = WithHeader(proposal.Block, stateRoot: Hash32.Zero);
        var error = Assert.Throws<InvalidOperationException>(() => validator.Commit(bad, CommitFor(bad)));
        Assert.Contains("state root", error.Message);
        Assert.Null(validator.Blocks.LatestHeight);
        validator.Commit(proposal.Block, CommitFor(proposal.Block));
        Assert.Equal(proposal.Block.Header.StateRoot, validator.StateRoot);
    }

    [Fact]
    public void A_proposal_that_never_commits_leaves_no_trace()
    {
        var store = new InMemoryStore();
        var state = new InMemoryStateBackend();
        var executor = new ChainExecutor(Fixture.Genesis(), store, state, Runner());
        var root = executor.StateRoot;
        var before = state.Snapshot().Count;
        var proposal = executor.BuildBlock(Context(executor, null), [Transfer(User(1), 0, User(2).Address, 10)]);
        Assert.NotEqual(root, proposal.Block.Header.StateRoot);
        Assert.Equal(root, executor.StateRoot);
        Assert.Equal(before, state.Snapshot().Count);
        Assert.Equal(InitialBalance, executor.GetAccount(User(1).Address).Balance);
        Assert.Null(store.Get(Column.Headers, Keys.Height(1)));
    }
}
