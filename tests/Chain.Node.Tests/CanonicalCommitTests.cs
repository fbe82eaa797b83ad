using System.Net.Http.Json;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Network;
using Chain.Node.Host;
using Chain.Rpc;

namespace Chain.Node.Tests;

/// <summary>
/// GET /commits/{h} serves the commit the chain recorded (block h+1's lastCommit) for every height below the tip, so
/// nodes that saw different precommit sets serve the same commit and a client can check header chaining everywhere.
/// </summary>
public sealed class CanonicalCommitTests
{
    [Fact]
    public async Task Nodes_that_saw_different_precommits_serve_the_recorded_commit_below_the_tip()
    {
        await using var cluster = new NodeCluster();
        // Node 0 never hears validator 3's precommits, so its own commits never carry them, while node 3's always
        // carry its own: the nodes' seen commits differ at every height node 0 decided itself.
        var validator3 = cluster.Keys[3].Address;
        cluster.Start(0, network: inner => new IncomingFilter(inner, m => !IsPrecommitOf(m, validator3)));
        for (int i = 1; i < 4; i++) cluster.Start(i);
        const ulong Heights = 5;
        await cluster.WaitForHeight(Heights + 1);

        var servers = new List<RpcServer>();
        try
        {
            foreach (var node in cluster.Running)
            {
                var server = new RpcServer(new TestRpcNode(node, cluster.Genesis), new Chain.Rpc.NodeMetrics(), new RpcOptions { Port = 0 });
                await server.StartAsync();
                servers.Add(server);
            }
            using var http = new HttpClient();
            var reference = cluster.Nodes[0]!.Executor.Blocks;
            int differed = 0;
            for (ulong h = 1; h <= Heights; h++)
            {
                var served = new List<CommitResponse>();
                foreach (var server in servers)
                    served.Add((await http.GetFromJsonAsync<CommitResponse>(new Uri(server.BaseAddress, $"commits/{h}"), RpcJson.Options))!);
                Assert.All(served, s => Assert.True(s.Canonical, $"commit {h} is not marked canonical"));
                Assert.All(served, s => Assert.Equal(served[0].Raw, s.Raw));
                var commit = Canonical.Decode<Commit>(Convert.FromBase64String(served[0].Raw));
                Assert.Equal(reference.LoadHeader(new Height(h + 1))!.LastCommitHash, commit.Hash);
                Assert.Null(commit.Verify(cluster.Genesis.ChainId, cluster.Genesis.Validators, new Height(h), reference.LoadHeader(new Height(h))!.Hash));

                var own0 = cluster.Nodes[0]!.Executor.Blocks.LoadCommit(new Height(h))!;
                var own3 = cluster.Nodes[3]!.Executor.Blocks.LoadCommit(new Height(h))!;
                if (own0.Hash != own3.Hash) differed++;
            }
            Assert.True(differed > 0, "the nodes' own commits never differed: the test did not exercise the case");
        }
        finally
        {
            foreach (var server in servers) await server.DisposeAsync();
        }
    }

    /// <summary>Whether a message is a precommit signed by <paramref name="validator"/>.</summary>
    private static bool IsPrecommitOf(PeerMessage m, Address validator) =>
        m.Channel == MessageChannel.Consensus && ConsensusMessages.TryDecode(m.Payload, out var message, out _)
        && message is VoteReceived { Vote.Vote: { Type: VoteType.Precommit } vote } && vote.Validator == validator;

    /// <summary>The RPC's view of a running <see cref="FullNode"/> (as the node service builds it).</summary>
    private sealed class TestRpcNode(FullNode node, Genesis genesis) : IRpcNode
    {
        public ChainId ChainId => genesis.ChainId;
        public ExecutionParameters Parameters => genesis.Parameters;
        public Storage.BlockStore Blocks => node.Executor.Blocks;
        public ActiveValidators? ValidatorsAt(Height height) => node.Executor.ValidatorsAt(height);
        public IProvableState State { get; } = new JellyfishProvableState(node.State);
        public CommittedBlockFeed CommittedBlocks { get; } = new();
        public NodeInfo GetNodeInfo() => new(0, false, node.Address, null, 0, 0);
        public Rejection? SubmitTransaction(SignedTransaction transaction) => node.Submit(transaction);
        public IReadOnlyList<Rejection?> SubmitTransactions(IReadOnlyList<SignedTransaction> transactions) => node.SubmitRange(transactions);
        public EvidenceAdmission SubmitEvidence(ReadOnlyMemory<byte> encoded) => EvidenceAdmission.Refused("not in this test");
    }
}
