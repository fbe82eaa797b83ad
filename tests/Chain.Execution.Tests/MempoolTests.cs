using Chain.Core;
using Chain.Core.Protocol;
using static Chain.Execution.Tests.Fixture;
using Chain.Core.State;

namespace Chain.Execution.Tests;

public class MempoolTests
{
    private static (ChainExecutor Executor, Mempool Pool, InferenceRunner Runner) Setup(MempoolOptions? options = null)
    {
        var runner = Runner();
        var executor = new ChainExecutor(Fixture.Genesis(), new Chain.Storage.InMemoryStore(), new InMemoryStateBackend(), runner);
        return (executor, new Mempool(executor, runner, options), runner);
    }

    [Fact]
    public void Admission_refuses_each_invalid_transaction_with_its_code()
    {
        var (_, pool, _) = Setup();
        var good = Transfer(User(1), 0, User(2).Address, 5);
        Assert.Equal(RejectCode.InvalidSignature, pool.Add(new SignedTransaction(good.Transaction, Transfer(User(1), 1, User(2).Address, 5).Signature))?.Code);
        Assert.Equal(RejectCode.WrongChainId, pool.Add(Transfer(User(1), 0, User(2).Address, 5, chain: new ChainId("elsewhere")))?.Code);
        Assert.Equal(RejectCode.BadNonce, pool.Add(Transfer(User(1), 1, User(2).Address, 5))?.Code);
        Assert.Equal(RejectCode.FeeTooLow, pool.Add(Transfer(User(1), 0, User(2).Address, 5, fee: 1))?.Code);
        Assert.Equal(RejectCode.InsufficientFunds, pool.Add(Transfer(User(1), 0, User(2).Address, InitialBalance))?.Code);
        Assert.Equal(RejectCode.InsufficientFunds, pool.Add(Transfer(Key("pauper"), 0, User(2).Address, 0))?.Code);
        Assert.Equal(RejectCode.TooLarge, pool.Add(Register(User(1), 0, "big", MatMulModel(3, 256, 256)))?.Code);
        Assert.Equal(RejectCode.GasLimitTooHigh, pool.Add(Infer(User(1), 0, GenesisModelId, Input(1), maxGas: Params.BlockGasLimit + 1))?.Code);
        Assert.Equal(0, pool.Count);
        Assert.Null(pool.Add(good));
        Assert.Equal(RejectCode.Duplicate, pool.Add(good)?.Code);
        Assert.Equal(RejectCode.PendingOverspend, pool.Add(Transfer(User(1), 1, User(2).Address, InitialBalance - 2_000))?.Code);
        Assert.Equal(1, pool.Count);
        Assert.Equal(good.Encoded.Length, pool.Bytes);
    }

    [Fact]
    public void Replays_of_included_transactions_and_stale_nonces_are_refused()
    {
        var (executor, pool, _) = Setup();
        var tx = Transfer(User(1), 0, User(2).Address, 5);
        Assert.Null(pool.Add(tx));
        var (proposal, _) = Step(executor, pool.Select(), null);
        pool.Update(proposal.Block);
        Assert.Equal(0, pool.Count);
        Assert.Equal(RejectCode.AlreadyIncluded, pool.Add(tx)?.Code);
        Assert.Equal(RejectCode.BadNonce, pool.Add(Transfer(User(1), 0, User(3).Address, 7))?.Code);
        Assert.Null(pool.Add(Transfer(User(1), 1, User(3).Address, 7)));
    }

    [Fact]
    public void The_next_nonce_is_admitted_in_the_window_between_a_commit_and_the_mempool_update()
    {
        // RPC threads submit while the node's loop commits: the block is stored (the account's nonce moved on)
        // before Update removes its transactions from the pool. Those are not pending any more.
        var (executor, pool, _) = Setup();
        var first = Transfer(User(1), 0, User(2).Address, 5);
        Assert.Null(pool.Add(first));
        var (proposal, _) = Step(executor, pool.Select(), null);
        Assert.Single(proposal.Block.Transactions);

        Assert.Null(pool.Add(Transfer(User(1), 1, User(2).Address, 5)));
        Assert.Equal(RejectCode.BadNonce, pool.Add(Transfer(User(1), 3, User(2).Address, 5))?.Code);
        Assert.Equal(RejectCode.AlreadyIncluded, pool.Add(first)?.Code);
        pool.Update(proposal.Block);
        Assert.Equal(1, pool.Count);
        Assert.Null(pool.Add(Transfer(User(1), 2, User(2).Address, 5)));
    }

    [Fact]
    public void Selection_is_by_fee_with_each_senders_nonces_in_order()
    {
        var (_, pool, _) = Setup();
        var a0 = Transfer(User(1), 0, User(0).Address, 1, fee: 1_000);
        var a1 = Transfer(User(1), 1, User(0).Address, 1, fee: 9_000);
        var b0 = Transfer(User(2), 0, User(0).Address, 1, fee: 5_000);
        var c0 = Transfer(User(3), 0, User(0).Address, 1, fee: 2_000);
        foreach (var tx in new[] { a0, a1, b0, c0 }) Assert.Null(pool.Add(tx));
        Assert.Equal(new[] { b0, c0, a0, a1 }.Select(t => t.Hash), pool.Select().Select(t => t.Hash));
        Assert.Equal(new[] { b0, c0 }.Select(t => t.Hash), pool.Select(2).Select(t => t.Hash));
    }

    [Fact]
    public void A_full_pool_evicts_the_cheapest_tail_for_a_better_fee_and_refuses_otherwise()
    {
        var (_, pool, _) = Setup(new MempoolOptions { MaxTransactions = 3 });
        var cheap = Transfer(User(1), 0, User(0).Address, 1, fee: 1_000);
        var mid = Transfer(User(2), 0, User(0).Address, 1, fee: 2_000);
        var midNext = Transfer(User(2), 1, User(0).Address, 1, fee: 1_500);
        foreach (var tx in new[] { cheap, mid, midNext }) Assert.Null(pool.Add(tx));
        Assert.Equal(RejectCode.MempoolFull, pool.Add(Transfer(User(3), 0, User(0).Address, 1, fee: 1_000))?.Code);
        Assert.Null(pool.Add(Transfer(User(3), 0, User(0).Address, 1, fee: 1_200)));
        Assert.False(pool.Contains(cheap.Hash));
        Assert.True(pool.Contains(midNext.Hash));
        Assert.Equal(3, pool.Count);
    }

    [Fact]
    public void The_byte_limit_is_enforced()
    {
        var one = Transfer(User(1), 0, User(0).Address, 1);
        var (_, pool, _) = Setup(new MempoolOptions { MaxBytes = one.Encoded.Length * 2L });
        Assert.Null(pool.Add(one));
        Assert.Null(pool.Add(Transfer(User(2), 0, User(0).Address, 1)));
        Assert.Equal(RejectCode.MempoolFull, pool.Add(Transfer(User(3), 0, User(0).Address, 1))?.Code);
        Assert.True(pool.Bytes <= one.Encoded.Length * 2L);
    }

    [Fact]
    public void A_senders_pending_spend_is_exact_before_during_and_after_commits()
    {
        // The pool keeps each sender's pending spend as a running sum (admission no longer re-adds the whole queue):
        // it must stay exact through the window between a commit and Update, and through Update's rebuild.
        var (executor, pool, _) = Setup();
        var to = User(0).Address;
        var a = Enumerable.Range(0, 4).Select(n => Transfer(User(1), (ulong)n, to, 10)).ToArray();
        foreach (var tx in a) Assert.Null(pool.Add(tx));
        ulong Spend(SignedTransaction tx) => TransactionRules.Spend(tx.Transaction);

        var (first, firstCommit) = Step(executor, [a[0], a[1]], null);
        // The window: the block is stored, Update has not run. a0 and a1 are paid from the balance, not pending.
        ulong headroom = InitialBalance - Spend(a[0]) - Spend(a[1]) - Spend(a[2]) - Spend(a[3]);
        Assert.Equal(RejectCode.PendingOverspend, pool.Add(Transfer(User(1), 4, to, headroom - 1_000 + 1))?.Code);
        var leaves5000 = Transfer(User(1), 4, to, headroom - 1_000 - 5_000); // fee 1,000
        Assert.Null(pool.Add(leaves5000));

        pool.Update(first.Block); // the sender's queue is rebuilt: a2, a3, a4
        Assert.Equal(3, pool.Count);
        Assert.Equal(RejectCode.PendingOverspend, pool.Add(Transfer(User(1), 5, to, 4_001))?.Code);
        Assert.Null(pool.Add(Transfer(User(1), 5, to, 3_000))); // spends 4,000 of the 5,000 left

        var (second, _) = Step(executor, [a[2]], firstCommit);
        pool.Update(second.Block);
        Assert.Equal(3, pool.Count);
        Assert.Equal(RejectCode.PendingOverspend, pool.Add(Transfer(User(1), 6, to, 1))?.Code);
        Assert.Null(pool.Add(Transfer(User(1), 6, to, 0))); // the last 1,000, to the unit
    }

    [Fact]
    public void Commit_evicts_included_stale_and_unaffordable_transactions()
    {
        var (executor, pool, _) = Setup();
        var mine = new[] { Transfer(User(1), 0, User(0).Address, 1), Transfer(User(1), 1, User(0).Address, 1), Transfer(User(1), 2, User(0).Address, 1) };
        foreach (var tx in mine) Assert.Null(pool.Add(tx));
        var spender = Transfer(User(2), 0, User(0).Address, 1_000);
        var later = Transfer(User(2), 1, User(0).Address, 1_000);
        Assert.Null(pool.Add(spender));
        Assert.Null(pool.Add(later));
        // The block carries User(1)'s first transaction plus a competing one that drains User(2).
        var competing = new[] { mine[0], Transfer(User(1), 1, User(5).Address, 2), Transfer(User(2), 0, User(5).Address, InitialBalance - 1_000 - 500) };
        var (proposal, _) = Step(executor, competing, null);
        Assert.Equal(3, proposal.Block.Transactions.Count);
        pool.Update(proposal.Block);
        Assert.False(pool.Contains(mine[0].Hash));  // included
        Assert.False(pool.Contains(mine[1].Hash));  // nonce 1 now used by another transaction
        Assert.True(pool.Contains(mine[2].Hash));   // nonce 2 is next
        Assert.False(pool.Contains(spender.Hash));  // stale nonce
        Assert.False(pool.Contains(later.Hash));    // 500 left cannot pay fee 1000 + 1000
        Assert.Equal(1, pool.Count);
    }

    [Fact]
    public void Pre_execution_fills_the_cache_that_block_building_uses()
    {
        var (executor, pool, runner) = Setup();
        var txs = Enumerable.Range(0, 3).Select(i => Infer(User(i), 0, GenesisModelId, Input(100 + i))).ToArray();
        foreach (var tx in txs) Assert.Null(pool.Add(tx));
        Assert.Null(pool.Add(Infer(User(4), 0, Core.Hashing.DomainHash.Sha256("unknown"u8), Input(1)))); // skipped: no such model
        Assert.Equal(0, runner.CachedCount);
        Assert.Equal(2, pool.PreExecutePending(2));
        Assert.Equal(1, pool.PreExecutePending());
        Assert.Equal(0, pool.PreExecutePending());
        Assert.Equal(3, runner.CachedCount);
        long misses = runner.Misses;

        var proposal = executor.BuildBlock(Context(executor, null), pool.Select());
        Assert.Equal(misses, runner.Misses);
        Assert.Equal(3, runner.Hits);

        // And the cached results are exactly what a node without any cache computes.
        var cold = new ChainExecutor(Fixture.Genesis(), new Chain.Storage.InMemoryStore(), new InMemoryStateBackend(), Runner(cache: 0));
        var verdict = cold.VerifyProposal(proposal.Block, proposal.Receipts);
        Assert.True(verdict.Accepted, verdict.Failure?.Message);
    }

    [Fact]
    public void The_pre_execution_queue_is_bounded()
    {
        var (_, pool, _) = Setup(new MempoolOptions { PreExecutionQueueCapacity = 2 });
        for (int i = 0; i < 4; i++) Assert.Null(pool.Add(Infer(User(i), 0, GenesisModelId, Input(i))));
        Assert.Equal(2, pool.PreExecutionDropped);
        Assert.Equal(2, pool.PreExecutePending());
    }

    [Fact]
    public async Task The_background_worker_pre_executes_and_stops_on_cancel()
    {
        var (_, pool, runner) = Setup();
        using var cts = new CancellationTokenSource();
        var worker = pool.RunPreExecutionAsync(cts.Token);
        var tx = Infer(User(1), 0, GenesisModelId, Input(3));
        Assert.Null(pool.Add(tx));
        var input = Core.Codec.Canonical.Decode<Inference.Tensor>(Input(3));
        // Bounded wait on the observable effect, not a sleep.
        Assert.True(SpinWait.SpinUntil(() => runner.IsCached(GenesisModelId, input.Hash), TimeSpan.FromSeconds(30)));
        await cts.CancelAsync();
        await worker.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(worker.IsCompletedSuccessfully);
    }

    /// <summary>
    /// One set of rules: every body the state machine includes with a certain failure (TransactionRuleTests), admission
    /// refuses with that receipt status as its code, on one line naming the field — by gossip as by the RPC, since both
    /// call <see cref="Mempool.Add"/>. What may still succeed (an Infer of a model not registered yet; a new model) passes.
    /// </summary>
    [Fact]
    public void Admission_refuses_bodies_certain_to_fail_with_the_status_execution_gives_them()
    {
        var input = Input(1);
        ulong intrinsic = Params.InferGas + Params.InputByteGas * (ulong)input.Length;
        var certain = new (SignedTransaction Tx, string Field)[]
        {
            (Register(User(1), 0, "bad", RefusedModel()), "modelBytes"),
            (Register(User(1), 0, "junk", [1, 2, 3, 4, 5]), "modelBytes"),
            (Infer(User(1), 0, GenesisModelId, Input(1, k: K + 1)), "input"),
            (Infer(User(1), 0, GenesisModelId, Inference.Tensor.Create(Inference.TensorElementType.Int8, [1, K], new byte[K]).Encoded.ToArray()), "input"),
            (Infer(User(1), 0, GenesisModelId, [0x93, 0x02, 0x90]), "input"),
            (Infer(User(1), 0, GenesisModelId, input, maxGas: Params.InferGas), "maxGas"),
            (Infer(User(1), 0, GenesisModelId, input, maxGas: intrinsic + 1), "maxGas"),
        };
        foreach (var (tx, field) in certain)
        {
            var (executor, pool, _) = Setup();
            var refusal = pool.Add(tx);
            Assert.NotNull(refusal);
            Assert.StartsWith(field + ":", refusal.Message);
            Assert.DoesNotContain('\n', refusal.Message);
            Assert.Equal(0, pool.Count);
            // The state machine's verdict on the same transaction, included: the same number.
            var (proposal, _) = Step(executor, [tx], null);
            Assert.Equal((ushort)Assert.Single(proposal.Receipts).Status, (ushort)refusal.Code);
        }

        var (_, open, _) = Setup();
        Assert.Null(open.Add(Infer(User(1), 0, Core.Hashing.DomainHash.Sha256("later"u8), input)));
        Assert.Null(open.Add(Register(User(2), 0, "mine", MatMulModel(42))));
        Assert.Null(open.Add(Infer(User(3), 0, GenesisModelId, input)));
    }

    [Fact]
    public void A_pre_execution_that_throws_is_reported_and_the_worker_goes_on()
    {
        var runner = Runner();
        var executor = new ChainExecutor(Fixture.Genesis(), new Chain.Storage.InMemoryStore(), new InMemoryStateBackend(), runner);
        var ledger = new BrokenModelCode(executor);
        var pool = new Mempool(ledger, runner);
        var failures = new List<(Hash32, Exception)>();
        var tx = Infer(User(1), 0, GenesisModelId, Input(5));
        Assert.Null(pool.Add(tx));
        Assert.Throws<IOException>(() => pool.PreExecutePending()); // no handler: the exception is not swallowed

        pool.PreExecutionFailed += (hash, e) => failures.Add((hash, e));
        var second = Infer(User(2), 0, GenesisModelId, Input(6));
        Assert.Null(pool.Add(second));
        Assert.Equal(0, pool.PreExecutePending()); // reported, not thrown
        var (failed, exception) = Assert.Single(failures);
        Assert.Equal(second.Hash, failed);
        Assert.IsType<IOException>(exception);

        ledger.Broken = false;
        Assert.Null(pool.Add(Infer(User(3), 0, GenesisModelId, Input(7))));
        Assert.Equal(1, pool.PreExecutePending()); // and the next one runs
        Assert.Equal(2, pool.PreExecutionFailures);
        Assert.Equal(1, pool.PreExecuted);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_block_committed_while_a_submission_read_the_account_does_not_make_the_next_nonce_look_early(int read)
    {
        // A submission reads the sender's account (nonce 0 still pending) outside the pool's lock; before it takes the
        // lock, the block with nonce 0 commits and Update drops it. The stale nonce must not make nonce 1 a gap (a stress
        // run's client got "nonce 6, expected 5"). A transfer's admission reads the account twice before the lock (its
        // body check, then the nonce): the block lands right after the first, then right after the second.
        var runner = Runner();
        var executor = new ChainExecutor(Fixture.Genesis(), new Chain.Storage.InMemoryStore(), new InMemoryStateBackend(), runner);
        var ledger = new BlockAfterRead(executor);
        var pool = new Mempool(ledger, runner);
        Assert.Null(pool.Add(Transfer(User(1), 0, User(2).Address, 5)));
        ledger.Arm(read, () =>
        {
            var (proposal, _) = Step(executor, pool.Select(), null);
            pool.Update(proposal.Block);
        });

        Assert.Null(pool.Add(Transfer(User(1), 1, User(2).Address, 5)));
        Assert.True(ledger.Fired, $"the submission made fewer than {read} account reads");
        Assert.Equal(1, pool.Count);
        Assert.Equal(1UL, executor.GetAccount(User(1).Address).Nonce);
    }

    // Runs an action right after the n-th GetAccount (returning what that read saw): a block committing mid-submission.
    private sealed class BlockAfterRead(ILedgerView inner) : ILedgerView
    {
        private int _left;
        private Action? _then;
        public bool Fired { get; private set; }

        public void Arm(int read, Action then) => (_left, _then) = (read, then);

        public ChainId ChainId => inner.ChainId;
        public ExecutionParameters Parameters => inner.Parameters;
        public Height Height => inner.Height;
        public Account GetAccount(Address address)
        {
            var account = inner.GetAccount(address);
            if (_then is { } then && --_left == 0)
            {
                _then = null;
                Fired = true;
                then();
            }
            return account;
        }
        public ModelInfo? GetModel(Hash32 modelId) => inner.GetModel(modelId);
        public byte[]? GetModelCode(Hash32 modelId) => inner.GetModelCode(modelId);
        public bool IsIncluded(Hash32 transactionHash) => inner.IsIncluded(transactionHash);
        public StakingLedger Staking => inner.Staking;
    }

    private sealed class BrokenModelCode(ILedgerView inner) : ILedgerView
    {
        public bool Broken { get; set; } = true;
        public ChainId ChainId => inner.ChainId;
        public ExecutionParameters Parameters => inner.Parameters;
        public Height Height => inner.Height;
        public Account GetAccount(Address address) => inner.GetAccount(address);
        public ModelInfo? GetModel(Hash32 modelId) => inner.GetModel(modelId);
        public byte[]? GetModelCode(Hash32 modelId) => Broken ? throw new IOException("disk gone") : inner.GetModelCode(modelId);
        public bool IsIncluded(Hash32 transactionHash) => inner.IsIncluded(transactionHash);
        public StakingLedger Staking => inner.Staking;
    }
}
