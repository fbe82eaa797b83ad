using Chain.Core.Protocol;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

public class TransactionSignatureCacheTests
{
    [Fact]
    public void Only_verified_bytes_are_remembered_and_the_oldest_leave_first()
    {
        var cache = new TransactionSignatureCache(capacity: 2);
        var a = Transfer(User(1), 0, User(2).Address, 1);
        var b = Transfer(User(1), 1, User(2).Address, 1);
        var c = Transfer(User(1), 2, User(2).Address, 1);
        Assert.True(cache.Verify(a, Fixture.Chain, out _));
        Assert.True(cache.Verify(b, Fixture.Chain, out _));
        Assert.Equal(2, cache.Count);
        Assert.True(cache.Verify(c, Fixture.Chain, out _));
        Assert.Equal(2, cache.Count);

        // A forged signature over the same transaction is a different hash: never a hit, and refused.
        var sig = a.Signature.Bytes.ToArray();
        sig[0] ^= 1;
        var forged = new SignedTransaction(a.Transaction, new Chain.Core.Crypto.Signature(sig));
        Assert.False(cache.Verify(forged, Fixture.Chain, out var reason));
        Assert.NotEmpty(reason);
        Assert.Equal(2, cache.Count);

        // A hit still requires the chain id to match.
        Assert.False(cache.Verify(c, new Chain.Core.ChainId("other-chain"), out _));
    }

    [Fact]
    public void A_block_re_executes_identically_with_signatures_verified_by_the_mempool()
    {
        var signatures = new TransactionSignatureCache();
        var store = new Chain.Storage.InMemoryStore();
        var warm = new ChainExecutor(Fixture.Genesis(), store, new InMemoryStateBackend(), Runner(), signatures);
        var mempool = new Mempool(warm, null, signatures: signatures);
        var txs = Enumerable.Range(0, 5).Select(i => Transfer(User(i % 3), (ulong)(i / 3), User(4).Address, 10)).ToList();
        foreach (var tx in txs) Assert.Null(mempool.Add(tx));
        Assert.Equal(5, signatures.Count);
        var proposal = Executor().BuildBlock(Context(Executor(), null), txs);
        var verdict = warm.VerifyProposal(proposal.Block);
        Assert.True(verdict.Accepted, verdict.Failure?.ToString());
        Assert.Equal(proposal.Receipts.Select(r => r.Hash), verdict.Receipts.Select(r => r.Hash));
    }
}
