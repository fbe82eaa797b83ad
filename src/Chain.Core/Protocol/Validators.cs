using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Hashing;
using MessagePack;

namespace Chain.Core.Protocol;

/// <summary>A validator: its consensus key and voting power. Encoding: <c>[publicKey: bin32, power: uint]</c>.</summary>
public readonly record struct Validator(PublicKey PublicKey, ulong Power)
{
    public Address Address => PublicKey.Address;
}

/// <summary>
/// The validators of a height, in a fixed order (the order proposer rotation uses).
/// Invariants: 1..MaxValidators members, unique addresses, power ≥ 1 each, total ≤ MaxTotalVotingPower.
/// Encoding: <c>[[publicKey, power], ...]</c>; hash = SHA-256 over the "validators" tag and the encoding.
/// </summary>
public sealed class ValidatorSet : CanonicalObject<ValidatorSet>, ICanonicalObject<ValidatorSet>
{
    private readonly Validator[] _validators;
    private readonly Dictionary<Address, int> _indexByAddress;
    private Hash32? _hash;

    public ValidatorSet(IEnumerable<Validator> validators)
    {
        _validators = validators.ToArray();
        if (!TryValidate(_validators, out var reason, out _indexByAddress, out ulong total))
            throw new ArgumentException($"invalid validator set: {reason}", nameof(validators));
        TotalPower = total;
    }

    public IReadOnlyList<Validator> Validators => _validators;
    public int Count => _validators.Length;
    public ulong TotalPower { get; }
    public Hash32 Hash => _hash ??= DomainHash.Compute(HashDomain.ValidatorSet, Encoded.Span);

    public static string KindName => "validator set";
    public static int MaxEncodedSize => 8 + ProtocolLimits.MaxValidators * 48;

    public bool TryGet(Address address, out Validator validator, out int index)
    {
        if (_indexByAddress.TryGetValue(address, out index))
        {
            validator = _validators[index];
            return true;
        }
        validator = default;
        index = -1;
        return false;
    }

    /// <summary>True when <paramref name="power"/> is more than two thirds of the total.</summary>
    public bool IsSupermajority(ulong power) => Exceeds(power, 2, 3);

    /// <summary>True when <paramref name="power"/> is more than one third of the total (at least one honest holder).</summary>
    public bool ExceedsOneThird(ulong power) => Exceeds(power, 1, 3);

    /// <summary>
    /// The one power-threshold rule: true when <paramref name="power"/> is more than
    /// <paramref name="numerator"/>/<paramref name="denominator"/> of the total, i.e. power·den &gt; total·num in 128-bit integers.
    /// </summary>
    public bool Exceeds(ulong power, ulong numerator, ulong denominator)
    {
        if (denominator == 0 || numerator > denominator)
            throw new ArgumentOutOfRangeException(nameof(numerator), $"fraction {numerator}/{denominator} is not in [0, 1]");
        return (UInt128)power * denominator > (UInt128)TotalPower * numerator;
    }

    private static bool TryValidate(Validator[] validators, out string reason, out Dictionary<Address, int> index, out ulong total)
    {
        index = new Dictionary<Address, int>(validators.Length);
        total = 0;
        if (validators.Length == 0) { reason = "no validators"; return false; }
        if (validators.Length > ProtocolLimits.MaxValidators)
        {
            reason = $"{validators.Length} validators exceeds the limit of {ProtocolLimits.MaxValidators}";
            return false;
        }
        for (int i = 0; i < validators.Length; i++)
        {
            var v = validators[i];
            if (v.Power == 0) { reason = $"validator {v.Address} has zero power"; return false; }
            if (!index.TryAdd(v.Address, i)) { reason = $"validator {v.Address} appears twice"; return false; }
            if (v.Power > ProtocolLimits.MaxTotalVotingPower - total)
            {
                reason = $"total voting power exceeds {ProtocolLimits.MaxTotalVotingPower}";
                return false;
            }
            total += v.Power;
        }
        reason = "";
        return true;
    }

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(_validators.Length);
        foreach (var v in _validators)
        {
            writer.WriteArrayHeader(2);
            writer.Write(v.PublicKey);
            writer.Write(v.Power);
        }
    }

    public static ValidatorSet ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("validator set", ProtocolLimits.MaxValidators);
        var validators = new Validator[count];
        for (int i = 0; i < count; i++)
        {
            reader.ReadArrayHeader(2, "validator");
            validators[i] = new Validator(reader.ReadPublicKey("validator public key"), reader.ReadUInt64("voting power"));
        }
        if (!TryValidate(validators, out var reason, out _, out _))
            throw reader.Error(DecodeError.InvalidValue, reason, at);
        return new ValidatorSet(validators);
    }
}
