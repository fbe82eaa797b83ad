using System.Reflection;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Rpc;
using Chain.Rpc.Tests;

namespace Chain.Light.Tests;

public sealed class LightClientTests
{
    private static LightClient Client(RpcTestHost host, ValidatorSet? trusted = null) =>
        new(host.Server.BaseAddress, RpcTestHost.Genesis.ChainId, trusted ?? RpcTestHost.Genesis.Validators);

    [Fact]
    public async Task Receipts_from_a_node_verify_over_http_against_the_trusted_validators()
    {
        await using var host = await RpcTestHost.StartAsync();
        using var light = Client(host);

        var inference = await light.TransactionAsync(host.FirstInference.Hash);
        Assert.Equal(host.FirstInference.Hash, inference.Transaction.Hash);
        Assert.Equal(host.FirstInference.Hash, inference.Receipt.TransactionHash);
        Assert.NotNull(inference.Receipt.Inference);
        Assert.Equal(host.Node.Blocks.LoadHeader(inference.Header.Height)!.Hash, inference.Header.Hash);

        var transfer = await light.TransactionAsync(host.SecondTransfer.Hash);
        Assert.Equal(2ul, transfer.Header.Height.Value);

        var (bob, header) = await light.AccountAsync(RpcTestHost.Bob.Address);
        Assert.Equal(host.Node.Executor.GetAccount(RpcTestHost.Bob.Address).Balance, bob.Balance);
        Assert.Equal(header.StateRoot, host.Node.Blocks.LoadHeader(header.Height)!.StateRoot);

        var code = await light.ModelCodeAsync(RpcTestHost.Mlp.ModelId);
        Assert.Equal(RpcTestHost.Mlp.ModelId, Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, code));
        var (_, record, _) = await light.ModelAsync(RpcTestHost.Mlp.ModelId);
        Assert.NotEmpty(record);
    }

    [Fact]
    public async Task Headers_chain_through_the_recorded_commits_at_every_height()
    {
        await using var host = await RpcTestHost.StartAsync();
        using var light = Client(host);
        var headers = await light.VerifiedRangeAsync(1, 3);
        Assert.Equal([1ul, 2ul, 3ul], headers.Select(h => h.Height.Value));
        for (int i = 1; i < headers.Count; i++)
            Assert.Equal(headers[i - 1].Hash, headers[i].LastBlockHash);
    }

    [Fact]
    public async Task A_client_trusting_other_validators_refuses_everything()
    {
        await using var host = await RpcTestHost.StartAsync();
        var strangers = new ValidatorSet([new Validator(RpcTestHost.Key("stranger").PublicKey, 10)]);
        using var light = Client(host, strangers);
        var refused = await Assert.ThrowsAsync<LightClientException>(() => light.TransactionAsync(host.FirstInference.Hash));
        Assert.Equal(VerifyFailureKind.BadHeader, refused.Failure!.Kind);
        Assert.Equal("validatorsHash", refused.Failure.Field);
    }

    [Fact]
    public async Task Pure_checks_name_the_field_that_fails()
    {
        await using var host = await RpcTestHost.StartAsync();
        var blocks = host.Node.Blocks;
        var (h1, h2, h3) = (blocks.LoadHeader(new Height(1))!, blocks.LoadHeader(new Height(2))!, blocks.LoadHeader(new Height(3))!);
        var recorded = blocks.LoadBlock(new Height(2))!.LastCommit!;
        Assert.Null(LightVerifier.VerifyChaining(h1, recorded, h2));
        Assert.Equal("height", LightVerifier.VerifyChaining(h1, recorded, h3)!.Field);
        var commit2 = blocks.LoadBlock(new Height(3))!.LastCommit!;
        Assert.Equal("commit.blockHash", LightVerifier.VerifyChaining(h1, commit2, h2)!.Field);

        // A commit with a signature from a key outside the set, and one lacking 2/3 of the power.
        var chain = RpcTestHost.Genesis.ChainId;
        var set = RpcTestHost.Genesis.Validators;
        var two = new Commit(recorded.Height, recorded.Round, recorded.BlockHash, recorded.Signatures.Take(2));
        var weak = LightVerifier.VerifyHeader(h1, two, chain, set)!;
        Assert.Equal((VerifyFailureKind.BadCommit, "signatures"), (weak.Kind, weak.Field));
        var stranger = RpcTestHost.Key("stranger");
        var vote = new Vote(VoteType.Precommit, recorded.Height, recorded.Round, recorded.BlockHash, 1, stranger.Address);
        var forged = new Commit(recorded.Height, recorded.Round, recorded.BlockHash,
            [.. recorded.Signatures, new CommitSignature(stranger.Address, 1, stranger.Sign(vote.SignBytes(chain)))]);
        Assert.StartsWith("signatures[", LightVerifier.VerifyHeader(h1, forged, chain, set)!.Field);
        Assert.Equal("chainId", LightVerifier.VerifyHeader(h1, recorded, new ChainId("other-chain"), set)!.Field);
    }

    [Fact]
    public void The_light_client_references_no_RocksDB_OnnxRuntime_or_AspNetCore()
    {
        string[] forbidden = ["RocksDbSharp", "RocksDB", "Microsoft.ML.OnnxRuntime", "Microsoft.AspNetCore", "Chain.Storage", "Chain.State",
            "Chain.Execution", "Chain.Inference", "Chain.Rpc"];
        var seen = new HashSet<string>();
        var queue = new Queue<Assembly>([typeof(LightClient).Assembly]);
        while (queue.TryDequeue(out var assembly))
        {
            foreach (var name in assembly.GetReferencedAssemblies())
            {
                Assert.DoesNotContain(forbidden, f => name.Name!.StartsWith(f, StringComparison.Ordinal));
                if (!seen.Add(name.Name!)) continue;
                if (name.Name!.StartsWith("System", StringComparison.Ordinal) || name.Name == "netstandard" || name.Name == "mscorlib") continue;
                queue.Enqueue(Assembly.Load(name));
            }
        }
        Assert.Contains("Chain.Core", seen);
    }
}
