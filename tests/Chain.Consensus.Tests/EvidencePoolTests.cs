using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;

namespace Chain.Consensus.Tests;

public class EvidencePoolTests
{
    private static readonly ChainId Chain = new("pool-test");
    private static readonly PrivateKey Key = PrivateKey.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray());

    // Distinct duplicate-vote evidence items (one per height).
    private static DuplicateVoteEvidence Item(ulong height)
    {
        SignedVote Vote(Hash32? hash) => new Vote(VoteType.Prevote, new Height(height), new Round(0), hash, 1, Key.Address).Sign(Chain, Key);
        return new DuplicateVoteEvidence(Vote(Hash32.Zero), Vote(null));
    }

    [Fact]
    public void The_pool_is_bounded_in_items_and_bytes_and_refuses_what_does_not_fit()
    {
        var byCount = new EvidencePool(maxPending: 3);
        Assert.True(byCount.Add(Item(1)));
        Assert.True(byCount.Add(Item(2)));
        Assert.True(byCount.Add(Item(3)));
        Assert.False(byCount.Add(Item(4)));
        Assert.Equal(3, byCount.Count);
        byCount.MarkCommitted([Item(1).Hash]);
        Assert.True(byCount.Add(Item(4)));

        long size = Item(1).Encoded.Length;
        var byBytes = new EvidencePool(maxPendingBytes: 2 * size);
        Assert.True(byBytes.Add(Item(1)));
        Assert.True(byBytes.Add(Item(2)));
        Assert.True(byBytes.IsFull(size));
        Assert.False(byBytes.Add(Item(3)));
        Assert.Equal(2 * size, byBytes.PendingBytes);
        byBytes.Prune(new Height(1 + ProtocolLimits.MaxEvidenceAgeHeights + 2)); // both past the window
        Assert.Equal(0, byBytes.PendingBytes);
        Assert.True(byBytes.Add(Item(ProtocolLimits.MaxEvidenceAgeHeights + 3)));
    }

    [Fact]
    public void Committed_hashes_are_remembered_for_a_bounded_while()
    {
        var pool = new EvidencePool(maxCommittedRemembered: 2);
        pool.MarkCommitted([Item(1).Hash, Item(2).Hash]);
        Assert.False(pool.Add(Item(1)));
        pool.MarkCommitted([Item(3).Hash]);
        Assert.True(pool.Add(Item(1))); // forgotten: execution's state check refuses it if it is ever proposed again
        Assert.False(pool.Add(Item(3)));
    }
}
