using System.Globalization;

namespace Chain.Rpc;

/// <summary>Path parameters parsed exactly as docs/rpc.md says: decimal heights without leading zeros, lower-case hex.</summary>
internal static class RpcParse
{
    /// <summary>A decimal number from 1 with no sign, no leading zero and no white space.</summary>
    public static bool TryHeight(string text, out ulong height)
    {
        height = 0;
        if (text.Length is 0 or > 20 || text[0] == '0') return false;
        foreach (char c in text)
            if (c is < '0' or > '9') return false;
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out height);
    }

    /// <summary>Exactly <paramref name="length"/> characters of lower-case hex (0-9, a-f).</summary>
    public static bool IsLowerHex(string text, int length)
    {
        if (text.Length != length) return false;
        foreach (char c in text)
            if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        return true;
    }
}
