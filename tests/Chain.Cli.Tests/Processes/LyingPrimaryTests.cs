using System.Net;
using System.Net.Http.Json;
using Chain.Consensus;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Execution;
using Chain.Node;
using Chain.Rpc;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// The light client against real node processes. An honest primary: a receipt verified from the genesis file and its
/// inference re-run locally. A lying primary (a proxy in front of node 0 that serves, for one height, a header signed
/// by two of the four validators — a lunatic header naming a validator set of just those two): the light client
/// accepts it by skipping verification (half the trusted power signed it), a witness (node 1) has the real header,
/// so the client stops with the attack exit code and posts the evidence; the real network verifies it, includes it,
/// and slashes, jails and removes both signers; the other two validators carry on.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class LyingPrimaryTests(ITestOutputHelper output)
{
    [Fact]
    public Task A_witness_exposes_a_lying_primary_and_the_chain_slashes_the_signers() =>
        ProcessTestNetwork.RunAsync(output, "liar", async net =>
        {
            string Url(int i) => $"http://127.0.0.1:{net.Net.Nodes[i].RpcPort}/";
            var genesisFile = net.Net.Nodes[0].Home.GenesisPath;

            // Honest primary: a committed inference, verified from genesis and re-executed here.
            var signer = new ProcessTestNetwork.Signer(net, "account-0");
            var infer = signer.Infer(0);
            await net.SubmitAsync(0, infer);
            signer.Accepted();
            await net.AssertCommittedEverywhereAsync([infer.Hash]);
            var honestHome = Path.Combine(net.Directory, "light-honest");
            Cli(net, "light", "init", "--home", honestHome, "--node", Url(0), "--genesis", genesisFile);
            var receipt = Cli(net, "light", "receipt", infer.Hash.ToString(), "--home", honestHome, "--rerun", "--witness", Url(1));
            Assert.Contains("matches", receipt);

            // The lie: the header at `forged` replaced by one two validators sign, naming a set of just those two.
            ulong forged = (await net.Net.Clients[0].StatusAsync()).Height;
            var real = await net.Net.Clients[0].VerifiedHeaderAsync(forged);
            var liars = new[] { DevnetKeys.For("validator-0"), DevnetKeys.For("validator-1") };
            var fakeSet = new ValidatorSet(liars.Select(k => new Validator(k.PublicKey, 10)));
            var header = new BlockHeader(real.ChainId, real.Height, real.TimeMs, real.LastBlockHash, real.LastCommitHash, real.TransactionsRoot,
                real.ReceiptsRoot, Hash32.Parse(new string('7', 64)), fakeSet.Hash, fakeSet.Hash, real.EvidenceRoot, real.Proposer);
            var commit = new Commit(header.Height, new Round(0), header.Hash, liars.Select(k =>
            {
                var vote = new Vote(VoteType.Precommit, header.Height, new Round(0), header.Hash, header.TimeMs + 1, k.Address).Sign(header.ChainId, k);
                return new CommitSignature(k.Address, header.TimeMs + 1, vote.Signature);
            }));
            await using var proxy = LyingProxy.Start(new Uri(Url(0)), forged, header, commit, fakeSet);

            var liarHome = Path.Combine(net.Directory, "light-liar");
            Cli(net, "light", "init", "--home", liarHome, "--node", proxy.Url, "--genesis", genesisFile);
            var attack = CliHarness.Run(["light", "sync", "--home", liarHome, "--height", forged.ToString(System.Globalization.CultureInfo.InvariantCulture), "--witness", Url(1)]);
            net.Log($"$ chain light sync (lying primary)\n{attack.Output}{attack.Error}");
            Assert.Equal(2, attack.ExitCode); // LightCommand.AttackExitCode
            Assert.True(proxy.ForgedServed > 0, "the proxy never served the forged header");

            // The network includes the evidence, slashes and tombstones both signers, and goes on without them.
            LightClientAttackEvidence? included = null;
            await net.WaitForAsync("a block carrying the light-client attack evidence", async () =>
            {
                ulong head = (await net.Net.Clients[2].StatusAsync()).Height;
                for (ulong h = forged + 1; h <= head && included is null; h++)
                    included = ProcessTestNetwork.EvidenceOf((await net.Net.Clients[2].BlockAsync(h)).Block).OfType<LightClientAttackEvidence>().FirstOrDefault();
                return included is not null;
            });
            Assert.Equal(header.Hash, included!.Conflict.Header.Hash);
            using var http = new HttpClient { BaseAddress = new Uri(Url(2)) };
            var staking = (await http.GetFromJsonAsync<StakingValidatorsResponse>("staking/validators", RpcJson.Options))!;
            foreach (var liar in liars)
            {
                var record = staking.Validators.Single(v => v.ConsensusAddress == liar.Address.ToString());
                net.Log($"liar after slashing: {record}");
                Assert.True(record.Jailed && record.Tombstoned, record.ToString());
                var parameters = new StakingParameters();
                Assert.True(record.Tokens <= 10 * parameters.PowerReduction * (1_000_000 - parameters.SlashLightClientAttackPpm) / 1_000_000, record.ToString());
            }
            // The jail takes effect two heights after the evidence's block.
            await net.WaitForAsync("a set without the two signers", async () =>
            {
                var set = await net.Net.Clients[2].ValidatorsAsync((await net.Net.Clients[2].StatusAsync()).Height + 1);
                return set.Validators.Count == 2 && !set.Validators.Any(v => liars.Any(l => l.Address.ToString() == v.Address));
            });
            ulong before = await net.MinHeightAsync([2, 3]);
            await net.WaitForAsync("three more heights decided by the two honest validators", async () => await net.MinHeightAsync([2, 3]) >= before + 3);
        });

    private static string Cli(ProcessTestNetwork net, params string[] args)
    {
        var outcome = CliHarness.Run(args);
        net.Log($"$ chain {string.Join(' ', args)}\n{outcome.Output}{outcome.Error}");
        Assert.True(outcome.ExitCode == 0, $"chain {string.Join(' ', args)} exited {outcome.ExitCode}: {outcome.Error}");
        return outcome.Output;
    }

    /// <summary>An HTTP proxy in front of a real node that lies about one height (header, commit, validator set).</summary>
    private sealed class LyingProxy : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly HttpClient _upstream;
        private readonly Task _loop;
        private readonly ulong _height;
        private readonly BlockHeader _header;
        private readonly Commit _commit;
        private readonly ValidatorSet _set;
        private int _forgedServed;

        private LyingProxy(Uri upstream, int port, ulong height, BlockHeader header, Commit commit, ValidatorSet set)
        {
            _upstream = new HttpClient { BaseAddress = upstream, Timeout = TimeSpan.FromSeconds(30) };
            (_height, _header, _commit, _set) = (height, header, commit, set);
            Url = $"http://127.0.0.1:{port}/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _loop = Task.Run(ServeAsync);
        }

        public string Url { get; }
        public int ForgedServed => Volatile.Read(ref _forgedServed);

        public static LyingProxy Start(Uri upstream, ulong height, BlockHeader header, Commit commit, ValidatorSet set) =>
            new(upstream, Chain.Cli.Devnet.LocalNetwork.FindFreePorts(1), height, header, commit, set);

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception) when (!_listener.IsListening)
                {
                    return;
                }
                _ = Task.Run(() => AnswerAsync(context));
            }
        }

        private async Task AnswerAsync(HttpListenerContext context)
        {
            var path = context.Request.Url!.AbsolutePath.Trim('/');
            string h = _height.ToString(System.Globalization.CultureInfo.InvariantCulture);
            object? forged = path == $"headers/{h}" ? new HeaderResponse(RpcMapping.Header(_header), RpcMapping.B64(_header.Encoded))
                : path == $"commits/{h}" ? RpcMapping.Commit(_commit, canonical: true)
                : path == $"validators/{h}" ? RpcMapping.Validators(_height, _set)
                : null;
            try
            {
                if (forged is not null)
                {
                    Interlocked.Increment(ref _forgedServed);
                    var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(forged, forged.GetType(), RpcJson.Options);
                    context.Response.ContentType = "application/json";
                    await context.Response.OutputStream.WriteAsync(bytes);
                }
                else
                {
                    using var request = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), context.Request.Url!.PathAndQuery.TrimStart('/'));
                    if (context.Request.HasEntityBody)
                    {
                        using var body = new MemoryStream();
                        await context.Request.InputStream.CopyToAsync(body);
                        request.Content = new ByteArrayContent(body.ToArray());
                        request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType ?? "application/json");
                    }
                    using var response = await _upstream.SendAsync(request);
                    context.Response.StatusCode = (int)response.StatusCode;
                    context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                    await response.Content.CopyToAsync(context.Response.OutputStream);
                }
            }
            catch (Exception e) when (e is HttpRequestException or HttpListenerException or IOException)
            {
                context.Response.StatusCode = 502;
            }
            finally
            {
                try { context.Response.Close(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { /* the client went away */ }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
            _upstream.Dispose();
        }
    }
}
