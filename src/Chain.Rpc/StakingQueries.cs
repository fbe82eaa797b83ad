using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.State;
using Chain.Execution;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Chain.Rpc;

/// <summary>One validator candidate as GET /staking/validators serves it; status is "active" (in the next height's set), "inactive", "jailed" or "tombstoned".</summary>
public sealed record StakingValidatorJson(string Operator, string ConsensusKey, string ConsensusAddress, ulong Tokens, ulong Shares, ulong Power,
    bool Jailed, ulong JailedUntil, bool Tombstoned, ulong MissedInWindow, string Status);

/// <summary>GET /staking/validators: every candidate as of <paramref name="Height"/>.</summary>
public sealed record StakingValidatorsResponse(ulong Height, IReadOnlyList<StakingValidatorJson> Validators);

/// <summary>GET /staking/validators/{operator}: one candidate with the state proof of its record.</summary>
public sealed record StakingValidatorResponse(StakingValidatorJson Validator, StateProofJson Proof);

/// <summary>A delegation: shares in a validator and what they are worth now.</summary>
public sealed record DelegationJson(string Validator, ulong Shares, ulong Tokens);

/// <summary>An unbonding entry of the delegator.</summary>
public sealed record UnbondingJson(string Validator, ulong Amount, ulong CreationHeight, ulong CompletionHeight);

/// <summary>GET /staking/delegations/{delegator}: its delegations and unbonding entries, with the proof of its delegator index.</summary>
public sealed record DelegationsResponse(string Delegator, ulong Height, IReadOnlyList<DelegationJson> Delegations, IReadOnlyList<UnbondingJson> Unbonding, StateProofJson Proof);

/// <summary>
/// Staking queries (docs/rpc.md, docs/staking.md). One-key answers carry the state proof the way /accounts does
/// (<see cref="StateQueries.Read"/>); the list is read between two looks at the height and read again if a commit slipped in.
/// </summary>
internal sealed class StakingQueries(IRpcNode node, StateQueries state)
{
    private const int MaxAttempts = 64;

    /// <summary>The staking routes: GET /staking/validators, /staking/validators/{operator}, /staking/delegations/{delegator}.</summary>
    public static void Map(IEndpointRouteBuilder app, StakingQueries staking)
    {
        app.MapGet("/staking/validators", staking.Validators);
        app.MapGet("/staking/validators/{operator}", (string @operator) => staking.Validator(@operator));
        app.MapGet("/staking/delegations/{delegator}", (string delegator) => staking.Delegations(delegator));
    }

    private StakingLedger Ledger => new(node.State.Get, node.Parameters.Staking);

    public IResult Validators()
    {
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var before = node.Blocks.LatestHeight;
            var ledger = Ledger;
            var active = ledger.Sets.Next.Set;
            var list = ledger.Candidates.Select(op => Json(op, ledger.Validator(op)!, ledger, active)).ToList();
            if (node.Blocks.LatestHeight == before) return RpcErrors.Json(new StakingValidatorsResponse(before?.Value ?? 0, list));
            Thread.Yield();
        }
        return RpcErrors.Unavailable("the state kept changing while it was read; retry");
    }

    public IResult Validator(string operatorHex)
    {
        if (!RpcParse.IsLowerHex(operatorHex, 40) || !Address.TryParse(operatorHex, out var op))
            return RpcErrors.BadRequest($"operator must be 40 lower-case hex characters, got '{ChainQueries.Truncate(operatorHex)}'");
        if (state.Read(StateKeys.Validator(op)) is not { } proven)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        if (proven.Value is null) return RpcErrors.NotFound($"no validator has operator {op} (as of height {proven.Height})");
        var ledger = Ledger;
        return RpcErrors.Json(new StakingValidatorResponse(Json(op, Canonical.Decode<ValidatorRecord>(proven.Value), ledger, ledger.Sets.Next.Set), proven.ToJson()));
    }

    public IResult Delegations(string delegatorHex)
    {
        if (!RpcParse.IsLowerHex(delegatorHex, 40) || !Address.TryParse(delegatorHex, out var delegator))
            return RpcErrors.BadRequest($"delegator must be 40 lower-case hex characters, got '{ChainQueries.Truncate(delegatorHex)}'");
        if (state.Read(StateKeys.Delegator(delegator)) is not { } proven)
            return RpcErrors.Unavailable("the state kept changing while it was read; retry");
        var validators = proven.Value is null ? [] : Canonical.Decode<AddressList>(proven.Value).Items;
        var ledger = Ledger;
        var delegations = validators.Select(v =>
        {
            ulong shares = ledger.DelegationShares(delegator, v);
            return new DelegationJson(v.ToString(), shares, ledger.Validator(v) is { } record ? StakingLedger.TokensOf(shares, record) : 0);
        }).ToList();
        var unbonding = ledger.Unbonding.Entries.Where(e => e.Delegator == delegator)
            .Select(e => new UnbondingJson(e.Validator.ToString(), e.Amount, e.CreationHeight, e.CompletionHeight)).ToList();
        return RpcErrors.Json(new DelegationsResponse(delegator.ToString(), proven.Height, delegations, unbonding, proven.ToJson()));
    }

    private static StakingValidatorJson Json(Address op, ValidatorRecord record, StakingLedger ledger, Core.Protocol.ValidatorSet active)
    {
        string status = record.Tombstoned ? "tombstoned" : record.Jailed ? "jailed" : active.TryGet(record.ConsensusAddress, out _, out _) ? "active" : "inactive";
        return new StakingValidatorJson(op.ToString(), record.ConsensusKey.ToString(), record.ConsensusAddress.ToString(), record.Tokens, record.Shares,
            record.Power(ledger.Parameters), record.Jailed, record.JailedUntil, record.Tombstoned, record.Missed, status);
    }
}
