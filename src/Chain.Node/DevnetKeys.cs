using System.Security.Cryptography;
using System.Text;
using Chain.Core.Crypto;

namespace Chain.Node;

/// <summary>
/// The published devnet keys (genesis/README.md): seed = SHA-256("chain-devnet/" + name), for "validator-i" and
/// "account-i". Anyone can sign with them: they exist for local networks and tests only.
/// </summary>
public static class DevnetKeys
{
    public static PrivateKey For(string name) => PrivateKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("chain-devnet/" + name)));
}
