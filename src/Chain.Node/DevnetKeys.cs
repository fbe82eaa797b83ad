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

    /// <summary>Balance generated local genesis files give each funded devnet account and validator.</summary>
    public const ulong FundedBalance = 1_000_000_000_000;

    /// <summary>The devnet accounts account-0..2, as funded by generated local genesis files (<see cref="NodeHome.CreateTestnet"/>, `chain init`).</summary>
    public static IEnumerable<Execution.GenesisAccount> FundedAccounts() =>
        Enumerable.Range(0, 3).Select(i => new Execution.GenesisAccount(For($"account-{i}").Address, FundedBalance));

    /// <summary>
    /// <paramref name="count"/> funded signers of a devnet-keyed testnet: account-0..2, then validator-0.. (a testnet
    /// genesis funds every validator too). Clients bind each to one node, because a mempool admits an account's
    /// nonces only in order and gossip does not keep one client's order across nodes.
    /// </summary>
    public static PrivateKey[] FundedSenders(int count) =>
        Enumerable.Range(0, 3).Select(i => $"account-{i}").Concat(Enumerable.Range(0, Math.Max(0, count - 3)).Select(i => $"validator-{i}"))
            .Take(count).Select(For).ToArray();
}
