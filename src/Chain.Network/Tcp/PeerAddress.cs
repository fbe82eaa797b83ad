using System.Globalization;
using Chain.Core.Crypto;

namespace Chain.Network.Tcp;

/// <summary>
/// A peer to dial: host and port, and optionally the node key it must prove (written <c>key@host:port</c>, the
/// key in hex). Without a key, any peer on the chain is accepted at that address.
/// </summary>
public sealed record PeerAddress(string Host, int Port, PublicKey? ExpectedKey = null)
{
    public static PeerAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        PublicKey? key = null;
        string hostPort = text;
        int at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            try { key = PublicKey.Parse(text[..at]); }
            catch (FormatException e) { throw new FormatException($"peer address '{text}': {e.Message}", e); }
            hostPort = text[(at + 1)..];
        }
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || colon == hostPort.Length - 1)
            throw new FormatException($"peer address '{text}' is not host:port (or key@host:port)");
        string host = hostPort[..colon].Trim('[', ']');
        if (!int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new FormatException($"peer address '{text}': port must be 1..65535");
        return new PeerAddress(host, port, key);
    }

    public override string ToString() =>
        (ExpectedKey is { } key ? key + "@" : "") + (Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host) + ":" + Port.ToString(CultureInfo.InvariantCulture);
}
