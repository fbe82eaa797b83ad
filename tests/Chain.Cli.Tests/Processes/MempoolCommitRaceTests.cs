using Chain.Cli.Commands;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Inference.Runtime;
using Chain.Node;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// A race the multi-process tests met: ValidatorNode.CommitBlock runs
/// ChainExecutor.Commit, then Mempool.Update. A submission between the two sees the account's new nonce but
/// still counts the committed transactions as pending, and the sender's next nonce is refused.
/// Mempool.Add now ignores pending entries below the account's nonce (docs/node.md).
/// </summary>
public sealed class MempoolCommitRaceTests
{
    [Fact]
    public void The_next_nonce_is_admitted_between_commit_and_mempool_update()
    {
        var genesis = HomeCommands.RepositoryGenesis();
        var validators = Enumerable.Range(0, genesis.Validators.Count).Select(i => DevnetKeys.For($"validator-{i}")).ToArray();
        using var engine = new InferenceEngine(enableFastPath: false);
        var executor = new ChainExecutor(genesis, new Chain.Storage.InMemoryStore(), new InMemoryStateBackend(), new InferenceRunner(engine, 16));
        var pool = new Mempool(executor);
        var alice = DevnetKeys.For("account-0");
        var bob = DevnetKeys.For("account-1").Address;
        SignedTransaction Transfer(ulong nonce) => new Transaction(genesis.ChainId, alice.PublicKey, nonce, 10_000, new TransferBody(bob, 1)).Sign(alice);

        var first = Transfer(0);
        Assert.Null(pool.Add(first));
        var proposal = executor.BuildBlock(new ProposalContext(genesis.GenesisTimeMs + 1_000, validators[0].Address, null), pool.Select());
        Assert.Single(proposal.Block.Transactions);
        var block = proposal.Block;
        var commit = new Commit(block.Height, new Round(0), block.Hash, validators.Select(key =>
        {
            var vote = new Vote(VoteType.Precommit, block.Height, new Round(0), block.Hash, block.Header.TimeMs + 10, key.Address);
            return new CommitSignature(key.Address, vote.TimestampMs, key.Sign(vote.SignBytes(genesis.ChainId)));
        }));
        executor.Commit(block, commit);

        // The window: committed, the mempool not yet updated (this used to be refused: "nonce 1, expected 2 (the next after 1 pending)").
        Assert.Null(pool.Add(Transfer(1)));
        pool.Update(block);
        Assert.Equal(1, pool.Count);
    }
}
