using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;
using Chain.Testing;

namespace Chain.Execution.Tests;

/// <summary>
/// The fast path never decides a disagreement: a verifier whose fast path is wrong on one rare input still accepts
/// an honest block and falls back for that model; a wrong block is still refused; evidence convicts on the
/// canonical executor alone.
/// </summary>
public class FastPathDisputeTests
{
    private static readonly Genesis TestGenesis = Fixture.Genesis();
    private static readonly byte[] RareInput = Input(4242);
    private static readonly Hash32 RareHash = Core.Codec.Canonical.Decode<Tensor>(RareInput).Hash;

    private sealed record Node(ChainExecutor Executor, InferenceRunner Runner, InferenceEngine Engine, FlippingFastPath? FastPath, List<InferenceDispute> Disputes);

    // A node whose fast path is wrong on `wrongOn` (a hash no input has: a correct fast path); null: canonical only.
    private static Node NodeWith(Hash32? wrongOn, int cache = 4096)
    {
        FlippingFastPath? fast = null;
        var engine = wrongOn is { } rare
            ? new InferenceEngine(fastPathFactory: bytes => fast = new FlippingFastPath(bytes, rare))
            : new InferenceEngine(enableFastPath: false);
        // Loaded up front so the test can see the self-check adopt the fast path.
        Assert.Equal(wrongOn is not null, engine.Load(GenesisModelBytes).UsesFastPath);
        var runner = new InferenceRunner(engine, cache);
        var executor = new ChainExecutor(TestGenesis, new InMemoryStore(), new InMemoryStateBackend(), runner,
            evidence: new EvidenceVerifier(Fixture.Chain));
        var disputes = new List<InferenceDispute>();
        executor.Disputed += disputes.Add;
        return new Node(executor, runner, engine, fast, disputes);
    }

    private static readonly Hash32 NoInput = Core.Hashing.DomainHash.Sha256("no input hashes to this"u8);

    private static PrivateKey KeyOf(Address validator) => Enumerable.Range(0, Validators).Select(Fixture.Validator).Single(k => k.Address == validator);

    // The block with receipt `index` claiming another output hash, and the header's receipts root to match.
    private static Block Tamper(Block block, IReadOnlyList<Receipt> honest, int index)
    {
        var receipts = honest.ToArray();
        var r = receipts[index];
        var wrong = r.Inference!.OutputHash.ToArray();
        wrong[0] ^= 0xFF;
        receipts[index] = new Receipt(r.TransactionHash, r.Status, r.GasUsed,
            new InferenceResult(r.Inference.ModelId, r.Inference.SemanticsVersion, r.Inference.InputHash, new Hash32(wrong), r.Inference.Output.Span));
        var h = block.Header;
        var header = new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot,
            Block.ComputeReceiptsRoot(receipts), h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer);
        return new Block(header, block.Transactions, block.LastCommit, block.Evidence);
    }

    // Evidence against the round-0 proposer of height 1 for `block`, put in a block by the round-1 proposer.
    private static (InvalidProposalEvidence Evidence, Block Carrying) Accuse(Block block)
    {
        var selection = new ProposerSelection(TestGenesis.Validators);
        var offender = block.Header.Proposer;
        var signed = new Consensus.Proposal(new Height(1), new Round(0), null, block.Hash, TimeAt(1), offender).Sign(Fixture.Chain, KeyOf(offender));
        var evidence = new InvalidProposalEvidence(signed, block);
        var includer = NodeWith(null);
        var carrying = includer.Executor.BuildBlock(new ProposalContext(TimeAt(1), selection.Proposer(new Height(1), new Round(1)), null, [evidence.Encoded]), []).Block;
        Assert.Single(carrying.Evidence);
        return (evidence, carrying);
    }

    // Verifies `carrying` on a node whose fast path is wrong on the rare input, and shows the fast path was never asked.
    private static void AssertConvictsOnCanonicalAlone(InvalidProposalEvidence evidence, Block carrying)
    {
        var checker = NodeWith(RareHash);
        int calls = checker.FastPath!.Calls;
        var verdict = checker.Executor.VerifyProposal(carrying);
        Assert.True(verdict.Accepted, verdict.Failure?.Message);
        Assert.Equal(calls, checker.FastPath.Calls);
        Assert.Empty(checker.Disputes);
        checker.Executor.Commit(carrying, CommitFor(carrying));
        var record = checker.Executor.GetEvidence(evidence.Hash);
        Assert.Equal(("invalid-proposal", evidence.Offender), (record?.Kind, record?.Offender));
    }

    [Theory]
    [InlineData(false, false, 4096)]
    [InlineData(true, false, 4096)] // the proposer's receipts are given: the difference shows as a receipt mismatch
    [InlineData(false, true, 4096)] // the mempool pre-executed the rare input: the wrong output waits in the cache
    [InlineData(false, true, 0)]    // no cache at all
    public void A_verifier_whose_fast_path_is_wrong_on_one_input_accepts_the_honest_block_and_falls_back_for_that_model(bool withReceipts, bool preExecuted, int cache)
    {
        var proposer = NodeWith(null);
        var txs = new[]
        {
            Infer(User(1), 0, GenesisModelId, Input(5)),
            Infer(User(2), 0, GenesisModelId, RareInput),
            Transfer(User(3), 0, User(4).Address, 10),
        };
        var proposal = proposer.Executor.BuildBlock(Context(proposer.Executor, null), txs);
        Assert.Equal(3, proposal.Block.Transactions.Count);

        var verifier = NodeWith(RareHash, cache);
        var fast = verifier.FastPath!;
        int selfCheckCalls = fast.Calls;
        if (preExecuted)
        {
            var wrong = verifier.Runner.Run(GenesisModelId, () => GenesisModelBytes, Core.Codec.Canonical.Decode<Tensor>(RareInput));
            Assert.True(wrong.FastPath);
            Assert.NotEqual(proposal.Receipts[1].Inference!.OutputHash, wrong.Output!.Hash);
        }

        var verdict = verifier.Executor.VerifyProposal(proposal.Block, withReceipts ? proposal.Receipts : null);

        Assert.True(verdict.Accepted, verdict.Failure?.Message);
        Assert.Equal(proposal.Receipts.Select(r => r.Hash), verdict.Receipts.Select(r => r.Hash));
        // The fault really happened: the fast path served the ordinary input and gave a wrong output for the rare one.
        Assert.True(fast.Flips >= 1);
        Assert.True(fast.Calls - selfCheckCalls >= 2);
        var dispute = Assert.Single(verifier.Disputes);
        Assert.True(dispute.Accepted);
        Assert.Equal((2, 1), (dispute.Settled, dispute.Differed)); // both inferences were fast-path results; one was wrong
        Assert.Equal(withReceipts ? VerifyFailureKind.ReceiptMismatch : VerifyFailureKind.ReceiptsRoot, dispute.FastVerdict.Kind);
        if (withReceipts) Assert.Equal((1, "outputHash"), (dispute.FastVerdict.TransactionIndex, dispute.FastVerdict.Field));
        // That model left the fast path, with the cause on record.
        Assert.Equal(1, verifier.Engine.Fallbacks);
        var choice = Assert.Single(verifier.Engine.Choices);
        Assert.False(choice.UsesFastPath);
        Assert.Contains($"fast path differed from canonical on input {RareHash}", choice.Reason);

        var commit = CommitFor(proposal.Block);
        verifier.Executor.Commit(proposal.Block, commit);
        proposer.Executor.Commit(proposal.Block, commit);
        Assert.Equal(proposal.Block.Header.StateRoot, verifier.Executor.StateRoot);

        // From now on the model runs on canonical here: the rare input again is no dispute, and the fast path is not asked.
        int calls = fast.Calls;
        var next = proposer.Executor.BuildBlock(Context(proposer.Executor, commit), [Infer(User(4), 0, GenesisModelId, RareInput)]);
        Assert.True(verifier.Executor.VerifyProposal(next.Block).Accepted);
        Assert.Equal(calls, fast.Calls);
        Assert.Single(verifier.Disputes);
    }

    [Fact]
    public void A_tampered_proposal_is_still_refused_and_its_evidence_convicts_on_the_canonical_executor_alone()
    {
        var selection = new ProposerSelection(TestGenesis.Validators);
        var honest = NodeWith(null);
        var built = honest.Executor.BuildBlock(new ProposalContext(TimeAt(1), selection.Proposer(new Height(1), new Round(0)), null),
            [Infer(User(2), 0, GenesisModelId, RareInput)]);
        var tampered = Tamper(built.Block, built.Receipts, 0);

        // The verifier's own fast path is also wrong on that input: the canonical executor settles both.
        var verifier = NodeWith(RareHash);
        var verdict = verifier.Executor.VerifyProposal(tampered);
        Assert.Equal(VerifyFailureKind.ReceiptsRoot, verdict.Failure?.Kind);
        Assert.Equal(built.Block.Header.ReceiptsRoot.ToString(), verdict.Failure!.Expected); // the canonical receipts root
        var dispute = Assert.Single(verifier.Disputes);
        Assert.False(dispute.Accepted);
        Assert.Equal(1, dispute.Differed);
        Assert.Equal(1, verifier.Engine.Fallbacks);

        var (evidence, carrying) = Accuse(tampered);
        AssertConvictsOnCanonicalAlone(evidence, carrying);
    }

    [Fact]
    public void A_proposer_whose_fast_path_is_wrong_proposes_a_block_canonical_refuses_and_canonical_alone_convicts_it()
    {
        var selection = new ProposerSelection(TestGenesis.Validators);
        var faulty = NodeWith(RareHash);
        var built = faulty.Executor.BuildBlock(new ProposalContext(TimeAt(1), selection.Proposer(new Height(1), new Round(0)), null),
            [Infer(User(2), 0, GenesisModelId, RareInput)]);
        Assert.Equal(1, faulty.FastPath!.Flips); // the proposer does not check its fast path: its block carries the wrong output

        // A verifier with a correct fast path: the canonical executor sides with it, and its fast path stays on.
        var verifier = NodeWith(NoInput);
        Assert.Equal(VerifyFailureKind.ReceiptsRoot, verifier.Executor.VerifyProposal(built.Block).Failure?.Kind);
        var dispute = Assert.Single(verifier.Disputes);
        Assert.Equal((false, 1, 0), (dispute.Accepted, dispute.Settled, dispute.Differed));
        Assert.Equal(0, verifier.Engine.Fallbacks);
        Assert.True(Assert.Single(verifier.Engine.Choices).UsesFastPath);

        // A node whose fast path is wrong the same way accepts the block: agreeing fast paths are trusted
        // (docs/determinism.md). That is why evidence is judged by the canonical executor alone, which convicts.
        var twin = NodeWith(RareHash);
        Assert.True(twin.Executor.VerifyProposal(built.Block).Accepted);
        Assert.Empty(twin.Disputes);
        var (evidence, carrying) = Accuse(built.Block);
        AssertConvictsOnCanonicalAlone(evidence, carrying);
    }
}
