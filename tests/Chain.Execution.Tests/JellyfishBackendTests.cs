using Chain.Core;
using Chain.Core.Protocol;
using Chain.State;
using Chain.Storage;
using static Chain.Execution.Tests.Fixture;
using Chain.Core.State;

namespace Chain.Execution.Tests;

/// <summary>Execution on the production state backend (the sparse Merkle tree), end to end.</summary>
public sealed class JellyfishBackendTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-jmt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (List<Hash32> Blocks, Commit? Last) Run(ChainExecutor executor, IEnumerable<List<SignedTransaction>> blocks, Commit? last)
    {
        var hashes = new List<Hash32>();
        foreach (var txs in blocks)
        {
            var (proposal, commit) = Step(executor, txs, last);
            last = commit;
            hashes.Add(proposal.Block.Hash);
        }
        return (hashes, last);
    }

    [Fact]
    public void Two_executions_agree_and_a_restart_mid_chain_yields_the_same_roots()
    {
        var stream = DeterminismTests.Stream(91, 8);
        var memory = new InMemoryStore();
        var reference = new ChainExecutor(Fixture.Genesis(), memory, JellyfishStateBackend.Open(memory), Runner());
        var (expected, _) = Run(reference, stream, null);

        List<Hash32> first;
        using (var store = RocksDbStore.Open(_dir))
        {
            var executor = new ChainExecutor(Fixture.Genesis(), store, JellyfishStateBackend.Open(store), Runner());
            (first, _) = Run(executor, stream.Take(4), null);
        }
        using (var store = RocksDbStore.Open(_dir))
        {
            var state = JellyfishStateBackend.Open(store);
            Assert.Equal(4UL, state.Version);
            var executor = new ChainExecutor(Fixture.Genesis(), store, state, Runner());
            var (rest, _) = Run(executor, stream.Skip(4), executor.Blocks.LoadCommit(new Height(4)));
            Assert.Equal(expected, first.Concat(rest));
            Assert.Equal(reference.StateRoot, executor.StateRoot);
            Assert.Equal(reference.Blocks.LoadHeader(new Height(8))!.StateRoot, executor.StateRoot);
        }
    }

    [Fact]
    public void Account_and_model_proofs_verify_against_the_header_state_root_and_a_flipped_bit_fails()
    {
        var store = new InMemoryStore();
        var state = JellyfishStateBackend.Open(store);
        var executor = new ChainExecutor(Fixture.Genesis(), store, state, Runner());
        var (proposal, _) = Step(executor, [Transfer(User(1), 0, User(2).Address, 5)], null);
        var root = proposal.Block.Header.StateRoot;
        Assert.Equal(root, state.Root);

        var account = StateKeys.Account(User(2).Address);
        var value = state.Get(account)!;
        var proof = state.Prove(account);
        Assert.True(proof.Verify(root, account, value));
        var tampered = (byte[])value.Clone();
        tampered[^1] ^= 1;
        Assert.False(proof.Verify(root, account, tampered));
        var flippedRoot = root.ToArray();
        flippedRoot[0] ^= 0x80;
        Assert.False(proof.Verify(new Hash32(flippedRoot), account, value));

        // The genesis model's bytes (over 64 KiB is allowed) are provable too, and an unknown model is provably absent.
        var code = StateKeys.ModelCode(GenesisModelId);
        Assert.True(state.Prove(code).Verify(root, code, state.Get(code)));
        var unknown = StateKeys.Model(new Hash32(new byte[32]));
        Assert.Null(state.Get(unknown));
        Assert.True(state.Prove(unknown).Verify(root, unknown, null));
        Assert.False(state.Prove(account).Verify(root, account, null));
    }
}
