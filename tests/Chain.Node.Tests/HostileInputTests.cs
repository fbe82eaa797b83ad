using System.Security.Cryptography;
using System.Text;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Network;
using Chain.Node.Host;

namespace Chain.Node.Tests;

public sealed class HostileInputTests
{
    private static PrivateKey RogueKey() => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-node-tests/rogue")));

    [Fact]
    public async Task Garbage_wrong_chain_and_badly_signed_consensus_and_transaction_messages_are_refused_and_reported()
    {
        await using var cluster = new NodeCluster();
        // A validator alone cannot decide anything, so it stays at height 1 and every message below is for its current height.
        var node = cluster.Start(0);
        var rogueKey = RogueKey();
        using var rogue = cluster.Hub.Join(rogueKey.PublicKey);
        var target = new PeerId(cluster.Keys[0].PublicKey);
        await NodeCluster.WaitFor(() => node.Metrics.Peers == 1, "the rogue peer connected");
        var chain = cluster.Genesis.ChainId;
        var other = new ChainId("other-chain");
        ulong ts = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var vote = new Vote(VoteType.Prevote, new Height(1), new Round(0), null, ts, cluster.Keys[1].Address);

        var consensus = new (string Name, byte[] Bytes)[]
        {
            ("garbage", [0xde, 0xad, 0xbe, 0xef]),
            ("local event kind", new TimeoutElapsed(new Height(1), new Round(0), Step.Propose).Encoded.ToArray()),
            ("vote signed for another chain", ConsensusMessages.Encode(new VoteReceived(vote.Sign(other, cluster.Keys[1])))),
            ("vote signed by the wrong key", ConsensusMessages.Encode(new VoteReceived(new SignedVote(vote, rogueKey.Sign(vote.SignBytes(chain)))))),
            ("vote of a non-validator", ConsensusMessages.Encode(new VoteReceived(
                new Vote(VoteType.Prevote, new Height(1), new Round(0), null, ts, rogueKey.Address).Sign(chain, rogueKey)))),
        };
        var account = DevnetKeys.For("account-0");
        var transfer = new Transaction(chain, account.PublicKey, 0, 10_000, new TransferBody(cluster.Keys[1].Address, 5));
        var transactions = new (string Name, byte[] Bytes)[]
        {
            ("garbage", [0x93, 0x01, 0x02]),
            ("transaction for another chain", new TransactionBatch([new Transaction(other, account.PublicKey, 0, 10_000, new TransferBody(cluster.Keys[1].Address, 5))
                .Sign(account)]).Encoded.ToArray()),
            ("transaction signed by the wrong key", new TransactionBatch([new SignedTransaction(transfer, rogueKey.Sign(transfer.SignBytes()))]).Encoded.ToArray()),
        };
        var others = new (MessageChannel Channel, byte[] Bytes)[]
        {
            (MessageChannel.Status, [0xc0]),
            (MessageChannel.Sync, [0x92, 0x07, 0x00]),
            ((MessageChannel)99, [0x90]),
        };
        foreach (var (_, bytes) in consensus) Assert.True(rogue.Send(target, MessageChannel.Consensus, bytes));
        foreach (var (_, bytes) in transactions) Assert.True(rogue.Send(target, MessageChannel.Transactions, bytes));
        foreach (var (channel, bytes) in others) Assert.True(rogue.Send(target, channel, bytes));

        int expected = consensus.Length + transactions.Length + others.Length;
        await NodeCluster.WaitFor(() => node.Metrics.MisbehaviourReports >= expected, $"{expected} misbehaviour reports");
        Assert.Equal(expected, node.Metrics.MisbehaviourReports);
        Assert.True(node.Metrics.MessagesRefused >= expected);
        var reasons = node.RecentMisbehaviour;
        Assert.Contains(reasons, r => r.StartsWith("undecodable consensus message"));
        Assert.Contains(reasons, r => r.Contains("local and may not come from the network"));
        Assert.Contains(reasons, r => r.Contains("vote signature does not verify"));
        Assert.Contains(reasons, r => r.Contains("is not a validator"));
        Assert.Contains(reasons, r => r.StartsWith("undecodable transaction batch"));
        Assert.Contains(reasons, r => r.Contains("WrongChainId"));
        Assert.Contains(reasons, r => r.Contains("InvalidSignature"));
        Assert.Contains(reasons, r => r.Contains("unknown channel"));
        // Nothing changed: no transaction admitted or passed on, nothing stored.
        Assert.Equal(0, node.Mempool.Count);
        Assert.Equal(0, node.Metrics.TransactionsGossiped);
        Assert.Equal(0UL, node.Metrics.Height);
        Assert.Null(node.Failure);
    }

    [Fact]
    public async Task Sync_responses_with_a_forged_commit_or_a_tampered_block_are_refused_and_honest_ones_accepted()
    {
        await using var cluster = new NodeCluster();
        for (int i = 0; i < 3; i++) cluster.Start(i);
        Assert.Null(cluster.Nodes[0]!.Submit(cluster.Infer(0, cluster.Models[1].Digits[0])));
        await cluster.WaitForHeight(3);
        var source = cluster.Nodes[0]!.Executor.Blocks;
        var chain = cluster.Genesis.ChainId;

        // Response 1: the real block 1 with a commit cut below 2/3 of the power.
        var block1 = source.LoadBlock(new Height(1))!;
        var realCommit = source.LoadCommit(new Height(1))!;
        var weakCommit = new Commit(realCommit.Height, realCommit.Round, realCommit.BlockHash, realCommit.Signatures.Take(2));
        var forgedCommitResponse = new SyncResponse([new SyncedBlock(block1, weakCommit)]);
        // Response 2: block 1 with a wrong state root, "finalized" by a commit every validator key signed: only re-execution can tell.
        var h = block1.Header;
        var wrongRoot = h.StateRoot.ToArray();
        wrongRoot[0] ^= 1;
        var tampered = new Block(new BlockHeader(h.ChainId, h.Height, h.TimeMs, h.LastBlockHash, h.LastCommitHash, h.TransactionsRoot, h.ReceiptsRoot,
            new Hash32(wrongRoot), h.ValidatorsHash, h.NextValidatorsHash, h.EvidenceRoot, h.Proposer), block1.Transactions, block1.LastCommit);
        var signedByAll = new Commit(tampered.Height, new Round(0), tampered.Hash, cluster.Keys.Select(k =>
        {
            var precommit = new Vote(VoteType.Precommit, tampered.Height, new Round(0), tampered.Hash, h.TimeMs, k.Address);
            return new CommitSignature(k.Address, h.TimeMs, precommit.Sign(chain, k).Signature);
        }));
        var tamperedResponse = new SyncResponse([new SyncedBlock(tampered, signedByAll)]);

        // The late node's only peer is the rogue, on a network of their own.
        var hub = new InMemoryNetworkHub();
        using var rogue = hub.Join(RogueKey().PublicKey);
        int requests = 0;
        rogue.MessageReceived += m =>
        {
            if (m.Channel == MessageChannel.Status) rogue.Send(m.From, MessageChannel.Status, new PeerStatus(new Height(3)).Encoded.ToArray());
            if (m.Channel != MessageChannel.Sync || !Chain.Core.Codec.Canonical.TryDecode<SyncMessage>(m.Payload, out var message, out _) ||
                message is not SyncRequest request) return;
            var response = Interlocked.Increment(ref requests) switch
            {
                1 => forgedCommitResponse,
                2 => tamperedResponse,
                _ => BlockSyncServer.Respond(source, new Height(3), request, 1 << 20),
            };
            rogue.Send(m.From, MessageChannel.Sync, response.Encoded.ToArray());
        };
        // Short enough that avoiding the only peer after each bad answer (twice this) stays brief, long enough that a
        // loaded machine's stalled loop does not expire a request whose answer is already queued (answers would shift).
        var late = cluster.Start(3, tune: o => o with { SyncRequestTimeout = TimeSpan.FromMilliseconds(1500) }, hub: hub);

        await NodeCluster.WaitFor(() => late.Metrics.Height >= 3, "the late node synced from honest responses");
        var reasons = late.RecentMisbehaviour;
        Assert.Contains(reasons, r => r.Contains("commit does not finalize"));
        Assert.Contains(reasons, r => r.Contains("re-execution refuses the block"));
        Assert.Equal(2, late.Metrics.MisbehaviourReports);
        NodeCluster.AssertSameChain([cluster.Nodes[0]!, late], 3);
    }
}
