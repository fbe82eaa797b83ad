using System.Net;
using Chain.Execution;
using Chain.Inference;
using Chain.Inference.Runtime;
using Chain.Core.State;

namespace Chain.Rpc.Tests;

/// <summary>A node with no block yet: the state is served at height 0, and block queries say there is none.</summary>
public sealed class GenesisHeightTests
{
    [Fact]
    public async Task Before_the_first_block_state_is_proven_against_the_genesis_root_and_blocks_are_404()
    {
        var node = new InProcessRpcNode(RpcTestHost.Genesis, RpcTestHost.ValidatorKeys, new InferenceRunner(new InferenceEngine(enableFastPath: false)));
        await using var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        using var client = new RpcClient(server.BaseAddress, RpcTestHost.Genesis.Validators);

        var status = await client.StatusAsync();
        Assert.Equal(0UL, status.Height);
        Assert.Null(status.LatestBlockHash);
        Assert.Equal(node.Executor.StateRoot.ToString(), status.StateRoot);

        var alice = await client.AccountAsync(RpcTestHost.Alice.Address);
        Assert.Equal(0UL, alice.Height);
        Assert.Null(alice.Header);
        Assert.Equal(node.Executor.GetAccount(RpcTestHost.Alice.Address).Balance, alice.Account.Balance);

        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("blocks/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("commits/latest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("blocks/1")).StatusCode);
    }

    [Fact]
    public async Task Stop_is_graceful_and_a_second_start_is_refused()
    {
        var node = new InProcessRpcNode(RpcTestHost.Genesis, RpcTestHost.ValidatorKeys, new InferenceRunner(new InferenceEngine(enableFastPath: false)));
        var server = new RpcServer(node, new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        Assert.NotEqual(0, server.Port);
        Assert.Equal("127.0.0.1", server.BaseAddress.Host);
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        await server.StopAsync();
        await server.StopAsync(); // idempotent
        Assert.Throws<InvalidOperationException>(() => server.BaseAddress);
    }
}
