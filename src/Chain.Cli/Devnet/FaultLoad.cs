using System.Collections.Concurrent;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Node;
using Chain.Rpc;

namespace Chain.Cli.Devnet;

/// <summary>
/// A steady load for the fault campaign: a few funded signers, each submitting one transaction at a time (2 Infer of a
/// genesis digit : 1 transfer) in commit mode through a node that is up, and recording every hash a node answered
/// "committed". A node that dies mid-request only costs a retry: the signer re-reads its nonce from a live node.
/// </summary>
internal sealed class FaultLoad : IAsyncDisposable
{
    private readonly LocalNetwork _network;
    private readonly Func<IReadOnlyList<int>> _targets;
    private readonly (Hash32 Model, byte[] Input)[] _digits;
    private readonly CancellationTokenSource _stop = new();
    private readonly PrivateKey[] _keys;
    private readonly Task[] _signers;
    private long _submitted, _failed;

    /// <summary>Starts <paramref name="signers"/> signers; each submission goes to one of <paramref name="targets"/>() (nodes meant to be up).</summary>
    public FaultLoad(LocalNetwork network, IReadOnlyList<(Hash32 Model, byte[] Input)> digits, int signers, int seed, Func<IReadOnlyList<int>> targets)
    {
        _network = network;
        _targets = targets;
        _digits = [.. digits];
        _keys = DevnetKeys.FundedSenders(signers);
        _signers = _keys.Select((key, i) => Task.Run(() => SignAsync(key, new Random(seed * 31 + i)))).ToArray();
    }

    /// <summary>Hashes a node answered with status "committed", and which node answered.</summary>
    public ConcurrentDictionary<Hash32, int> Committed { get; } = new();

    public long Submitted => Interlocked.Read(ref _submitted);

    /// <summary>Submissions that got no "committed" answer (node down or killed mid-request, stale nonce, commit timeout).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    private async Task SignAsync(PrivateKey key, Random random)
    {
        var ct = _stop.Token;
        var genesis = _network.Genesis;
        ulong nonce = 0;
        bool resync = true;
        for (int n = 0; !ct.IsCancellationRequested; n++)
        {
            var targets = _targets();
            if (targets.Count == 0)
            {
                await Pause(ct);
                continue;
            }
            int node = targets[random.Next(targets.Count)];
            try
            {
                if (resync)
                {
                    nonce = (await _network.Clients[node].AccountAsync(key.Address, ct).ConfigureAwait(false)).Account.Nonce;
                    resync = false;
                }
                var digit = _digits[random.Next(_digits.Length)];
                TransactionBody body = n % 3 == 2 ? new TransferBody(key.Address, 1) : new InferBody(digit.Model, digit.Input, 1_000_000);
                var tx = new Transaction(genesis.ChainId, key.PublicKey, nonce, Gas.MinFee(body, genesis.Parameters), body).Sign(key);
                Interlocked.Increment(ref _submitted);
                var answer = await _network.Clients[node].SubmitAsync(tx, SubmitMode.Commit, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
                if (answer.Status == "committed")
                {
                    Committed[tx.Hash] = node;
                    nonce++;
                    continue;
                }
                Interlocked.Increment(ref _failed);
                resync = true;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RpcClientException or HttpRequestException or TaskCanceledException or IOException)
            {
                Interlocked.Increment(ref _failed);
                resync = true; // the transaction may still commit (or not): the chain says which nonce is next
                await Pause(ct);
            }
        }
    }

    // Pacing of a client after a refusal, not a wait for a condition.
    private static async Task Pause(CancellationToken ct)
    {
        try
        {
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops submitting; waits for the signers' requests in flight.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_signers).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
        foreach (var key in _keys) key.Dispose();
    }

    /// <summary>The genesis models' shipped test digits as (model, canonical input tensor).</summary>
    public static IReadOnlyList<(Hash32 Model, byte[] Input)> GenesisDigits(IReadOnlyList<Inference.Runtime.GenesisModel> models, IReadOnlyList<(int Label, byte[] Pixels)> digits) =>
        [.. models.SelectMany(m => digits.Select(d => (m.ModelId, Canonical.Encode(Inference.Runtime.GenesisModels.ImageTensor(d.Pixels)))))];
}
