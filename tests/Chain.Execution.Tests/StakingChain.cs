using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>
/// A chain under staking, driven block by block through BuildBlock → VerifyProposal (a second node) → Commit on both.
/// Every block is proposed by a member of Vals(H) and committed by the signatures of Vals(H) (less those set offline);
/// after each block the headers' validator hashes are checked against the history and the supply invariant
/// (balances + bonded + unbonding + burned = genesis supply) is checked over every address the test touched.
/// </summary>
internal sealed class StakingChain
{
    public static StakingParameters Staking { get; } = new()
    {
        PowerReduction = 1_000,
        MaxValidators = 4,
        UnbondingPeriod = 10,
        SlashDuplicateVotePpm = 100_000,
        SlashInvalidProposalPpm = 20_000,
        SlashLightClientAttackPpm = 100_000,
        DowntimeWindow = 4,
        MaxMissed = 2,
        DowntimeJailHeights = 5,
        EvidenceJailHeights = 5,
        EvidenceMaxAge = 10,
    };

    public static Genesis Genesis { get; } = Fixture.Genesis(Params with { Staking = Staking });

    private readonly Dictionary<Address, PrivateKey> _keys = [];
    private readonly HashSet<Address> _touched = [];
    private readonly Dictionary<Address, ulong> _nonces = [];

    public StakingChain(InMemoryStore? store = null)
    {
        store ??= new InMemoryStore();
        Node = new ChainExecutor(Genesis, store, InMemoryStateBackend.Load(store), Runner(), evidence: new EvidenceVerifier(Fixture.Chain));
        Peer = new ChainExecutor(Genesis, new InMemoryStore(), new InMemoryStateBackend(), Runner(), evidence: new EvidenceVerifier(Fixture.Chain));
        for (int i = 0; i < Fixture.Validators; i++) Know(Fixture.Validator(i));
        for (int i = 0; i < Users; i++) Know(User(i));
        CheckSupply();
    }

    public ChainExecutor Node { get; }
    public ChainExecutor Peer { get; }
    public Commit? LastCommit { get; private set; }
    public List<Block> Blocks { get; } = [];

    /// <summary>Consensus addresses whose keys do not sign commits.</summary>
    public HashSet<Address> Offline { get; } = [];

    public StakingLedger Ledger => Node.Staking;
    public ulong Height => Node.Height.Value;

    public void Know(PrivateKey key)
    {
        _keys[key.Address] = key;
        _touched.Add(key.Address);
    }

    public SignedTransaction Tx(PrivateKey from, TransactionBody body)
    {
        Know(from);
        ulong nonce = _nonces.GetValueOrDefault(from.Address);
        _nonces[from.Address] = nonce + 1;
        return new Transaction(Fixture.Chain, from.PublicKey, nonce, Gas.MinFee(body, Params), body).Sign(from);
    }

    /// <summary>Forgets a nonce handed out for a transaction that was not included.</summary>
    public void Unuse(PrivateKey from) => _nonces[from.Address]--;

    public Proposal Propose(IEnumerable<SignedTransaction> txs, IEnumerable<ReadOnlyMemory<byte>>? evidence = null)
    {
        ulong height = Height + 1;
        var set = Node.ValidatorsAt(new Height(height))!.Set;
        var proposer = set.Validators[(int)(height % (ulong)set.Count)].Address;
        return Node.BuildBlock(new ProposalContext(TimeAt(height), proposer, LastCommit, evidence?.ToList()), txs);
    }

    /// <summary>Proposes, has the peer verify, commits on both; asserts every transaction was included.</summary>
    public Proposal Step(params SignedTransaction[] txs) => Step(txs, null);

    public Proposal Step(IReadOnlyList<SignedTransaction> txs, IEnumerable<ReadOnlyMemory<byte>>? evidence)
    {
        var proposal = Propose(txs, evidence);
        Assert.True(proposal.Skipped.Count == 0, $"left out: {string.Join("; ", proposal.Skipped.Select(s => s.Reason))}");
        Assert.Equal(txs.Count, proposal.Block.Transactions.Count);
        Commit(proposal);
        return proposal;
    }

    public void Commit(Proposal proposal)
    {
        var block = proposal.Block;
        var verdict = Peer.VerifyProposal(Core.Codec.Canonical.Decode<Block>(block.Encoded), proposal.Receipts);
        Assert.True(verdict.Accepted, verdict.Failure?.Message);
        var set = Node.ValidatorsAt(block.Height)!.Set;
        var commit = new Commit(block.Height, new Round(0), block.Hash, set.Validators.Where(v => !Offline.Contains(v.Address)).Select(v =>
        {
            var key = _keys[v.Address];
            var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, block.Header.TimeMs + 10, key.Address);
            return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(Fixture.Chain)));
        }));
        Node.Commit(block, commit);
        Peer.Commit(block, commit);
        LastCommit = commit;
        Blocks.Add(block);
        _touched.Add(block.Header.Proposer);

        Assert.Equal(Node.StateRoot, Peer.StateRoot);
        Assert.Equal(Node.ValidatorsAt(block.Height)!.Hash, block.Header.ValidatorsHash);
        Assert.Equal(Node.ValidatorsAt(block.Height.Next)!.Hash, block.Header.NextValidatorsHash);
        Assert.NotNull(Node.ValidatorsAt(new Height(block.Height.Value + 2)));
        Assert.Null(Node.ValidatorsAt(new Height(block.Height.Value + 3)));
        CheckSupply();
    }

    /// <summary>Empty blocks until the chain is at <paramref name="height"/>.</summary>
    public void RunTo(ulong height)
    {
        while (Height < height) Step();
    }

    public ulong Balance(Address address) => Node.GetAccount(address).Balance;

    public ValidatorRecord Validator(Address operatorAddress) => Ledger.Validator(operatorAddress) ?? throw new InvalidOperationException($"no validator {operatorAddress}");

    public ActiveValidators Set(ulong height) => Node.ValidatorsAt(new Height(height)) ?? throw new InvalidOperationException($"no set for {height}");

    public static IReadOnlyList<Address> Members(ActiveValidators active) => active.Set.Validators.Select(v => v.Address).ToList();

    /// <summary>balances + bonded + unbonding + burned = the genesis supply, over every address the test touched.</summary>
    public void CheckSupply()
    {
        var ledger = Ledger;
        ulong balances = _touched.Aggregate(0UL, (s, a) => checked(s + Node.GetAccount(a).Balance));
        ulong bonded = ledger.Candidates.Aggregate(0UL, (s, a) => checked(s + ledger.Validator(a)!.Tokens));
        ulong unbonding = ledger.Unbonding.Entries.Aggregate(0UL, (s, e) => checked(s + e.Amount));
        Assert.Equal(Genesis.TotalSupply, checked(balances + bonded + unbonding + ledger.Burned));
    }
}
