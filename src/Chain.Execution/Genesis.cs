using System.Security.Cryptography;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using MessagePack;
using Chain.Core.State;

namespace Chain.Execution;

/// <summary>A genesis file or object that is inconsistent; the message says what and where.</summary>
public sealed class GenesisException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An initial account balance.</summary>
public readonly record struct GenesisAccount(Address Address, ulong Balance);

/// <summary>A model registered at genesis: its bytes (already read from disk) and who owns it.</summary>
public sealed record GenesisModel(string Name, Address Owner, byte[] Bytes)
{
    public Hash32 ModelId => Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, Bytes);
}

/// <summary>
/// The state a chain starts from. Constructing one validates everything (duplicate accounts, balance
/// overflow, models that admission refuses, parameters) so an invalid genesis can never start a node.
/// <see cref="GenesisFile"/> reads the JSON form.
/// </summary>
public sealed class Genesis
{
    public Genesis(ChainId chainId, ulong genesisTimeMs, ValidatorSet validators, IEnumerable<GenesisAccount> accounts,
        IEnumerable<GenesisModel> models, ExecutionParameters parameters)
    {
        if (chainId.Value is null) throw new GenesisException("chain id is not set");
        ChainId = chainId;
        GenesisTimeMs = genesisTimeMs;
        Validators = validators ?? throw new GenesisException("validators are missing");
        Parameters = parameters ?? throw new GenesisException("parameters are missing");
        if (parameters.Validate() is { } bad) throw new GenesisException($"params: {bad}");

        Accounts = accounts.ToArray();
        var seen = new HashSet<Address>();
        ulong total = 0;
        foreach (var a in Accounts)
        {
            if (!seen.Add(a.Address)) throw new GenesisException($"account {a.Address} appears twice");
            // Total supply fits in 64 bits, so no later credit (fees, transfers only move value) can overflow.
            if (a.Balance > ulong.MaxValue - total) throw new GenesisException($"balances overflow 64 bits at account {a.Address}");
            total += a.Balance;
        }
        if (validators.Count > parameters.Staking.MaxValidators)
            throw new GenesisException($"validators: {validators.Count} validators, staking.max_validators is {parameters.Staking.MaxValidators}");
        // Genesis validators are staking validators whose operator is their consensus address, self-bonded power × power reduction.
        foreach (var v in validators.Validators)
        {
            var bonded = (UInt128)v.Power * parameters.Staking.PowerReduction;
            if (bonded > ulong.MaxValue - total) throw new GenesisException($"balances and bonded tokens overflow 64 bits at validator {v.Address}");
            total += (ulong)bonded;
        }
        TotalSupply = total;

        Models = models.ToArray();
        var modelIds = new HashSet<Hash32>();
        var infos = new List<(Hash32, ModelInfo)>();
        foreach (var m in Models)
        {
            var check = ModelRegistry.Check(m.Bytes, m.Owner, m.Name, 0);
            if (!modelIds.Add(check.ModelId)) throw new GenesisException($"model '{m.Name}' ({check.ModelId}) appears twice");
            if (check.Info is null) throw new GenesisException($"model '{m.Name}' ({check.ModelId}) is not admitted: {check.Refusal}");
            infos.Add((check.ModelId, check.Info));
        }
        ModelInfos = infos;
        Hash = ComputeHash();
    }

    public ChainId ChainId { get; }
    public ulong GenesisTimeMs { get; }
    public ValidatorSet Validators { get; }

    /// <summary>Vals(1) and Vals(2): the genesis set, active since height 1.</summary>
    public ActiveValidators InitialValidators => new(Validators, new Height(1));
    public IReadOnlyList<GenesisAccount> Accounts { get; }
    public IReadOnlyList<GenesisModel> Models { get; }
    public IReadOnlyList<(Hash32 ModelId, ModelInfo Info)> ModelInfos { get; }
    public ExecutionParameters Parameters { get; }
    /// <summary>Balances plus the genesis validators' bonded tokens: what balances, bonded, unbonding and burned tokens always add up to.</summary>
    public ulong TotalSupply { get; }

    /// <summary>Identifies this genesis (SHA-256 of a canonical encoding of every field); a store remembers it.</summary>
    public Hash32 Hash { get; }

    /// <summary>The state writes genesis makes: one record per account, and metadata plus bytes per model.</summary>
    public IReadOnlyDictionary<Hash32, byte[]?> InitialState()
    {
        var state = new Dictionary<Hash32, byte[]?>();
        foreach (var a in Accounts) state[StateKeys.Account(a.Address)] = new Account(a.Balance, 0).Encoded.ToArray();
        for (int i = 0; i < Models.Count; i++)
        {
            var (id, info) = ModelInfos[i];
            state[StateKeys.Model(id)] = info.Encoded.ToArray();
            state[StateKeys.ModelCode(id)] = Models[i].Bytes;
        }
        var staking = new StakingLedger(k => state.GetValueOrDefault(k), Parameters.Staking, (k, v) => state[k] = v);
        foreach (var v in Validators.Validators)
            staking.CreateValidator(v.Address, v.PublicKey, v.Power * Parameters.Staking.PowerReduction);
        staking.PutSets(new ValidatorSetsRecord(InitialValidators, InitialValidators));
        return state;
    }

    private Hash32 ComputeHash()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        w.WriteArrayHeader(6);
        w.Write(ChainId.Value);
        w.Write(GenesisTimeMs);
        w.Write(Validators.Hash);
        w.WriteArrayHeader(Accounts.Count);
        foreach (var a in Accounts) { w.WriteArrayHeader(2); w.Write(a.Address); w.Write(a.Balance); }
        w.WriteArrayHeader(Models.Count);
        for (int i = 0; i < Models.Count; i++) { w.WriteArrayHeader(2); w.Write(ModelInfos[i].ModelId); w.Write(ModelInfos[i].Info.Encoded.Span); }
        var p = Parameters;
        w.WriteArrayHeader(10);
        w.Write(p.BlockGasLimit); w.Write((ulong)p.MaxTxBytes); w.Write(p.GasPrice); w.Write(p.TransferGas);
        w.Write(p.RegisterModelGas); w.Write(p.ModelByteGas); w.Write(p.InferGas); w.Write(p.InputByteGas);
        w.Write(ExecutionParameters.SemanticsVersion);
        p.Staking.WriteTo(ref w);
        w.Flush();
        return new Hash32(SHA256.HashData(buffer.WrittenSpan));
    }
}
