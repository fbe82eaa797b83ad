using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Storage;
using Xunit.Abstractions;
using static Chain.Execution.Tests.Fixture;

namespace Chain.Execution.Tests;

/// <summary>
/// Signatures verified on every core before the sequential pass (block building, block verification, batch admission)
/// only warm the signature cache: every verdict is the one the sequential pass reaches alone.
/// </summary>
public class ParallelVerificationTests(ITestOutputHelper output)
{
    private const int Threads = 4; // more than this machine may have cores: the schedule interleaves either way

    // Seeded at random each run (printed); CHAIN_TEST_SEED replays one.
    private static int Seed() =>
        int.TryParse(Environment.GetEnvironmentVariable("CHAIN_TEST_SEED"), out var seed) ? seed : Environment.TickCount;

    private static ChainExecutor NewExecutor(int parallelism, TransactionSignatureCache? signatures = null)
    {
        var store = new InMemoryStore();
        return new ChainExecutor(Fixture.Genesis(), store, new InMemoryStateBackend(), Runner(), signatures) { SignatureParallelism = parallelism };
    }

    // `count` transfers from the users in turn, each sender's nonces in order: a block that is valid as a whole.
    private static List<SignedTransaction> Transfers(int count) =>
        Enumerable.Range(0, count).Select(i => Transfer(User(i % Users), (ulong)(i / Users), User((i + 1) % Users).Address, 10)).ToList();

    private static SignedTransaction BadSignature(SignedTransaction tx)
    {
        var bytes = tx.Signature.Bytes.ToArray();
        bytes[7] ^= 0x20;
        return new SignedTransaction(tx.Transaction, new Signature(bytes));
    }

    // Signed correctly, but with a nonce from the future: refused by the nonce rule, after the signature check.
    private static SignedTransaction BadNonce(SignedTransaction tx, PrivateKey key) =>
        new Transaction(tx.Transaction.ChainId, tx.Transaction.Sender, tx.Transaction.Nonce + 1_000, tx.Transaction.Fee, tx.Transaction.Body).Sign(key);

    private static Block WithTransactions(Block template, IReadOnlyList<SignedTransaction> txs)
    {
        var h = template.Header;
        return new Block(new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, Block.ComputeTransactionsRoot(txs),
            h.ReceiptsRoot, h.StateRoot, h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer), txs, template.LastCommit, template.Evidence);
    }

    [Fact]
    public void A_valid_block_verifies_alike_and_fills_the_cache_on_every_core()
    {
        var txs = Transfers(48);
        var proposal = NewExecutor(1).BuildBlock(Context(Executor(), null), txs);
        Assert.Equal(txs.Count, proposal.Block.Transactions.Count);

        var sequential = NewExecutor(1);
        var signatures = new TransactionSignatureCache();
        var parallel = NewExecutor(Threads, signatures);
        var a = sequential.VerifyProposal(proposal.Block, proposal.Receipts);
        var b = parallel.VerifyProposal(proposal.Block, proposal.Receipts);
        Assert.True(a.Accepted, a.Failure?.ToString());
        Assert.True(b.Accepted, b.Failure?.ToString());
        Assert.Equal(a.Receipts, b.Receipts);
        Assert.Equal(a.StateRoot, b.StateRoot);

        // The parallel phase verified every signature; the sequential pass found each in the cache.
        Assert.Equal(txs.Count, signatures.Count);
        Assert.Equal(txs.Count, parallel.CacheCounters.SignaturesPreverified);
        Assert.Equal(txs.Count, parallel.CacheCounters.SignatureHits);
        Assert.Equal(0, parallel.CacheCounters.SignatureMisses);
        // Without the phase every one is verified in the pass.
        Assert.Equal(0, sequential.CacheCounters.SignaturesPreverified);
        Assert.Equal(txs.Count, sequential.CacheCounters.SignatureMisses);

        // A commit after the verification re-executes nothing and verifies nothing again.
        parallel.Commit(proposal.Block, CommitFor(proposal.Block));
        Assert.Equal(txs.Count, parallel.CacheCounters.SignaturesPreverified);
        Assert.Equal(0, parallel.CacheCounters.SignatureMisses);
    }

    [Fact]
    public void Bad_transactions_anywhere_give_the_sequential_verdict()
    {
        int seed = Seed();
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var template = Transfers(60);
        var proposal = NewExecutor(1).BuildBlock(Context(Executor(), null), template);
        for (int trial = 0; trial < 24; trial++)
        {
            var txs = template.ToList();
            // One to three bad transactions at random positions (the first and the last included now and then),
            // mostly bad signatures, sometimes a correctly signed transaction with a bad nonce.
            int bad = random.Next(1, 4);
            var positions = new SortedSet<int>();
            if (trial % 6 == 0) positions.Add(0);
            if (trial % 6 == 1) positions.Add(txs.Count - 1);
            while (positions.Count < bad) positions.Add(random.Next(txs.Count));
            foreach (var p in positions)
                txs[p] = random.Next(4) == 0 ? BadNonce(txs[p], User(p % Users)) : BadSignature(txs[p]);
            var block = WithTransactions(proposal.Block, txs);

            var sequential = NewExecutor(1);
            var signatures = new TransactionSignatureCache();
            var parallel = NewExecutor(Threads, signatures);
            var claimed = trial % 2 == 0 ? proposal.Receipts : null;
            var a = sequential.VerifyProposal(block, claimed);
            var b = parallel.VerifyProposal(block, claimed);
            string where = $"seed {seed}, trial {trial}, bad at {string.Join(",", positions)}";
            Assert.False(a.Accepted, where);
            Assert.Equal(a.Failure, b.Failure);
            Assert.Equal(positions.Min, a.Failure!.TransactionIndex);
            Assert.Equal(a.Receipts, b.Receipts);
            Assert.Equal(a.StateRoot, b.StateRoot);

            // The cache holds exactly the transactions whose signatures verify (bad nonces included), never a forged one.
            var verifying = txs.Where(t => t.Verify(Fixture.Chain, out _)).ToList();
            Assert.Equal(verifying.Count, signatures.Count);
            Assert.Equal(verifying.Count, parallel.CacheCounters.SignaturesPreverified);
            foreach (var t in txs.Except(verifying)) Assert.False(signatures.Verify(t, Fixture.Chain, out _, out bool cached) || cached, where);
        }
    }

    [Fact]
    public void A_proposer_builds_the_same_block_with_bad_candidates_anywhere()
    {
        int seed = Seed();
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int trial = 0; trial < 12; trial++)
        {
            var candidates = Transfers(40);
            foreach (var p in Enumerable.Range(0, candidates.Count).OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToList())
                candidates[p] = BadSignature(candidates[p]); // distinct positions: flipping one twice would restore it
            var a = NewExecutor(1).BuildBlock(Context(Executor(), null), candidates);
            var b = NewExecutor(Threads).BuildBlock(Context(Executor(), null), candidates);
            Assert.Equal(a.Block.Hash, b.Block.Hash);
            Assert.Equal(a.Receipts, b.Receipts);
            Assert.Equal(a.Skipped.Select(s => (s.Transaction.Hash, s.Reason)), b.Skipped.Select(s => (s.Transaction.Hash, s.Reason)));
            Assert.True(a.Skipped.Any(s => s.Reason.Code == RejectCode.InvalidSignature), $"seed {seed}, trial {trial}: {string.Join("; ", a.Skipped.Select(s => s.Reason))}");
        }
    }

    [Fact]
    public void Preverify_caches_only_what_verifies_for_this_chain_and_skips_what_is_cached()
    {
        var cache = new TransactionSignatureCache(capacity: 8);
        var txs = Transfers(6);
        txs[2] = BadSignature(txs[2]);
        txs.Add(Transfer(User(1), 9, User(2).Address, 1, chain: new ChainId("other-chain")));
        txs.Add(txs[0]); // the same object twice
        Assert.Equal(5, cache.Preverify(txs, Fixture.Chain, Threads));
        Assert.Equal(5, cache.Count);
        Assert.Equal(0, cache.Preverify(txs, Fixture.Chain, Threads)); // all cached or failing: nothing new
        Assert.True(cache.Verify(txs[1], Fixture.Chain, out _, out bool hit) && hit);
        Assert.False(cache.Verify(txs[2], Fixture.Chain, out var reason));
        Assert.Contains("bad signature", reason);
        Assert.False(cache.Verify(txs[6], Fixture.Chain, out _));

        // Never more than the capacity is looked at, so a batch never evicts its own entries.
        var small = new TransactionSignatureCache(capacity: 3);
        Assert.Equal(3, small.Preverify(Transfers(10), Fixture.Chain, Threads));
        Assert.Equal(0, new TransactionSignatureCache(capacity: 0).Preverify(Transfers(3), Fixture.Chain, Threads));
    }

    [Fact]
    public void AddRange_answers_as_Add_one_by_one_and_verifies_the_batch_into_the_cache()
    {
        int seed = Seed();
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int trial = 0; trial < 8; trial++)
        {
            var batch = Transfers(30);
            foreach (var p in Enumerable.Range(0, batch.Count).OrderBy(_ => random.Next()).Take(random.Next(1, 5)).ToList())
            {
                batch[p] = random.Next(3) switch
                {
                    0 => BadSignature(batch[p]),
                    1 => BadNonce(batch[p], User(p % Users)),
                    _ => batch[random.Next(batch.Count)], // a duplicate
                };
            }

            var oneByOne = new Mempool(Executor(), options: new MempoolOptions { SignatureParallelism = 1 });
            var expected = batch.Select(oneByOne.Add).ToList();
            var signatures = new TransactionSignatureCache();
            var ranged = new Mempool(Executor(), options: new MempoolOptions { SignatureParallelism = Threads }, signatures: signatures);
            var answers = ranged.AddRange(batch);
            Assert.Equal(expected, answers);
            Assert.Equal(oneByOne.Select().Select(t => t.Hash), ranged.Select().Select(t => t.Hash));
            Assert.Equal(batch.Where(t => t.Verify(Fixture.Chain, out _)).Select(t => t.Hash).Distinct().Count(), signatures.Count);
            Assert.Contains(answers, a => a is null);
        }
        Assert.Empty(new Mempool(Executor()).AddRange([]));
    }
}
