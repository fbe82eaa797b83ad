using System.Security.Cryptography;
using System.Text;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Network;
using Chain.Node.Host;

namespace Chain.Node.Tests;

/// <summary>
/// Hash-only block propagation (issue 14): proposals travel as <see cref="CompactProposal"/>s; a validator without
/// some transactions fetches their bodies (checked against the hashes) and still verifies and votes.
/// </summary>
public sealed class BlockPropagationTests
{
    private static (ProposalReceived Full, NodeCluster Cluster) SampleProposal()
    {
        var cluster = new NodeCluster();
        var chain = cluster.Genesis.ChainId;
        var txs = Enumerable.Range(0, 3).Select(i => cluster.Transfer(0, cluster.Keys[1].Address, (ulong)i + 1)).ToArray();
        var key = cluster.Keys[0];
        var header = new BlockHeader(chain, new Height(1), 1_000, Hash32.Zero, Hash32.Zero, Block.ComputeTransactionsRoot(txs), Hash32.Zero, Hash32.Zero,
            Hash32.Zero, Hash32.Zero, Block.ComputeEvidenceRoot([]), key.Address);
        var block = new Block(header, txs, null);
        var proposal = new Proposal(new Height(1), new Round(0), null, block.Hash, 1_000, key.Address).Sign(chain, key);
        return (new ProposalReceived(proposal, block), cluster);
    }

    [Fact]
    public void A_compact_proposal_round_trips_rebuilds_the_same_block_and_refuses_bodies_that_do_not_make_it()
    {
        var (full, cluster) = SampleProposal();
        var chain = cluster.Genesis.ChainId;
        var compact = CompactProposal.Of(full);
        byte[] wire = compact.Encoded.ToArray();
        Assert.True(BlockPartsMessage.IsOne(wire));
        Assert.False(BlockPartsMessage.IsOne(ConsensusMessages.Encode(full)));
        Assert.True(wire.Length < ConsensusMessages.Encode(full).Length);
        var decoded = Assert.IsType<CompactProposal>(Canonical.Decode<BlockPartsMessage>(wire));
        Assert.Equal(wire, decoded.Encoded.ToArray());

        var rebuilt = decoded.Rebuild(full.Block.Transactions, chain, out _);
        Assert.NotNull(rebuilt);
        Assert.Equal(full.Encoded.ToArray(), rebuilt.Encoded.ToArray());
        Assert.Null(decoded.Rebuild(full.Block.Transactions.Reverse().ToArray(), chain, out var swapped));
        Assert.Contains("the proposal lists", swapped);
        // A hash list that does not give the header's root (a relay that reordered it): refused after the bodies came.
        var reordered = new CompactProposal(compact.Proposal, compact.Header, null, [], compact.TransactionHashes.Reverse().ToArray());
        Assert.Null(reordered.Rebuild(full.Block.Transactions.Reverse().ToArray(), chain, out var root));
        Assert.Contains("transactions root mismatch", root);

        var request = new PartsRequest(new Height(1), full.Block.Hash, [full.Block.Transactions[0].Hash]);
        Assert.Equal(request.Encoded.ToArray(), Canonical.Decode<BlockPartsMessage>(request.Encoded).Encoded.ToArray());
        var response = new PartsResponse(new Height(1), full.Block.Hash, full.Block.Transactions);
        Assert.Equal(response.Encoded.ToArray(), Canonical.Decode<BlockPartsMessage>(response.Encoded).Encoded.ToArray());
        // An empty request, an unknown kind and a wrong arity are refused.
        Assert.False(Canonical.TryDecode<BlockPartsMessage>(new PartsRequest(new Height(1), full.Block.Hash, []).Encoded, out _, out var empty));
        Assert.Contains("asks for nothing", empty!.Message);
        Assert.False(Canonical.TryDecode<BlockPartsMessage>(new byte[] { 0x91, 19 }, out _, out _));
        Assert.False(Canonical.TryDecode<BlockPartsMessage>(new byte[] { 0x92, 17, 1 }, out _, out _));
    }

    private static NodeCluster StartWithout2(Func<IPeerNetwork, IPeerNetwork> network3, Func<FullNodeOptions, FullNodeOptions>? tune = null)
    {
        // Validators 0, 1 and 3 of 4 with equal power: every decision needs node 3's prevote and precommit.
        var cluster = new NodeCluster();
        cluster.Start(0, tune: tune);
        cluster.Start(1, tune: tune);
        cluster.Start(3, network: network3, tune: tune);
        return cluster;
    }

    [Fact]
    public async Task A_validator_that_never_saw_the_transactions_fetches_their_bodies_verifies_and_votes()
    {
        // Nodes that received the proposer's batch wait for its admission however long a loaded machine takes; the
        // blind node received none, so it asks at once.
        await using var cluster = StartWithout2(IncomingFilter.TransactionsWithheld, o => o with { GossipCatchUp = TimeSpan.FromSeconds(30) });
        var blind = cluster.Nodes[3]!;
        var txs = Enumerable.Range(0, 6).Select(i => cluster.Transfer(i % 3, cluster.Keys[1].Address, 1)).ToArray();
        Assert.All(cluster.Nodes[0]!.SubmitRange(txs), Assert.Null);

        await NodeCluster.WaitFor(() => txs.All(t => NodeCluster.Included(blind, t)), "the transactions committed with the blind node's votes");
        Assert.Equal(0, blind.Mempool.Count);
        Assert.True(blind.Metrics.ProposalPartsFetched >= txs.Length, $"{blind.Metrics.ProposalPartsFetched} bodies fetched");
        Assert.True(blind.Metrics.ProposalsRebuilt >= 1);
        Assert.Equal(0, blind.Metrics.MisbehaviourReports);
        var nodes = cluster.Running.ToList();
        ulong height = nodes.Min(n => n.Metrics.Height);
        NodeCluster.AssertSameChain(nodes, height);
        // The proposer's peers had the bodies from gossip: they rebuilt without asking.
        Assert.Equal(0, cluster.Nodes[1]!.Metrics.ProposalPartsAsked);
    }

    [Fact]
    public async Task A_peer_answering_with_wrong_bodies_is_refused_and_the_bodies_come_from_another()
    {
        int tampered = 0;
        SignedTransaction? decoy = null;
        PeerMessage? Tamper(PeerMessage m)
        {
            if (IncomingFilter.IsTransactionGossip(m)) return null; // the node sees transactions only in proposals
            if (m.Channel != MessageChannel.Consensus || !BlockPartsMessage.IsOne(m.Payload)) return m;
            if (Canonical.Decode<BlockPartsMessage>(m.Payload) is not PartsResponse r || Interlocked.Exchange(ref tampered, 1) == 1) return m;
            // The first answer: a valid, signed transaction, but not one that was asked for.
            return m with { Payload = new PartsResponse(r.Height, r.BlockHash, [decoy!]).Encoded.ToArray() };
        }
        await using var cluster = StartWithout2(n => new IncomingFilter(n, Tamper));
        decoy = cluster.Transfer(2, cluster.Keys[0].Address, 99);
        var node = cluster.Nodes[3]!;
        var tx = cluster.Transfer(0, cluster.Keys[1].Address, 1);
        Assert.Null(cluster.Nodes[0]!.Submit(tx));

        await NodeCluster.WaitFor(() => NodeCluster.Included(node, tx), "the transaction committed after the honest answer");
        Assert.Equal(1, Volatile.Read(ref tampered));
        Assert.Contains(node.RecentMisbehaviour, r => r.Contains($"carries transaction {decoy.Hash}, not asked for"));
        Assert.Equal(1, node.Metrics.MisbehaviourReports);
        Assert.Null(node.Executor.Blocks.FindTransaction(decoy.Hash));
        var nodes = cluster.Running.ToList();
        NodeCluster.AssertSameChain(nodes, nodes.Min(n => n.Metrics.Height));
    }

    [Fact]
    public async Task Compact_proposals_not_signed_by_their_rounds_proposer_or_not_matching_their_header_are_refused_and_fetch_nothing()
    {
        var (full, cluster) = SampleProposal();
        await using var _ = cluster;
        var chain = cluster.Genesis.ChainId;
        var node = cluster.Start(0); // alone: it stays at height 1, round 0 for a while
        var rogueKey = PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/compact-rogue")));
        using var rogue = cluster.Hub.Join(rogueKey.PublicKey);
        int requests = 0;
        rogue.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.Consensus && BlockPartsMessage.IsOne(m.Payload)) Interlocked.Increment(ref requests);
        };
        var target = new PeerId(cluster.Keys[0].PublicKey);
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 1, "the rogue connected");

        var block = full.Block;
        var proposer = new ProposerSelection(cluster.Genesis.InitialValidators).Proposer(new Height(1), new Round(0));
        var proposerKey = cluster.Keys.Single(k => k.Address == proposer);
        var notProposer = cluster.Keys.First(k => k.Address != proposer);
        Proposal Named(Address who, Hash32 hash) => new(new Height(1), new Round(0), null, hash, 1_000, who);
        CompactProposal With(SignedProposal p) => new(p, block.Header, null, [], block.Transactions.Select(t => t.Hash).ToArray());
        var named = Named(proposer, block.Hash);
        var sent = new[]
        {
            With(Named(proposer, Hash32.Zero).Sign(chain, proposerKey)),                          // names another block than its header
            With(Named(notProposer.Address, block.Hash).Sign(chain, notProposer)),                // not this round's proposer
            With(new SignedProposal(named, rogueKey.Sign(named.SignBytes(chain)))),              // the proposer's name, another's signature
        };
        foreach (var c in sent) Assert.True(rogue.Send(target, MessageChannel.Consensus, c.Encoded.ToArray()));
        Assert.True(rogue.Send(target, MessageChannel.Consensus, [0x92, BlockPartsMessage.KindPartsRequest, 0x01])); // truncated

        await NodeCluster.WaitFor(() => node.Metrics.MisbehaviourReports >= 4, "4 reports");
        var reasons = node.RecentMisbehaviour;
        Assert.Contains(reasons, r => r.Contains("but carries header"));
        Assert.Contains(reasons, r => r.Contains("is not the proposer of (1,0)"));
        Assert.Contains(reasons, r => r.Contains("compact proposal: signature does not verify"));
        Assert.Contains(reasons, r => r.StartsWith("undecodable block parts message"));
        Assert.Equal(0, node.Metrics.ProposalPartsAsked);
        Assert.Equal(0, Volatile.Read(ref requests));
        Assert.Null(node.Failure);
    }
}
