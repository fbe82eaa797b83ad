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

    /// <summary>
    /// One signer's transactions, in nonce order, through POST /txs/batch. From the first refusal on, the rest of the
    /// batch is sent again after <paramref name="pause"/> when that refusal is transient (as in <see cref="SubmitAsync"/>:
    /// a full mempool, or the just-committed nonce window; the ones after it were refused for its nonce gap); "Duplicate"
    /// counts as admitted (a retried batch may repeat one). Returns how often it retried; any other refusal is thrown.
    /// </summary>
    public static async Task<int> SubmitBatchAsync(RpcClient client, IReadOnlyList<SignedTransaction> transactions, TimeSpan deadline, TimeSpan pause)
    {
        var clock = Stopwatch.StartNew();
        int retries = 0;
        for (int from = 0; from < transactions.Count;)
        {
            var rest = transactions.Skip(from).ToList();
            var answers = (await client.SubmitBatchAsync(rest)).Results;
            int refused = Enumerable.Range(0, answers.Count).FirstOrDefault(i => answers[i].Status != "pending" && answers[i].Code != "Duplicate", -1);
            if (refused < 0) return retries;
            var answer = answers[refused];
            if (!IsTransient(answer.Code, answer.Error) || clock.Elapsed >= deadline)
                throw new RpcClientException($"{rest[refused].Hash}: {answer.Error}", 422, answer.Code);
            from += refused;
            retries++;
            await Task.Delay(pause);
        }
        return retries;
    }

    private static bool IsTransient(RpcClientException e) => IsTransient(e.Code, e.Message);

    // A full mempool, or the window in which a node still counts just-committed transactions as pending.
    private static bool IsTransient(string? code, string? message) =>
        code == "MempoolFull" || (code == "BadNonce" && message?.Contains("pending)", StringComparison.Ordinal) == true);
}
