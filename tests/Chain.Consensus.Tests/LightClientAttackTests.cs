using Chain.Consensus.Simulation;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

/// <summary>Kind 3 evidence: a conflicting header for a committed height, judged against this chain.</summary>
public sealed class LightClientAttackTests
{
    private static readonly PrivateKey[] Keys = Enumerable.Range(0, 4).Select(Harness.Key).ToArray();
    private static readonly ValidatorSet Set = new(Keys.Select(k => new Validator(k.PublicKey, 1)));
    private static readonly EvidenceVerifier Verifier = new(Harness.Chain);

    // Two committed heights, each signed by keys 0, 1 and 2 in round 0.
    private readonly List<(Block Block, Commit Commit)> _store = new();
    private readonly History _history;

    public LightClientAttackTests()
    {
        var app = new SimApplication(Harness.Chain, Set, _store);
        var selection = new ProposerSelection(Set);
        for (ulong h = 1; h <= 2; h++)
        {
            var block = app.BuildBlock(new Height(h), new Round(0), selection.Proposer(new Height(h), new Round(0)), 1000 * h);
            _store.Add((block, CommitBy([0, 1, 2], block.Header, Harness.Chain)));
        }
        _history = new History(Set, _store);
    }

    private sealed class History(ValidatorSet set, List<(Block Block, Commit Commit)> store) : IChainHistory
    {
        public ActiveValidators? ValidatorsAt(Height height) => new(set, new Height(1));
        public BlockHeader? HeaderAt(Height height) => height.Value >= 1 && height.Value <= (ulong)store.Count ? store[(int)height.Value - 1].Block.Header : null;
        public Commit? CommitAt(Height height) => height.Value >= 1 && height.Value <= (ulong)store.Count ? store[(int)height.Value - 1].Commit : null;
    }

    private static Commit CommitBy(IEnumerable<int> keys, BlockHeader header, ChainId chain, uint round = 0) =>
        new(header.Height, new Round(round), header.Hash, keys.Select(k =>
        {
            var v = new Vote(VoteType.Precommit, header.Height, new Round(round), header.Hash, 77, Keys[k].Address).Sign(chain, Keys[k]);
            return new CommitSignature(v.Vote.Validator, v.Vote.TimestampMs, v.Signature);
        }));

    private static BlockHeader Altered(BlockHeader h, ulong? time = null, Hash32? validatorsHash = null, ChainId? chain = null) =>
        new(chain ?? h.ChainId, h.Height, time ?? h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot, h.ReceiptsRoot, h.StateRoot,
            validatorsHash ?? h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer);

    private EvidenceCheck? Check(ConflictingHeader conflict, out string refusal, ulong includedAt = 3) =>
        Verifier.Check(conflict.Encoded, new Height(includedAt), _history, _ => true, out refusal);

    private static Address[] Addresses(params int[] keys) => keys.Select(k => Keys[k].Address).OrderBy(a => a).ToArray();

    [Fact]
    public void Encoding_IsCoresAndRoundTrips()
    {
        var header = Altered(_store[0].Block.Header, time: 1);
        var conflict = new ConflictingHeader(header, CommitBy([2, 3], header, Harness.Chain));
        var evidence = Assert.IsType<LightClientAttackEvidence>(Canonical.Decode<Evidence>(conflict.Encoded));
        Assert.Equal(conflict.Encoded.ToArray(), evidence.Encoded.ToArray());
        Assert.Equal(Evidence.KindLightClientAttack, evidence.Kind);
        Assert.Equal(new Height(1), evidence.Height);
    }

    [Fact]
    public void HonestHeader_IsRefused()
    {
        var (block, commit) = _store[0];
        Assert.Null(Check(new ConflictingHeader(block.Header, commit), out var why));
        Assert.Contains("is this chain's header", why);
    }

    [Fact]
    public void Lunatic_ConvictsEverySigner()
    {
        // A validators hash no honest validator would sign; keys 2 and 3 (half the power) signed it.
        var header = Altered(_store[0].Block.Header, validatorsHash: Hash32.Zero);
        var check = Check(new ConflictingHeader(header, CommitBy([2, 3], header, Harness.Chain)), out var why);
        Assert.True(check is not null, why);
        Assert.Equal("light-client-attack", check.Kind);
        Assert.Equal(new Height(1), check.OffenceHeight);
        Assert.Equal(Addresses(2, 3), check.Offenders.ToArray());
    }

    [Fact]
    public void Equivocation_ConvictsSignersOfBothCommitsInTheSameRound()
    {
        // Same parent and sets, another time: only who also signed the chain's commit (keys 0–2) equivocated.
        var header = Altered(_store[1].Block.Header, time: 123456);
        var check = Check(new ConflictingHeader(header, CommitBy([1, 3], header, Harness.Chain)), out var why);
        Assert.True(check is not null, why);
        Assert.Equal(Addresses(1), check.Offenders.ToArray());

        // In another round than the chain's commit, nobody provably signed two blocks for one (height, round).
        Assert.Null(Check(new ConflictingHeader(header, CommitBy([1, 3], header, Harness.Chain, round: 1)), out why));
        Assert.Contains("no signer is provably faulty", why);
    }

    [Fact]
    public void InsufficientPower_IsRefused()
    {
        var header = Altered(_store[0].Block.Header, validatorsHash: Hash32.Zero);
        Assert.Null(Check(new ConflictingHeader(header, CommitBy([3], header, Harness.Chain)), out var why)); // 1 of 4
        Assert.Contains("not more than 1/3", why);
    }

    [Fact]
    public void WrongChain_AndUncommittedHeight_AndWindow_AreRefused()
    {
        var other = new ChainId("other-chain");
        var foreign = Altered(_store[0].Block.Header, chain: other);
        Assert.Null(Check(new ConflictingHeader(foreign, CommitBy([0, 1, 2], foreign, other)), out var why));
        Assert.Contains("bad precommit signature", why);

        var future = new BlockHeader(Harness.Chain, new Height(3), 5, _store[1].Block.Hash, Hash32.Zero, Hash32.Zero, Hash32.Zero, Hash32.Zero,
            Set.Hash, Set.Hash, Hash32.Zero, Keys[0].Address);
        Assert.Null(Check(new ConflictingHeader(future, CommitBy([0, 1, 2], future, Harness.Chain)), out why, includedAt: 4));
        Assert.Contains("not committed here", why);

        var header = Altered(_store[0].Block.Header, validatorsHash: Hash32.Zero);
        var conflict = new ConflictingHeader(header, CommitBy([2, 3], header, Harness.Chain));
        Assert.Null(Check(conflict, out why, includedAt: 2 + ProtocolLimits.MaxEvidenceAgeHeights));
        Assert.Contains("window", why);
        Assert.NotNull(Check(conflict, out why, includedAt: 1 + ProtocolLimits.MaxEvidenceAgeHeights));
    }

    [Fact]
    public void Pool_PrunesAttacksPastTheWindow()
    {
        var header = Altered(_store[0].Block.Header, validatorsHash: Hash32.Zero);
        var evidence = new LightClientAttackEvidence(new ConflictingHeader(header, CommitBy([2, 3], header, Harness.Chain)));
        var pool = new EvidencePool();
        Assert.True(pool.Add(evidence));
        pool.Prune(new Height(1 + ProtocolLimits.MaxEvidenceAgeHeights));
        Assert.Equal(1, pool.Count);
        pool.Prune(new Height(2 + ProtocolLimits.MaxEvidenceAgeHeights));
        Assert.Equal(0, pool.Count);
    }
}
