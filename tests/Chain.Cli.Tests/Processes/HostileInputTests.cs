using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Chain.Core;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Onnx;
using Chain.Network.Tcp;
using Chain.Rpc;
using Xunit.Abstractions;
using Chain.Testing;
using Chain.Core.State;

namespace Chain.Cli.Tests.Processes;

/// <summary>
/// Garbage on the P2P port, bad transactions and a memory-hostile model over RPC to a running multi-process network:
/// refused, nothing changes, the chain goes on.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    [Fact]
    public Task Garbage_p2p_bytes_and_bad_rpc_transactions_are_refused_while_the_chain_goes_on_identically() =>
        ProcessTestNetwork.RunAsync(output, "hostile", async net =>
        {
            int seed = Environment.TickCount;
            net.Log($"random seed {seed}");
            var random = new Random(seed);
            ulong start = await net.MinHeightAsync();

            // P2P: random bytes, then a well-formed hello followed by a 2^31 frame length where the auth frame belongs.
            for (int node = 0; node < net.Count; node++)
            {
                var garbage = new byte[4096];
                random.NextBytes(garbage);
                await AssertNodeHangsUpAsync(net, node, garbage, "random bytes");
                var hello = Hello(net.ChainId, random);
                var lengthPrefix = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(lengthPrefix, 1u << 31);
                await AssertNodeHangsUpAsync(net, node, [.. hello, .. lengthPrefix], "a hello then a 2^31 frame length");
            }

            var alice = new ProcessTestNetwork.Signer(net, "account-0");
            var client = net.Net.Clients[1];
            var aliceBefore = (await client.AccountAsync(alice.Key.Address)).Account;

            // A valid transfer, committed, then replayed byte for byte.
            var transfer = alice.Transfer(DevnetAddress("account-1"), 77);
            await net.SubmitAsync(1, transfer);
            alice.Accepted();
            await net.AssertCommittedEverywhereAsync([transfer.Hash]);
            var replay = await Assert.ThrowsAsync<RpcClientException>(() => client.SubmitAsync(transfer));
            Assert.Equal((422, "AlreadyIncluded"), (replay.Status, replay.Code));

            // A bad signature: the same transaction signed, then one signature bit flipped.
            var honest = alice.Transfer(DevnetAddress("account-1"), 5);
            var flipped = honest.Signature.Bytes.ToArray();
            flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
            var forged = new SignedTransaction(honest.Transaction, new Signature(flipped));
            var badSignature = await Assert.ThrowsAsync<RpcClientException>(() => client.SubmitAsync(forged));
            Assert.Equal((422, "InvalidSignature"), (badSignature.Status, badSignature.Code));

            // Signed correctly, but for another chain.
            var otherChain = new Transaction(new ChainId("chain-other"), alice.Key.PublicKey, alice.Nonce, 10_000,
                new TransferBody(DevnetAddress("account-1"), 5)).Sign(alice.Key);
            var wrongChain = await Assert.ThrowsAsync<RpcClientException>(() => client.SubmitAsync(otherChain));
            Assert.Equal((422, "WrongChainId"), (wrongChain.Status, wrongChain.Code));

            // A model whose static memory plan is 125 GiB (4000 live [2048,2048] int64 intermediates of 32 MiB): the RPC
            // refuses the registration before the mempool, 422 with the receipt status it would get and admission's
            // reason, [memory], on one line. (A transaction that reaches a block anyway — P2P gossip skips the RPC —
            // executes to ModelRejected: tests/Chain.Node.Tests/HostileModelTests.)
            var mallory = new ProcessTestNetwork.Signer(net, "account-2");
            var hostileBody = new RegisterModelBody("hostile-4000-adds", HostileMemoryModel());
            var hostile = mallory.Sign(hostileBody, 100_000 + (ulong)hostileBody.ModelBytes.Length);
            var hostileClock = System.Diagnostics.Stopwatch.StartNew();
            var hostileRefusal = await Assert.ThrowsAsync<RpcClientException>(() => client.SubmitAsync(hostile));
            net.Log($"the memory-hostile model refused in {hostileClock.ElapsedMilliseconds} ms: {hostileRefusal.Status} {hostileRefusal.Code}: {hostileRefusal.Message}");
            Assert.Equal((422, "ModelRejected"), (hostileRefusal.Status, hostileRefusal.Code));
            Assert.Contains("[memory]", hostileRefusal.Message);
            Assert.DoesNotContain("\n", hostileRefusal.Message);
            for (int i = 0; i < net.Count; i++)
            {
                var unregistered = await Assert.ThrowsAsync<RpcClientException>(() => net.Net.Clients[i].ModelAsync(hostileBody.ModelId));
                Assert.Equal(404, unregistered.Status);
            }
            Assert.Equal(0UL, (await client.AccountAsync(mallory.Key.Address)).Account.Nonce); // not admitted, not charged

            // A body over the RPC's limit (≈ 8.01 MiB) is announced: 413 before the node reads (or decodes) any of it.
            Assert.Equal(413, await OversizedPostStatusAsync(net.Net.Nodes[2].RpcPort, 9 << 20));

            // Nothing changed: none of the refused transactions exist anywhere, alice paid for the one transfer only.
            foreach (var refused in new[] { forged, otherChain, hostile })
                for (int i = 0; i < net.Count; i++)
                {
                    var missing = await Assert.ThrowsAsync<RpcClientException>(() => net.Net.Clients[i].TransactionAsync(refused.Hash));
                    Assert.Equal(404, missing.Status);
                }
            var aliceAfter = (await client.AccountAsync(alice.Key.Address)).Account;
            Assert.Equal(aliceBefore.Nonce + 1, aliceAfter.Nonce);
            Assert.Equal(aliceBefore.Balance - 77 - 10_000, aliceAfter.Balance);

            // And the network keeps going, every node running and identical.
            ulong later = await net.MaxHeightAsync(Enumerable.Range(0, net.Count));
            await net.WaitForAsync("every node to commit 3 more heights", async () => await net.MinHeightAsync() >= later + 3);
            Assert.True(Enumerable.Range(0, net.Count).All(net.Net.IsRunning));
            await net.AssertIdenticalChainsAsync(await net.MinHeightAsync());
            net.Log($"heights {start} → {await net.MinHeightAsync()} through the hostile input");
        });

    /// <summary>Sends <paramref name="bytes"/> to the node's P2P port and requires it to close the connection (EOF or reset) in time.</summary>
    private static async Task AssertNodeHangsUpAsync(ProcessTestNetwork net, int node, byte[] bytes, string what)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, net.Net.Nodes[node].P2pPort));
        try
        {
            await socket.SendAsync(bytes);
        }
        catch (SocketException)
        {
            return; // hung up while we were still sending
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[4096];
        long read = 0;
        try
        {
            // Drain whatever it sends (its own hello) until it closes.
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0) break;
                read += n;
            }
        }
        catch (SocketException)
        {
            // reset: also a hang-up
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"node {node} kept the connection open 30 s after {what} (it sent {read} bytes)");
        }
        net.Log($"node {node} hung up after {what} ({read} bytes from it)");
    }

    /// <summary>
    /// The status a node answers to a POST /txs whose headers announce <paramref name="bodyBytes"/>; the body is never
    /// sent, so the answer cannot depend on a race between our sending and the server hanging up.
    /// </summary>
    private static async Task<int> OversizedPostStatusAsync(int port, int bodyBytes)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var request = $"POST /txs?mode=sync HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\nContent-Length: {bodyBytes}\r\n\r\n";
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[4096];
        int read = 0;
        while (read < 12)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            if (n == 0) break;
            read += n;
        }
        var head = System.Text.Encoding.ASCII.GetString(buffer, 0, read);
        Assert.StartsWith("HTTP/1.1 ", head);
        return int.Parse(head.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A well-formed hello: magic, protocol version, chain id, a (random) ephemeral X25519 key.</summary>
    private static byte[] Hello(ChainId chainId, Random random)
    {
        var id = System.Text.Encoding.ASCII.GetBytes(chainId.ToString());
        var hello = new List<byte>("CHAINP2P"u8.ToArray());
        hello.Add((byte)(NetworkLimits.ProtocolVersion >> 8));
        hello.Add((byte)NetworkLimits.ProtocolVersion);
        hello.Add((byte)id.Length);
        hello.AddRange(id);
        var ephemeral = new byte[32];
        random.NextBytes(ephemeral);
        hello.AddRange(ephemeral);
        return [.. hello];
    }

    private static Address DevnetAddress(string name) => Chain.Node.DevnetKeys.For(name).Address;

    /// <summary>The 4000 live 32 MiB broadcast Adds that admission's memory plan refuses (<see cref="HostileModels.BroadcastAdds"/>).</summary>
    private static byte[] HostileMemoryModel() => HostileModels.BroadcastAdds().ToBytes();
}
