namespace Chain.Core;

/// <summary>
/// The name of a chain. Part of every signed message, so a signature made for one chain is
/// worthless on another. 1 to 50 characters of [a-z0-9._-], starting with a letter or digit.
/// </summary>
public readonly record struct ChainId
{
    public const int MaxLength = 50;

    public string Value { get; }

    public ChainId(string value)
    {
        if (!IsValid(value, out var reason))
            throw new ArgumentException($"invalid chain id '{value}': {reason}", nameof(value));
        Value = value;
    }

    public static bool IsValid(string? value, out string reason)
    {
        if (string.IsNullOrEmpty(value)) { reason = "empty"; return false; }
        if (value.Length > MaxLength) { reason = $"longer than {MaxLength} characters"; return false; }
        if (!char.IsAsciiLetterOrDigit(value[0]) || char.IsAsciiLetterUpper(value[0]))
        {
            reason = "must start with a lower-case letter or digit";
            return false;
        }
        foreach (char c in value)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.'))
            {
                reason = $"character '{c}' is not allowed (use a-z, 0-9, '.', '_', '-')";
                return false;
            }
        }
        reason = "";
        return true;
    }

    public override string ToString() => Value ?? "";
}

/// <summary>A block height; the genesis state is height 0 and the first block is height 1.</summary>
public readonly record struct Height(ulong Value) : IComparable<Height>
{
    public Height Next => new(checked(Value + 1));
    public int CompareTo(Height other) => Value.CompareTo(other.Value);
    public static bool operator <(Height a, Height b) => a.Value < b.Value;
    public static bool operator >(Height a, Height b) => a.Value > b.Value;
    public static bool operator <=(Height a, Height b) => a.Value <= b.Value;
    public static bool operator >=(Height a, Height b) => a.Value >= b.Value;
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A consensus round within a height, starting at 0.</summary>
public readonly record struct Round(uint Value) : IComparable<Round>
{
    public Round Next => new(checked(Value + 1));
    public int CompareTo(Round other) => Value.CompareTo(other.Value);
    public static bool operator <(Round a, Round b) => a.Value < b.Value;
    public static bool operator >(Round a, Round b) => a.Value > b.Value;
    public static bool operator <=(Round a, Round b) => a.Value <= b.Value;
    public static bool operator >=(Round a, Round b) => a.Value >= b.Value;
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
