using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>
/// The votes of one type at one (height, round), tallied by power. As in the paper, a quorum for a block is
/// counted over the validators that voted for that block, so an equivocator's vote for X still counts towards
/// X even if its conflicting vote arrived first (otherwise a proof-of-lock seen by one validator could stay
/// invisible to the others forever). Each validator counts once per block, once in <see cref="TotalPower"/>.
/// </summary>
internal sealed class VoteSet
{
    private readonly Dictionary<Address, SignedVote> _first = new();
    private readonly Dictionary<Hash32, Dictionary<Address, SignedVote>> _byBlock = new();
    private readonly Dictionary<Hash32, ulong> _powerFor = new();
    private readonly Dictionary<Address, SignedVote> _nil = new();

    public ulong NilPower { get; private set; }
    public ulong TotalPower { get; private set; }
    /// <summary>Each validator's first vote.</summary>
    public IEnumerable<SignedVote> Votes => _first.Values;

    public bool TryGet(Address validator, out SignedVote vote) => _first.TryGetValue(validator, out vote!);

    /// <summary>True when this exact vote (validator and block) is already counted.</summary>
    public bool Has(SignedVote vote) => vote.Vote.BlockHash is { } h
        ? _byBlock.TryGetValue(h, out var m) && m.ContainsKey(vote.Vote.Validator)
        : _nil.ContainsKey(vote.Vote.Validator);

    public void Add(SignedVote vote, ulong power)
    {
        var who = vote.Vote.Validator;
        if (Has(vote)) return;
        if (_first.TryAdd(who, vote)) TotalPower += power;
        if (vote.Vote.BlockHash is { } h)
        {
            if (!_byBlock.TryGetValue(h, out var m)) _byBlock[h] = m = new Dictionary<Address, SignedVote>();
            m[who] = vote;
            _powerFor[h] = _powerFor.GetValueOrDefault(h) + power;
        }
        else
        {
            _nil[who] = vote;
            NilPower += power;
        }
    }

    public ulong PowerFor(Hash32 hash) => _powerFor.GetValueOrDefault(hash);

    /// <summary>The block with more than 2/3 of the power, if any (two cannot both have it unless a third equivocates).</summary>
    public Hash32? SupermajorityBlock(ValidatorSet validators)
    {
        Hash32? best = null;
        foreach (var (hash, power) in _powerFor)
            if (validators.IsSupermajority(power) && (best is null || hash < best.Value)) best = hash;
        return best;
    }

    public IEnumerable<SignedVote> VotesFor(Hash32? hash) =>
        hash is { } h ? (_byBlock.TryGetValue(h, out var m) ? m.Values : []) : _nil.Values;

    /// <summary>All counted votes, including the conflicting ones.</summary>
    public IEnumerable<SignedVote> AllVotes => _byBlock.Values.SelectMany(m => m.Values).Concat(_nil.Values);
}
