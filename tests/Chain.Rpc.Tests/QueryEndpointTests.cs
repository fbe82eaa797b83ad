using System.Net;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Merkle;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Core.State;
using Chain.Light;

namespace Chain.Rpc.Tests;

/// <summary>The read endpoints over a real chain, with every proof checked the way a light client would.</summary>
public sealed class QueryEndpointTests
{
    [Fact]
    public async Task Status_reports_the_latest_block_and_state_root()
    {
        await using var host = await RpcTestHost.StartAsync();
        var status = await host.Client.StatusAsync();
        var header = host.Node.Blocks.LoadHeader(new Height(3))!;
        Assert.Equal("chain-devnet", status.ChainId);
        Assert.Equal(3UL, status.Height);
        Assert.Equal(header.Hash.ToString(), status.LatestBlockHash);
        Assert.Equal(header.TimeMs, status.LatestBlockTimeMs);
        Assert.Equal(header.StateRoot.ToString(), status.StateRoot);
        Assert.Equal(RpcTestHost.ValidatorKeys[0].Address.ToString(), status.ValidatorAddress);
        Assert.False(status.Syncing);
    }

    /// <summary>Issue 14: clients price transactions with Gas.MinFee at the chain's own gas price, served in /status.</summary>
    [Fact]
    public async Task Status_serves_the_genesis_parameters_a_client_prices_transactions_with()
    {
        await using var host = await RpcTestHost.StartAsync();
        var status = await host.Client.StatusAsync();
        Assert.NotNull(status.Params);
        Assert.Equal(RpcTestHost.Genesis.Parameters, status.Params.ToParameters());
        Assert.Equal(RpcTestHost.Genesis.Parameters.GasPrice, status.Params.GasPrice);
        var body = new InferBody(RpcTestHost.Mlp.ModelId, new byte[100], 5_000);
        Assert.Equal(Gas.MinFee(body, RpcTestHost.Genesis.Parameters), Gas.MinFee(body, status.Params.ToParameters()));
        var (code, json) = await host.GetAsync("status");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(RpcTestHost.Genesis.Parameters.GasPrice, JsonDocument.Parse(json).RootElement.GetProperty("params").GetProperty("gasPrice").GetUInt64());
    }

    [Fact]
    public async Task Blocks_by_height_and_latest_carry_header_transactions_and_canonical_bytes()
    {
        await using var host = await RpcTestHost.StartAsync();
        var (served, block) = await host.Client.BlockAsync(1);
        var stored = host.Node.Blocks.LoadBlock(new Height(1))!;
        Assert.Equal(stored.Encoded.ToArray(), block.Encoded.ToArray());
        Assert.Equal(stored.Header.TransactionsRoot.ToString(), served.Header.TransactionsRoot);
        Assert.Equal(stored.Header.Proposer.ToString(), served.Header.Proposer);
        // The mempool orders by fee: the inference pays more than the transfer.
        Assert.Equal([host.FirstInference.Hash.ToString(), host.FirstTransfer.Hash.ToString()], served.Transactions.Select(t => t.Hash));
        var transfer = served.Transactions[1];
        Assert.Equal("Transfer", transfer.Kind);
        Assert.Equal(RpcTestHost.Bob.Address.ToString(), transfer.Recipient);
        Assert.Equal(1_000UL, transfer.Amount);
        Assert.Equal(RpcTestHost.Mlp.ModelId.ToString(), served.Transactions[0].ModelId);

        var (latest, latestBlock) = await host.Client.BlockAsync();
        Assert.Equal(3UL, latestBlock.Height.Value);
        Assert.Empty(latest.Transactions);

        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync("blocks/4")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("blocks/0")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("blocks/-1")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("blocks/abc")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("blocks/99999999999999999999999")).Status);
    }

    [Fact]
    public async Task Commits_verify_under_the_genesis_validators_and_headers_are_checked_against_them()
    {
        await using var host = await RpcTestHost.StartAsync();
        var (served, commit) = await host.Client.CommitAsync(2);
        var header = host.Node.Blocks.LoadHeader(new Height(2))!;
        Assert.Equal(header.Hash.ToString(), served.BlockHash);
        Assert.Equal(4, served.Signatures.Count);
        Assert.Null(commit.Verify(RpcTestHost.Genesis.ChainId, RpcTestHost.Genesis.Validators, header.Height, header.Hash));
        Assert.Equal(header.Hash, (await host.Client.VerifiedHeaderAsync(2)).Hash);
        // Below the tip the served commit is the one block 3 recorded; at the tip (3) it is the node's own.
        Assert.True(served.Canonical);
        Assert.Equal(host.Node.Blocks.LoadHeader(new Height(3))!.LastCommitHash, commit.Hash);
        Assert.False((await host.Client.CommitAsync(3)).Served.Canonical);
        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync("commits/9")).Status);

        // A client trusting other validators refuses the header.
        var strangers = new ValidatorSet([new Validator(RpcTestHost.Key("stranger").PublicKey, 10)]);
        using var suspicious = new RpcClient(host.Server.BaseAddress, strangers);
        var refused = await Assert.ThrowsAsync<RpcClientException>(() => suspicious.VerifiedHeaderAsync(2));
        Assert.Equal("unverified", refused.Code);
    }

    [Fact]
    public async Task Validators_are_the_genesis_set()
    {
        await using var host = await RpcTestHost.StartAsync();
        var served = await host.Client.ValidatorsAsync();
        Assert.Equal(RpcTestHost.Genesis.Validators.Hash.ToString(), served.Hash);
        Assert.Equal(RpcTestHost.ValidatorKeys.Select(k => k.Address.ToString()), served.Validators.Select(v => v.Address));
        Assert.Equal(40UL, served.TotalPower);
    }

    [Fact]
    public async Task Transaction_lookup_proves_the_transaction_and_its_inference_receipt_against_the_header()
    {
        await using var host = await RpcTestHost.StartAsync();
        var verified = await host.Client.TransactionAsync(host.FirstInference.Hash);
        Assert.Equal(1UL, verified.Served.Height);
        Assert.Equal(0, verified.Served.Index);
        Assert.Equal(ReceiptStatus.Success, verified.Receipt.Status);
        Assert.NotNull(verified.Receipt.Inference);
        Assert.Equal(RpcTestHost.Mlp.ModelId, verified.Receipt.Inference!.ModelId);
        Assert.False(verified.Receipt.Inference.Output.IsEmpty);
        Assert.Equal(verified.Receipt.Inference.OutputHash.ToString(), verified.Served.Receipt.Inference!.OutputHash);
        Assert.Equal("Success", verified.Served.Receipt.Status);

        var second = await host.Client.TransactionAsync(host.SecondTransfer.Hash);
        Assert.Equal((2UL, 0), (second.Served.Height, second.Served.Index));

        // The proofs check with nothing but Core's Merkle code.
        var proof = Canonical.Decode<InclusionProof>(Convert.FromBase64String(verified.Served.TransactionProof));
        Assert.True(proof.Verify(verified.Header.TransactionsRoot, Convert.FromBase64String(verified.Served.RawTransaction)));

        // A flipped byte anywhere in the proof, the leaf or the header root fails.
        var header = verified.Header;
        Assert.NotNull(LightVerifier.VerifyTransaction(verified.Served with { TransactionProof = Flip(verified.Served.TransactionProof) }, host.FirstInference.Hash, header, out _, out _));
        Assert.NotNull(LightVerifier.VerifyTransaction(verified.Served with { ReceiptProof = Flip(verified.Served.ReceiptProof) }, host.FirstInference.Hash, header, out _, out _));
        Assert.NotNull(LightVerifier.VerifyTransaction(verified.Served with { RawReceipt = Flip(verified.Served.RawReceipt) }, host.FirstInference.Hash, header, out _, out _));
        var otherHeader = host.Node.Blocks.LoadHeader(new Height(2))!;
        var failure = LightVerifier.VerifyTransaction(verified.Served, host.FirstInference.Hash, otherHeader, out _, out _);
        Assert.NotNull(failure);
        Assert.NotEmpty(failure.Message);

        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync($"txs/{new Hash32(new byte[32])}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("txs/xyz")).Status);
    }

    [Fact]
    public async Task Account_values_are_proven_against_the_header_state_root_including_absent_accounts()
    {
        await using var host = await RpcTestHost.StartAsync();
        var bob = await host.Client.AccountAsync(RpcTestHost.Bob.Address);
        var expected = host.Node.Executor.GetAccount(RpcTestHost.Bob.Address);
        Assert.Equal((expected.Balance, expected.Nonce), (bob.Account.Balance, bob.Account.Nonce));
        Assert.Equal(1UL, bob.Account.Nonce);
        Assert.Equal(3UL, bob.Height);
        Assert.Equal(host.Node.Blocks.LoadHeader(new Height(3))!.StateRoot, bob.Header!.StateRoot);

        var nobody = await host.Client.AccountAsync(RpcTestHost.Key("nobody").Address);
        Assert.True(nobody.Account.IsEmpty);

        var served = JsonSerializer.Deserialize<AccountResponse>((await host.GetAsync($"accounts/{RpcTestHost.Bob.Address}")).Body, RpcJson.Options)!;
        var key = StateKeys.Account(RpcTestHost.Bob.Address);
        var root = bob.Header.StateRoot;
        Assert.Null(LightVerifier.VerifyState(served.Proof, key, root, out _));
        Assert.NotNull(LightVerifier.VerifyState(served.Proof with { Proof = Flip(served.Proof.Proof) }, key, root, out _));
        Assert.NotNull(LightVerifier.VerifyState(served.Proof with { Value = Flip(served.Proof.Value!) }, key, root, out _));
        Assert.NotNull(LightVerifier.VerifyState(served.Proof with { Value = null }, key, root, out _));

        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("accounts/1234")).Status);
    }

    [Fact]
    public async Task Models_are_proven_and_unknown_models_are_404()
    {
        await using var host = await RpcTestHost.StartAsync();
        var model = await host.Client.ModelAsync(RpcTestHost.Mlp.ModelId);
        Assert.Equal("genesis-mnist-mlp", model.Info.Name);
        Assert.Equal("genesis-mnist-mlp", model.Served.Name);
        Assert.Equal([1, 1, 28, 28], model.Served.Input.Shape);
        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync($"models/{new Hash32(new byte[32])}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("models/zz")).Status);
    }

    [Fact]
    public async Task Unknown_routes_are_404_json_and_metrics_name_every_series()
    {
        await using var host = await RpcTestHost.StartAsync();
        var (status, body) = await host.GetAsync("nope");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("\"error\"", body);
        await host.Client.StatusAsync();

        var (metricsStatus, metrics) = await host.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, metricsStatus);
        foreach (var name in new[]
        {
            "chain_height 3", "chain_consensus_rounds_per_height", "chain_block_finality_seconds", "chain_txs_committed_total 3",
            "chain_mempool_transactions", "chain_peers_connected", "chain_rpc_requests_total",
            "route=\"/status\"", "status=\"404\"",
        })
            Assert.Contains(name, metrics);
    }

    [Fact]
    public async Task An_unreachable_node_is_a_clear_client_error()
    {
        int port;
        await using (var host = await RpcTestHost.StartAsync()) port = host.Server.Port;
        using var client = new RpcClient(new Uri($"http://127.0.0.1:{port}/"));
        var error = await Assert.ThrowsAsync<RpcClientException>(() => client.StatusAsync());
        Assert.Null(error.Status);
        Assert.Contains("cannot reach the node", error.Message);
    }

    internal static string Flip(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        bytes[^1] ^= 0x01;
        return Convert.ToBase64String(bytes);
    }
}
