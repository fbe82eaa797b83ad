using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Consensus;

/// <summary>The votes of one type at one (height, round): at most one per validator, tallied by power.</summary>
internal sealed class VoteSet
{
    private readonly Dictionary<Address, SignedVote> _votes = new();
    private readonly Dictionary<Hash32, ulong> _powerFor = new();

    public ulong NilPower { get; private set; }
    public ulong TotalPower { get; private set; }
    public IEnumerable<SignedVote> Votes => _votes.Values;

    public bool TryGet(Address validator, out SignedVote vote) => _votes.TryGetValue(validator, out vote!);

    public void Add(SignedVote vote, ulong power)
    {
        _votes.Add(vote.Vote.Validator, vote);
        TotalPower += power;
        if (vote.Vote.BlockHash is { } h) _powerFor[h] = _powerFor.GetValueOrDefault(h) + power;
        else NilPower += power;
    }

    public ulong PowerFor(Hash32 hash) => _powerFor.GetValueOrDefault(hash);

    /// <summary>The block with more than 2/3 of the power, if any (at most one can have it).</summary>
    public Hash32? SupermajorityBlock(ValidatorSet validators)
    {
        foreach (var (hash, power) in _powerFor)
            if (validators.IsSupermajority(power)) return hash;
        return null;
    }

    public IEnumerable<SignedVote> VotesFor(Hash32? hash) => _votes.Values.Where(v => v.Vote.BlockHash == hash);
}
