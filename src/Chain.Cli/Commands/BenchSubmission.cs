using System.Diagnostics;
using Chain.Core.Protocol;
using Chain.Rpc;

namespace Chain.Cli.Commands;

/// <summary>How the benchmarks submit a load transaction: one rule for every load generator.</summary>
internal static class BenchSubmission
{
    /// <summary>
    /// Sync-mode submission that retries, for at most <paramref name="deadline"/>, a full mempool and the brief window in
    /// which a node's mempool still counts just-committed transactions as pending (BadNonce "… pending)"); returns how
    /// often it retried. Any other refusal is thrown at once.
    /// </summary>
    public static async Task<int> SubmitAsync(RpcClient client, SignedTransaction tx, TimeSpan deadline, TimeSpan pause)
    {
        var clock = Stopwatch.StartNew();
        for (int retries = 0; ; retries++)
        {
            try
            {
                await client.SubmitAsync(tx, SubmitMode.Sync);
                return retries;
            }
            catch (RpcClientException e) when (clock.Elapsed < deadline && IsTransient(e))
            {
                await Task.Delay(pause);
            }
        }
    }

    private static bool IsTransient(RpcClientException e) =>
        e.Code == "MempoolFull" || (e.Code == "BadNonce" && e.Message.Contains("pending)", StringComparison.Ordinal));
}
