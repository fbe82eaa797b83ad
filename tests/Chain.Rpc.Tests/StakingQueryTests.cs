using System.Net;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Protocol;
using Chain.Core.State;
using Chain.Light;

namespace Chain.Rpc.Tests;

/// <summary>GET /staking/...: the candidates, one validator and a delegator's delegations, proofs checked as a light client would.</summary>
public sealed class StakingQueryTests
{
    [Fact]
    public async Task Validators_and_delegations_are_served_with_proofs_that_verify_against_the_header()
    {
        await using var host = await RpcTestHost.StartAsync();
        var operatorAddress = RpcTestHost.ValidatorKeys[0].Address; // genesis validators operate themselves
        host.Admit(new Transaction(RpcTestHost.Genesis.ChainId, RpcTestHost.Alice.PublicKey, host.NextNonce(RpcTestHost.Alice), 10_000,
            new BondBody(operatorAddress, 5_000)).Sign(RpcTestHost.Alice));
        host.Produce();

        var list = JsonSerializer.Deserialize<StakingValidatorsResponse>((await host.GetAsync("staking/validators")).Body, RpcJson.Options)!;
        Assert.Equal(host.Node.Executor.Height.Value, list.Height);
        Assert.Equal(RpcTestHost.ValidatorKeys.Select(k => k.Address.ToString()).Order(), list.Validators.Select(v => v.Operator).Order());
        Assert.All(list.Validators, v => Assert.Equal("active", v.Status));
        var reduction = RpcTestHost.Genesis.Parameters.Staking.PowerReduction;
        var first = list.Validators.Single(v => v.Operator == operatorAddress.ToString());
        Assert.Equal((10 * reduction + 5_000, 10UL), (first.Tokens, first.Power));

        var (status, body) = await host.GetAsync($"staking/validators/{operatorAddress}");
        Assert.Equal(HttpStatusCode.OK, status);
        var one = JsonSerializer.Deserialize<StakingValidatorResponse>(body, RpcJson.Options)!;
        Assert.Equal(first, one.Validator);
        var root = host.Node.Blocks.LoadHeader(new Height(one.Proof.Height))!.StateRoot;
        Assert.Null(LightVerifier.VerifyState(one.Proof, StateKeys.Validator(operatorAddress), root, out _));
        Assert.NotNull(LightVerifier.VerifyState(one.Proof, StateKeys.Validator(RpcTestHost.ValidatorKeys[1].Address), root, out _));

        var delegations = JsonSerializer.Deserialize<DelegationsResponse>((await host.GetAsync($"staking/delegations/{RpcTestHost.Alice.Address}")).Body, RpcJson.Options)!;
        Assert.Equal([new DelegationJson(operatorAddress.ToString(), 5_000, 5_000)], delegations.Delegations);
        Assert.Empty(delegations.Unbonding);
        Assert.Null(LightVerifier.VerifyState(delegations.Proof, StateKeys.Delegator(RpcTestHost.Alice.Address),
            host.Node.Blocks.LoadHeader(new Height(delegations.Proof.Height))!.StateRoot, out _));

        Assert.Equal(HttpStatusCode.NotFound, (await host.GetAsync($"staking/validators/{RpcTestHost.Bob.Address}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("staking/validators/ABCDEF0123456789ABCDEF0123456789ABCDEF01")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.GetAsync("staking/delegations/12")).Status);
    }
}
