using System.Security.Cryptography;
using System.Text;
using Chain.Consensus.Simulation;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

/// <summary>One engine under test plus the keys to play every other validator by hand.</summary>
internal sealed class Harness
{
    public static readonly ChainId Chain = new("test");
    public static readonly TimeoutConfig Timeouts = new(1000, 100, 500, 50, 500, 50);
    public readonly PrivateKey[] Keys;
    public readonly ValidatorSet Validators;
    public readonly ConsensusConfig Config;
    public readonly SimApplication App;
    public readonly List<(Block, Commit)> Store = new();
    public ConsensusEngine Engine;
    public readonly int Me;
    public ulong Now = 100_000; // after every block time the tests build (5000 + tag), so proposals are timely

    public Harness(ulong[]? powers = null, Func<Harness, int>? chooseMe = null, IConsensusSigner? signer = null)
    {
        powers ??= [1, 1, 1, 1];
        Keys = powers.Select((_, i) => Key(i)).ToArray();
        Validators = new ValidatorSet(Keys.Select((k, i) => new Validator(k.PublicKey, powers[i])));
        Config = new ConsensusConfig(Chain, Validators, Timeouts);
        App = new SimApplication(Chain, Validators, Store);
        var selection = new ProposerSelection(Validators);
        // Default: a validator that proposes none of rounds 0..2, so the test plays every proposer.
        Me = chooseMe?.Invoke(this) ?? Enumerable.Range(0, Keys.Length).First(i =>
            Enumerable.Range(0, Math.Min(3, Keys.Length - 1)).All(r => selection.Proposer(new Height(1), new Round((uint)r)) != Keys[i].Address));
        Engine = new ConsensusEngine(Config, signer ?? new UnguardedSigner(Keys[Me]), new Height(1));
    }

    public static PrivateKey Key(int i) => PrivateKey.FromSeed(SHA256.HashData(Encoding.ASCII.GetBytes($"test-validator-{i}")));

    public int IndexOf(Address a) => Array.FindIndex(Keys, k => k.Address == a);
    public int ProposerIndex(uint round, ulong height = 1) => IndexOf(Engine.Proposer(new Height(height), new Round(round)));
    public IEnumerable<int> Others => Enumerable.Range(0, Keys.Length).Where(i => i != Me);

    public Block MakeBlock(uint round, ulong tag = 0, ulong height = 1) =>
        App.BuildBlock(new Height(height), new Round(round), Keys[ProposerIndex(round, height)].Address, 5000 + tag);

    public ProposalReceived ProposalFor(uint round, Block block, uint? polRound = null, ulong height = 1)
    {
        var key = Keys[ProposerIndex(round, height)];
        var p = new Proposal(new Height(height), new Round(round), polRound is { } pr ? new Round(pr) : null, block.Hash, 7, key.Address);
        return new ProposalReceived(p.Sign(Chain, key), block);
    }

    public VoteReceived VoteBy(int who, VoteType type, uint round, Hash32? hash, ulong height = 1, ChainId? chain = null) =>
        new(new Vote(type, new Height(height), new Round(round), hash, 9, Keys[who].Address).Sign(chain ?? Chain, Keys[who]));

    public IReadOnlyList<ConsensusAction> Start() => Engine.Start(Now);
    public IReadOnlyList<ConsensusAction> Handle(ConsensusEvent ev) => Engine.Handle(ev, Now);

    public List<ConsensusAction> HandleAll(IEnumerable<ConsensusEvent> events) => events.SelectMany(Handle).ToList();

    /// <summary>Delivers the proposal and the application's verdict on it.</summary>
    public List<ConsensusAction> Propose(uint round, Block block, bool valid = true, uint? polRound = null)
    {
        var actions = Handle(ProposalFor(round, block, polRound)).ToList();
        if (actions.OfType<VerifyProposalRequest>().Any())
            actions.AddRange(Handle(new ProposalVerified(new Height(1), block.Hash, valid)));
        return actions;
    }

    public static SignedVote? Voted(IEnumerable<ConsensusAction> actions, VoteType type) =>
        actions.OfType<BroadcastVote>().Select(b => b.Vote).SingleOrDefault(v => v.Vote.Type == type);
}
