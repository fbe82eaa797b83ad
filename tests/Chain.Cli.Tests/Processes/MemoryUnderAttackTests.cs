using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Network.Tcp;
using Xunit.Abstractions;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// Issue 15's memory attack on a real validator process (docs/node.md, "Memory under attack"): many P2P peers with
/// random node keys that declare the largest frame the protocol allows a stranger and trickle most of it, a few that
/// declare the largest frame it allows anyone (refused on the length alone), garbage handshakes, and
/// idle and slowloris RPC connections, all at node 0 at once. The chain must keep committing, an honest /status must
/// answer within 1 s, node 0's RSS must stay under <see cref="RssBoundBytes"/>, and once the attackers leave it must
/// come back to within <see cref="ReturnToleranceBytes"/> of its baseline (or of node 1's RSS, a validator of the same
/// chain that was not attacked, when the chain's own growth has taken that above node 0's baseline).
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class MemoryUnderAttackTests(ITestOutputHelper output)
{
    /// <summary>The documented bound on a validator's resident memory under this attack.</summary>
    public const long RssBoundBytes = 512L << 20;

    /// <summary>How far above its pre-attack baseline node 0 may stay once the attackers have left.</summary>
    public const long ReturnToleranceBytes = 80L << 20;

    /// <summary>More than the node's peer table holds (p2p.max_peers = 40, 3 of them validators): the extra ones are refused.</summary>
    private const int HostileFramePeers = 48;
    /// <summary>Hostile peers that must get through the handshake and declare their frame.</summary>
    private const int DeclaredAtLeast = 32;
    /// <summary>Strangers that announce a frame above their limit (the whole-block maximum): cut off and banned at once.</summary>
    private const int OversizePeers = 8;
    /// <summary>The largest frame a stranger may send: <see cref="NetworkLimits.UnknownPeerMaxPayloadBytes"/> plus channel byte and tag.</summary>
    private const uint StrangerMaxFrame = 1 + NetworkLimits.UnknownPeerMaxPayloadBytes + NetworkLimits.TagBytes;
    private const int GarbageHandshakes = 60;
    private const int IdleRpcConnections = 160;
    private const int SlowlorisRpcConnections = 160;
    /// <summary>Attackers' RPC connections come from 127.0.0.2.. (this many each, above the per-client limit of 32); the honest probe from 127.0.0.1.</summary>
    private const int RpcConnectionsPerAddress = 40;

    [Fact]
    public Task A_validator_under_p2p_and_rpc_memory_attacks_keeps_committing_answering_and_within_its_rss_bound() =>
        ProcessTestNetwork.RunAsync(output, "memory-attack", async net =>
        {
            int seed = Environment.TickCount;
            net.Log($"random seed {seed}");
            var target = net.Net.Nodes[0];
            int pid = net.Net.ProcessId(0) ?? throw new InvalidOperationException("node 0 is not running");
            await net.WaitForAsync("every node to commit height 3 (warm)", async () => await net.MinHeightAsync() >= 3);
            long baseline = Rss(pid);
            net.Log($"node 0 (pid {pid}) baseline RSS {Mib(baseline)}; {Breakdown(pid)}");

            using var sampler = new RssSampler(pid);
            using var stop = new CancellationTokenSource();
            var counters = new AttackCounters();
            var random = new Random(seed);
            var attackers = new List<Task>();
            // First the strangers announcing whole-block frames, each refused on its length alone (while the peer table has room).
            for (int i = 0; i < OversizePeers; i++)
                attackers.Add(HostileFramePeerAsync(target.P2pPort, net.ChainId, NetworkLimits.MaxFrameCiphertextBytes, counters, stop.Token));
            await net.WaitForAsync($"{OversizePeers} whole-block frames from strangers cut off", () => Task.FromResult(counters.OversizeRefused == OversizePeers),
                TimeSpan.FromSeconds(30));
            for (int i = 0; i < HostileFramePeers; i++)
                attackers.Add(HostileFramePeerAsync(target.P2pPort, net.ChainId, StrangerMaxFrame, counters, stop.Token));
            attackers.Add(GarbageHandshakesAsync(target.P2pPort, net.ChainId, new Random(random.Next()), counters, stop.Token));
            for (int i = 0; i < IdleRpcConnections + SlowlorisRpcConnections; i++)
            {
                var from = IPAddress.Parse($"127.0.0.{2 + i / RpcConnectionsPerAddress}");
                attackers.Add(RpcAttackerAsync(target.RpcPort, from, slowloris: i >= IdleRpcConnections, counters, stop.Token));
            }

            ulong startHeight = await net.MinHeightAsync();
            var probes = new List<double>();
            var attackClock = Stopwatch.StartNew();
            // The attack lasts until every attacker is in place, the node has cut off every whole-block frame and the
            // first stranger frames it gave budget to (their bodies too slow, ≈ 18 s: so it has read others since), and
            // the chain has committed 5 heights under it.
            await net.WaitForAsync("5 heights under the attack, every attacker in place, 2 hostile frames cut off as too slow", async () =>
            {
                probes.Add(await ProbeStatusMsAsync(net));
                return counters.FramesDeclared >= DeclaredAtLeast && counters.RpcOpen >= IdleRpcConnections + SlowlorisRpcConnections / 2
                    && counters.HungUp >= 2 && await net.MinHeightAsync() >= startHeight + 5;
            }, TimeSpan.FromSeconds(150), () => counters.ToString());
            ulong endHeight = await net.MinHeightAsync();
            net.Log($"under attack for {attackClock.Elapsed.TotalSeconds:F1} s: heights {startHeight} → {endHeight}; {counters}; " +
                $"/status probes: {probes.Count}, max {probes.Max():F0} ms, p95 {Percentile(probes, 0.95):F0} ms, p50 {Percentile(probes, 0.5):F0} ms; peak RSS {Mib(sampler.Peak)}");

            net.Log($"at the end of the attack: {Breakdown(pid)}");
            stop.Cancel();
            await Task.WhenAll(attackers);
            long peak = sampler.Peak;
            long after = 0;
            var back = Stopwatch.StartNew();
            try
            {
                await net.WaitForAsync($"node 0's RSS back within {Mib(ReturnToleranceBytes)} of its baseline {Mib(baseline)} or of node 1's",
                    () => Task.FromResult((after = Rss(pid)) <= Math.Max(baseline, Rss(net.Net.ProcessId(1) ?? pid)) + ReturnToleranceBytes),
                    TimeSpan.FromSeconds(60));
            }
            finally
            {
                // Node 1 was not attacked: what the chain's own growth since the baseline accounts for.
                net.Log($"after: {Breakdown(pid)}; node 1 (not attacked) RSS {Mib(Rss(net.Net.ProcessId(1) ?? pid))}");
            }
            net.Log($"RSS baseline {Mib(baseline)}, peak {Mib(peak)} (bound {Mib(RssBoundBytes)}), after {Mib(after)} within {back.Elapsed.TotalSeconds:F1} s of the attackers leaving");

            Assert.True(endHeight >= startHeight + 5, $"the chain committed only {endHeight - startHeight} heights under attack");
            // The goal is 1 s. The probe shares two cores with four nodes, hundreds of attacker tasks and, in a stress run,
            // stress-ng: one probe descheduled for a second is the machine, not the node. A client the attack locked out
            // waits for the 10 s header timeout or is refused, which both bounds catch.
            Assert.True(Percentile(probes, 0.95) < 1000, $"honest /status probes under attack: p95 {Percentile(probes, 0.95):F0} ms (limit 1000 ms)");
            Assert.True(probes.Max() < 5000, $"an honest /status took {probes.Max():F0} ms under attack (limit 5000 ms for any one probe)");
            Assert.True(peak <= RssBoundBytes, $"node 0's RSS peaked at {Mib(peak)}, above the bound {Mib(RssBoundBytes)}");
            Assert.True(counters.FramesDeclared >= DeclaredAtLeast, $"only {counters.FramesDeclared} hostile peers got to declare a frame");
            Assert.True(net.Net.IsRunning(0));
            ulong later = await net.MinHeightAsync();
            await net.WaitForAsync("2 more heights after the attack", async () => await net.MinHeightAsync() >= later + 2);
            await net.AssertIdenticalChainsAsync(await net.MinHeightAsync());
        });

    /// <summary>An honest client's /status, timed (from 127.0.0.1, which no attacker uses).</summary>
    private static async Task<double> ProbeStatusMsAsync(ProcessTestNetwork net)
    {
        var clock = Stopwatch.StartNew();
        await net.Net.Clients[0].StatusAsync();
        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>
    /// A peer with a fresh random node key: a real handshake, then a length prefix announcing a frame of
    /// <paramref name="frame"/> bytes and all of its body but 1 MiB, sent in 64 KiB pieces at about 4 MiB/s, never finished.
    /// </summary>
    private static async Task HostileFramePeerAsync(int port, ChainId chainId, uint frame, AttackCounters counters, CancellationToken ct)
    {
        try
        {
            using var key = PrivateKey.Generate();
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await using var secure = await SecretConnection.EstablishAsync(stream, chainId, key, null, TimeSpan.FromSeconds(60), TimeProvider.System, ct);
            var prefix = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(prefix, frame);
            await socket.SendAsync(prefix, ct);
            bool oversize = frame > StrangerMaxFrame;
            if (!oversize) counters.Declared();
            var piece = new byte[64 << 10];
            Random.Shared.NextBytes(piece);
            long most = frame - (1 << 20);
            try
            {
                for (long sent = 0; sent < most; sent += piece.Length)
                {
                    await socket.SendAsync(piece, ct); // blocks while the node does not read (no budget for this frame yet)
                    counters.Sent(piece.Length);
                    await Task.Delay(15, ct); // pacing: a slow sender, not a wait for the node
                }
                var sink = new byte[64 << 10];
                while (await socket.ReceiveAsync(sink, SocketFlags.None, ct) > 0) { } // what the node broadcasts, until it hangs up
            }
            catch (SocketException)
            {
                // reset by the node
            }
            if (!ct.IsCancellationRequested)
            {
                if (oversize) counters.OversizeCutOff();
                else counters.CutOff();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or HandshakeException)
        {
            // refused (peer limit) or the attack is over
        }
    }

    /// <summary>Failed handshakes in a loop: random bytes, a hello for another chain, a good hello then a garbage auth frame.</summary>
    private static async Task GarbageHandshakesAsync(int port, ChainId chainId, Random random, AttackCounters counters, CancellationToken ct)
    {
        for (int i = 0; i < GarbageHandshakes && !ct.IsCancellationRequested; i++)
        {
            byte[] bytes = (i % 3) switch
            {
                0 => RandomBytes(random, 4096),
                1 => [.. Hello("chain-other", random), .. RandomBytes(random, 512)],
                _ => [.. Hello(chainId.ToString(), random), .. Prefix(96), .. RandomBytes(random, 96)],
            };
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
                await socket.SendAsync(bytes, ct);
                var buffer = new byte[4096];
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(TimeSpan.FromSeconds(30));
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0) { } // until the node hangs up
                counters.Garbage();
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException) { }
        }
    }

    /// <summary>An idle connection (sends nothing) or a slowloris one (a request's headers, one line every 2 s, never ended).</summary>
    private static async Task RpcAttackerAsync(int port, IPAddress from, bool slowloris, AttackCounters counters, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(from, 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
                counters.RpcOpened();
                try
                {
                    if (!slowloris)
                    {
                        var buffer = new byte[1024];
                        while (await socket.ReceiveAsync(buffer, SocketFlags.None, ct) > 0) { } // until the server closes it
                    }
                    else
                    {
                        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"), ct);
                        for (int line = 0; ; line++)
                        {
                            await Task.Delay(2000, ct); // pacing: the slow client
                            await socket.SendAsync(Encoding.ASCII.GetBytes($"X-Slow-{line}: a\r\n"), ct);
                        }
                    }
                }
                finally
                {
                    counters.RpcClosed();
                }
            }
            catch (SocketException) { } // the server hung up (timeout, per-client limit): come back
            catch (OperationCanceledException) { return; }
            try { await Task.Delay(200, ct); } // pacing between reconnections
            catch (OperationCanceledException) { return; }
        }
    }

    private static byte[] Hello(string chainId, Random random)
    {
        var id = Encoding.ASCII.GetBytes(chainId);
        byte[] version = [(byte)(NetworkLimits.ProtocolVersion >> 8), (byte)NetworkLimits.ProtocolVersion];
        return [.. "CHAINP2P"u8, .. version, (byte)id.Length, .. id, .. RandomBytes(random, 32)];
    }

    private static byte[] Prefix(uint length)
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, length);
        return prefix;
    }

    private static byte[] RandomBytes(Random random, int n)
    {
        var bytes = new byte[n];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>VmRSS of a process, in bytes (Linux /proc).</summary>
    public static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"no VmRSS in /proc/{pid}/status");
    }

    private static string Breakdown(int pid) => string.Join(", ", File.ReadLines($"/proc/{pid}/status")
        .Where(l => l.StartsWith("Rss", StringComparison.Ordinal) || l.StartsWith("Threads", StringComparison.Ordinal)).Select(l => string.Join(' ', l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))));

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):F0} MiB";

    private static double Percentile(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(q * sorted.Count))];
    }

    /// <summary>The highest RSS seen, sampled every 100 ms.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly Timer _timer;
        private long _peak;

        public RssSampler(int pid) => _timer = new Timer(_ =>
        {
            try
            {
                long rss = Rss(pid);
                long seen;
                while (rss > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, rss, seen) != seen) { }
            }
            catch (IOException) { } // exited: the test fails elsewhere
        }, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));

        public long Peak => Interlocked.Read(ref _peak);

        public void Dispose() => _timer.Dispose();
    }

    private sealed class AttackCounters
    {
        private int _declared, _hungUp, _oversize, _garbage, _rpcOpen, _rpcOpened;
        private long _sent;
        public int FramesDeclared => Volatile.Read(ref _declared);
        public int RpcOpen => Volatile.Read(ref _rpcOpen);
        /// <summary>Hostile frame peers the node disconnected (their frame body too slow) after reading part of it.</summary>
        public int HungUp => Volatile.Read(ref _hungUp);
        public void CutOff() => Interlocked.Increment(ref _hungUp);
        /// <summary>Strangers that announced a frame above their limit and were cut off.</summary>
        public int OversizeRefused => Volatile.Read(ref _oversize);
        public void OversizeCutOff() => Interlocked.Increment(ref _oversize);
        public void Declared() => Interlocked.Increment(ref _declared);
        public void Sent(int bytes) => Interlocked.Add(ref _sent, bytes);
        public void Garbage() => Interlocked.Increment(ref _garbage);
        public void RpcOpened()
        {
            Interlocked.Increment(ref _rpcOpen);
            Interlocked.Increment(ref _rpcOpened);
        }
        public void RpcClosed() => Interlocked.Decrement(ref _rpcOpen);
        public override string ToString() =>
            $"{FramesDeclared} maximal stranger frames declared, {HungUp} of them cut off as too slow, {OversizeRefused} whole-block frames cut off at once, {Interlocked.Read(ref _sent) >> 20} MiB of frame bodies sent, {Volatile.Read(ref _garbage)} garbage handshakes refused, " +
            $"{Volatile.Read(ref _rpcOpened)} RPC connections opened ({RpcOpen} open)";
    }
}
