using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Core.State;
using MessagePack;

namespace Chain.Execution;

/// <summary>
/// A validator candidate, under <see cref="StateKeys.Validator"/> (its operator's address). Tokens are what its
/// delegators (the operator included) have bonded, less slashes; shares are the delegators' claims on them, so a slash
/// lowers every delegation at once. The missed-commit window is a ring bitmap of the last DowntimeWindow heights it
/// was in the set for (bit <c>Signed mod window</c>). Encoding: <c>[consensusKey: bin32, tokens: uint, shares: uint,
/// jailed: bool, jailedUntil: uint, tombstoned: bool, counted: uint, missed: uint, bitmap: bin]</c>.
/// </summary>
public sealed class ValidatorRecord(PublicKey consensusKey, ulong tokens, ulong shares, bool jailed, ulong jailedUntil, bool tombstoned,
    ulong counted, ulong missed, byte[] bitmap) : CanonicalObject<ValidatorRecord>, ICanonicalObject<ValidatorRecord>
{
    private readonly byte[] _bitmap = bitmap ?? throw new ArgumentNullException(nameof(bitmap));

    public PublicKey ConsensusKey { get; } = consensusKey;
    public Address ConsensusAddress => ConsensusKey.Address;
    public ulong Tokens { get; } = tokens;
    public ulong Shares { get; } = shares;
    public bool Jailed { get; } = jailed;

    /// <summary>First height at which an Unjail is accepted (meaningful while <see cref="Jailed"/>).</summary>
    public ulong JailedUntil { get; } = jailedUntil;

    /// <summary>Convicted of double signing: never unjailed, never slashed again.</summary>
    public bool Tombstoned { get; } = tombstoned;

    /// <summary>Heights counted in the downtime window since it was last reset.</summary>
    public ulong Counted { get; } = counted;

    /// <summary>Set bits of <see cref="Bitmap"/>: commits missed among the last DowntimeWindow counted.</summary>
    public ulong Missed { get; } = missed;
    public ReadOnlySpan<byte> Bitmap => _bitmap;

    public static string KindName => "validator record";
    public static int MaxEncodedSize => 128 + (int)(ProtocolLimits.MaxDowntimeWindow / 8 + 1);

    public static ValidatorRecord New(PublicKey consensusKey, ulong tokens, ulong window) =>
        new(consensusKey, tokens, tokens, false, 0, false, 0, 0, new byte[(window + 7) / 8]);

    public ValidatorRecord WithStake(ulong tokens, ulong shares) =>
        new(ConsensusKey, tokens, shares, Jailed, JailedUntil, Tombstoned, Counted, Missed, _bitmap);

    /// <summary>Jailed until <paramref name="until"/>; the downtime window starts over (as after an unjail in Cosmos).</summary>
    public ValidatorRecord WithJail(ulong until, bool tombstone) =>
        new(ConsensusKey, Tokens, Shares, true, until, Tombstoned || tombstone, 0, 0, new byte[_bitmap.Length]);

    public ValidatorRecord Unjailed() =>
        new(ConsensusKey, Tokens, Shares, false, 0, Tombstoned, Counted, Missed, _bitmap);

    /// <summary>
    /// One more counted height, signed or missed, in a ring of <paramref name="window"/> bits (the DowntimeWindow); the bit it
    /// overwrites (the height <paramref name="window"/> counts ago) leaves the count.
    /// </summary>
    public ValidatorRecord WithSignature(bool signed, ulong window)
    {
        if (window == 0 || window > (ulong)_bitmap.Length * 8)
            throw new ArgumentOutOfRangeException(nameof(window), $"a window of {window} does not fit the record's {_bitmap.Length}-byte bitmap");
        var bitmap = (byte[])_bitmap.Clone();
        int index = (int)(Counted % window);
        bool wasMissed = (bitmap[index / 8] & (1 << (index % 8))) != 0;
        if (signed) bitmap[index / 8] &= (byte)~(1 << (index % 8));
        else bitmap[index / 8] |= (byte)(1 << (index % 8));
        ulong missed = Missed - (wasMissed ? 1UL : 0UL) + (signed ? 0UL : 1UL);
        return new(ConsensusKey, Tokens, Shares, Jailed, JailedUntil, Tombstoned, Counted + 1, missed, bitmap);
    }

    /// <summary>Voting power: tokens / power reduction (0 = cannot be in a set).</summary>
    public ulong Power(StakingParameters p) => Tokens / p.PowerReduction;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(9);
        writer.Write(ConsensusKey);
        writer.Write(Tokens);
        writer.Write(Shares);
        writer.Write(Jailed);
        writer.Write(JailedUntil);
        writer.Write(Tombstoned);
        writer.Write(Counted);
        writer.Write(Missed);
        writer.Write(_bitmap);
    }

    public static ValidatorRecord ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(9, "validator record");
        return new ValidatorRecord(reader.ReadPublicKey("consensus key"), reader.ReadUInt64("tokens"), reader.ReadUInt64("shares"),
            reader.ReadBoolean("jailed"), reader.ReadUInt64("jailed until"), reader.ReadBoolean("tombstoned"),
            reader.ReadUInt64("counted"), reader.ReadUInt64("missed"), reader.ReadBytes("missed bitmap", (int)(ProtocolLimits.MaxDowntimeWindow / 8 + 1)));
    }
}

/// <summary>One address, under <see cref="StateKeys.ConsensusAddress"/> (the operator a consensus address belongs to). Encoding: <c>[address: bin20]</c>.</summary>
public sealed class OperatorIndex(Address operatorAddress) : CanonicalObject<OperatorIndex>, ICanonicalObject<OperatorIndex>
{
    public Address Operator { get; } = operatorAddress;
    public static string KindName => "operator index";
    public static int MaxEncodedSize => 32;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(1);
        writer.Write(Operator);
    }

    public static OperatorIndex ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(1, "operator index");
        return new OperatorIndex(reader.ReadAddress("operator"));
    }
}

/// <summary>A delegator's shares in one validator, under <see cref="StateKeys.Delegation"/>; absent = none. Encoding: <c>[shares: uint]</c>.</summary>
public sealed class Delegation(ulong shares) : CanonicalObject<Delegation>, ICanonicalObject<Delegation>
{
    public ulong Shares { get; } = shares;
    public static string KindName => "delegation";
    public static int MaxEncodedSize => 16;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(1);
        writer.Write(Shares);
    }

    public static Delegation ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(1, "delegation");
        return new Delegation(reader.ReadUInt64("shares"));
    }
}

/// <summary>
/// A bounded list of distinct addresses in insertion order: the validator candidates (<see cref="StateKeys.Candidates"/>)
/// and a delegator's validators (<see cref="StateKeys.Delegator"/>). Encoding: <c>[address: bin20, ...]</c>.
/// </summary>
public sealed class AddressList : CanonicalObject<AddressList>, ICanonicalObject<AddressList>
{
    private const int MaxItems = ProtocolLimits.MaxValidatorCandidates;
    private readonly Address[] _items;

    public AddressList(IEnumerable<Address> items)
    {
        _items = items.ToArray();
        if (_items.Length > MaxItems) throw new ArgumentException($"{_items.Length} addresses, the limit is {MaxItems}", nameof(items));
        if (_items.Distinct().Count() != _items.Length) throw new ArgumentException("an address appears twice", nameof(items));
    }

    public static AddressList Empty { get; } = new([]);
    public IReadOnlyList<Address> Items => _items;
    public static string KindName => "address list";
    public static int MaxEncodedSize => 8 + MaxItems * (Address.Size + 2);

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(_items.Length);
        foreach (var a in _items) writer.Write(a);
    }

    public static AddressList ReadFrom(ref CanonicalReader reader)
    {
        long at = reader.Offset;
        int count = reader.ReadArrayCount("address list", MaxItems);
        var items = new Address[count];
        for (int i = 0; i < count; i++) items[i] = reader.ReadAddress("address");
        if (items.Distinct().Count() != count) throw reader.Error(DecodeError.InvalidValue, "an address appears twice", at);
        return new AddressList(items);
    }
}

/// <summary>Tokens on their way back to a delegator: paid at the end of block <see cref="CompletionHeight"/>, slashable until then.</summary>
public readonly record struct UnbondingEntry(Address Delegator, Address Validator, ulong Amount, ulong CreationHeight, ulong CompletionHeight);

/// <summary>
/// Every unbonding entry, in completion order (entries are appended with completion = creation + unbonding period),
/// under <see cref="StateKeys.UnbondingQueue"/>; bounded by <see cref="ProtocolLimits.MaxUnbondingEntries"/>.
/// Encoding: <c>[[delegator, validator, amount, creationHeight, completionHeight], ...]</c>.
/// </summary>
public sealed class UnbondingQueue : CanonicalObject<UnbondingQueue>, ICanonicalObject<UnbondingQueue>
{
    private readonly UnbondingEntry[] _entries;

    public UnbondingQueue(IEnumerable<UnbondingEntry> entries)
    {
        _entries = entries.ToArray();
        if (_entries.Length > ProtocolLimits.MaxUnbondingEntries)
            throw new ArgumentException($"{_entries.Length} unbonding entries, the limit is {ProtocolLimits.MaxUnbondingEntries}", nameof(entries));
    }

    public static UnbondingQueue Empty { get; } = new([]);
    public IReadOnlyList<UnbondingEntry> Entries => _entries;
    public static string KindName => "unbonding queue";
    public static int MaxEncodedSize => 8 + ProtocolLimits.MaxUnbondingEntries * 80;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(_entries.Length);
        foreach (var e in _entries)
        {
            writer.WriteArrayHeader(5);
            writer.Write(e.Delegator);
            writer.Write(e.Validator);
            writer.Write(e.Amount);
            writer.Write(e.CreationHeight);
            writer.Write(e.CompletionHeight);
        }
    }

    public static UnbondingQueue ReadFrom(ref CanonicalReader reader)
    {
        int count = reader.ReadArrayCount("unbonding queue", ProtocolLimits.MaxUnbondingEntries);
        var entries = new UnbondingEntry[count];
        for (int i = 0; i < count; i++)
        {
            reader.ReadArrayHeader(5, "unbonding entry");
            entries[i] = new UnbondingEntry(reader.ReadAddress("delegator"), reader.ReadAddress("validator"), reader.ReadUInt64("amount"),
                reader.ReadUInt64("creation height"), reader.ReadUInt64("completion height"));
        }
        return new UnbondingQueue(entries);
    }
}

/// <summary>
/// The validator sets of the next two heights with their ActiveSince, under <see cref="StateKeys.ValidatorSets"/>: after
/// height H is committed, <see cref="Next"/> = Vals(H+1) and <see cref="AfterNext"/> = Vals(H+2).
/// Encoding: <c>[[set, activeSince: uint], [set, activeSince: uint]]</c>.
/// </summary>
public sealed class ValidatorSetsRecord(ActiveValidators next, ActiveValidators afterNext)
    : CanonicalObject<ValidatorSetsRecord>, ICanonicalObject<ValidatorSetsRecord>
{
    public ActiveValidators Next { get; } = next ?? throw new ArgumentNullException(nameof(next));
    public ActiveValidators AfterNext { get; } = afterNext ?? throw new ArgumentNullException(nameof(afterNext));
    public static string KindName => "validator sets";
    public static int MaxEncodedSize => 2 * (ValidatorSet.MaxEncodedSize + 16) + 8;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        Write(ref writer, Next);
        Write(ref writer, AfterNext);
    }

    private static void Write(ref MessagePackWriter writer, ActiveValidators active)
    {
        writer.WriteArrayHeader(2);
        active.Set.WriteTo(ref writer);
        writer.Write(active.ActiveSince.Value);
    }

    public static ValidatorSetsRecord ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "validator sets");
        return new ValidatorSetsRecord(Read(ref reader), Read(ref reader));
    }

    internal static ActiveValidators Read(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(2, "active validators");
        var set = ValidatorSet.ReadFrom(ref reader);
        return new ActiveValidators(set, new Height(reader.ReadUInt64("active since")));
    }
}

/// <summary>One counter, under <see cref="StateKeys.Burned"/>: tokens slashed so far (burned). Encoding: <c>[amount: uint]</c>.</summary>
public sealed class BurnedTotal(ulong amount) : CanonicalObject<BurnedTotal>, ICanonicalObject<BurnedTotal>
{
    public ulong Amount { get; } = amount;
    public static string KindName => "burned total";
    public static int MaxEncodedSize => 16;

    public override void WriteTo(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(1);
        writer.Write(Amount);
    }

    public static BurnedTotal ReadFrom(ref CanonicalReader reader)
    {
        reader.ReadArrayHeader(1, "burned total");
        return new BurnedTotal(reader.ReadUInt64("amount"));
    }
}
