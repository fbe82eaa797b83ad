using System.Net.Http.Json;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Chain.Rpc.Tests;

/// <summary>Issue 15: every non-2xx answer is JSON, path parameters are parsed as docs/rpc.md says, one client cannot starve others.</summary>
public sealed class HostileClientTests
{
    private sealed record RawAnswer(int Status, string Head, string Body);

    /// <summary>Sends bytes on a fresh connection and reads one response (until Content-Length is satisfied or the server closes).</summary>
    private static async Task<RawAnswer> SendRawAsync(RpcServer server, byte[] request, IPAddress? from = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null) socket.Bind(new IPEndPoint(from, 0));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port), timeout.Token);
        try
        {
            await socket.SendAsync(request, timeout.Token);
        }
        catch (SocketException)
        {
            // The server may answer and close before it read everything we sent (headers too large): read its answer.
        }
        var received = new MemoryStream();
        var buffer = new byte[16 << 10];
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, timeout.Token);
            }
            catch (SocketException) when (received.Length > 0)
            {
                break; // reset after the answer
            }
            if (n == 0) break;
            received.Write(buffer, 0, n);
            var text = Encoding.UTF8.GetString(received.ToArray());
            int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd < 0) continue;
            var match = System.Text.RegularExpressions.Regex.Match(text[..headEnd], @"(?im)^content-length:\s*(\d+)");
            if (match.Success && text.Length - headEnd - 4 >= int.Parse(match.Groups[1].Value)) break;
        }
        var all = Encoding.UTF8.GetString(received.ToArray());
        int end = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, $"no HTTP answer: '{all}'");
        var head = all[..end];
        var body = all[(end + 4)..];
        if (head.Contains("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase)) body = Dechunk(body);
        return new RawAnswer(int.Parse(all.AsSpan(9, 3)), head, body);
    }

    private static string Dechunk(string chunked)
    {
        var body = new StringBuilder();
        int at = 0;
        while (true)
        {
            int lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
            int size = Convert.ToInt32(chunked[at..lineEnd], 16);
            if (size == 0) return body.ToString();
            body.Append(chunked, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }

    private static byte[] Get(string target, string extraHeaders = "") =>
        Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extraHeaders}\r\n");

    private static void AssertJsonError(RawAnswer answer, int? status = null, string? code = null)
    {
        Assert.True(status is null ? answer.Status >= 400 : answer.Status == status, $"expected {status}, got {answer.Status}:\n{answer.Head}\n{answer.Body}");
        Assert.Contains("content-type: application/json", answer.Head, StringComparison.OrdinalIgnoreCase);
        using var json = JsonDocument.Parse(answer.Body);
        Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("error").GetString()));
        var actualCode = json.RootElement.GetProperty("code").GetString();
        Assert.False(string.IsNullOrWhiteSpace(actualCode));
        if (code is not null) Assert.Equal(code, actualCode);
    }

    [Fact]
    public async Task Every_malformed_request_including_kestrels_own_rejections_gets_a_json_error_body()
    {
        await using var host = await RpcTestHost.StartAsync();
        var server = host.Server;

        AssertJsonError(await SendRawAsync(server, Get("/nope")), 404, "not_found");
        AssertJsonError(await SendRawAsync(server, Get("/favicon.ico")), 404, "not_found"); // a dot in the last segment
        AssertJsonError(await SendRawAsync(server, Get("/blocks/1.json")), 400, "bad_request");
        AssertJsonError(await SendRawAsync(server, Get("/a%00b")), 400);
        AssertJsonError(await SendRawAsync(server, Get("/status", $"X-Big: {new string('a', 40 << 10)}\r\n")), 431);
        AssertJsonError(await SendRawAsync(server, Get("/" + new string('a', 9 << 10))), 414);
        AssertJsonError(await SendRawAsync(server, Encoding.ASCII.GetBytes("GET /status HTTP/1.2\r\nHost: localhost\r\n\r\n")), 505);
        AssertJsonError(await SendRawAsync(server, Encoding.ASCII.GetBytes("JUNK\r\n\r\n")), 400);
        AssertJsonError(await SendRawAsync(server, Encoding.ASCII.GetBytes("THIS IS NOT HTTP\r\n\r\n")));
        AssertJsonError(await SendRawAsync(server, Encoding.ASCII.GetBytes("GET /status HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n")), 400);
        AssertJsonError(await SendRawAsync(server, Encoding.ASCII.GetBytes("POST /txs HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999999999\r\n\r\n")), 413);

        // A well-formed request on the same server is untouched.
        var ok = await SendRawAsync(server, Get("/status"));
        Assert.Equal(200, ok.Status);
        Assert.Equal(3UL, JsonDocument.Parse(ok.Body).RootElement.GetProperty("height").GetUInt64());
    }

    [Theory]
    [InlineData("DELETE", "/status", "GET")]
    [InlineData("POST", "/blocks/1", "GET")]
    [InlineData("HEAD", "/validators", "GET")]
    [InlineData("GET", "/txs", "POST")]
    [InlineData("PUT", "/txs/batch", "GET, POST")] // GET /txs/{hash} takes "batch" as a hash (and answers 400)
    [InlineData("DELETE", "/explorer/blocks/1", "GET")]
    public async Task A_known_path_asked_with_another_method_is_405_with_allow(string method, string target, string allow)
    {
        await using var host = await RpcTestHost.StartAsync();
        var answer = await SendRawAsync(host.Server, Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        if (method == "HEAD")
            Assert.Equal(405, answer.Status); // no body in an answer to HEAD
        else
            AssertJsonError(answer, 405, "method_not_allowed");
        Assert.Matches($@"(?im)^allow: {allow}\r?$", answer.Head);
    }

    [Theory]
    [InlineData("DELETE", "/nope")]
    [InlineData("POST", "/status/extra")]
    public async Task An_unknown_path_is_404_whatever_the_method(string method, string target)
    {
        await using var host = await RpcTestHost.StartAsync();
        var answer = await SendRawAsync(host.Server, Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        AssertJsonError(answer, 404, "not_found");
        Assert.DoesNotMatch(@"(?im)^allow:", answer.Head);
    }

    [Theory]
    [InlineData("/blocks/01")]
    [InlineData("/blocks/+1")]
    [InlineData("/blocks/0")]
    [InlineData("/blocks/%201")]
    [InlineData("/headers/007")]
    [InlineData("/commits/1e0")]
    [InlineData("/txs/ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("/models/ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789")]
    [InlineData("/accounts/ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    public async Task Path_parameters_outside_the_documented_forms_are_refused_with_400(string target)
    {
        await using var host = await RpcTestHost.StartAsync();
        AssertJsonError(await SendRawAsync(host.Server, Get(target)), 400, "bad_request");
    }

    [Theory]
    [InlineData(1000, 100, 100.0)]
    [InlineData(25, 2, 80.0)]
    [InlineData(7, 1, 1000.0 / 7)]
    [InlineData(1, 1, 1000.0)]
    public void The_request_rate_refill_is_exact(int perSecond, int tokens, double periodMs)
    {
        var (t, period) = RpcServer.RateRefill(perSecond);
        Assert.Equal(tokens, t);
        Assert.Equal(periodMs, period.TotalMilliseconds, 3);
        Assert.Equal(perSecond, t / period.TotalSeconds, 3);
    }

    [Fact]
    public async Task A_client_over_its_request_rate_gets_429_with_a_json_body_and_others_are_still_served()
    {
        // 2 requests a second, burst 4: a flood of 200 back-to-back requests from one address is mostly refused, however
        // slowly a loaded machine sends them (the flood would need 98 s for the refill alone to serve half of it).
        await using var host = await RpcTestHost.StartAsync(new RpcOptions { MaxRequestsPerSecondPerClient = 2 });
        int ok = 0, limited = 0;
        var flood = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 200; i++)
        {
            using var response = await host.Http.GetAsync("status");
            if (response.IsSuccessStatusCode) { ok++; continue; }
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            var error = await response.Content.ReadFromJsonAsync<ErrorResponse>(RpcJson.Options);
            Assert.Contains("too many requests", error!.Error);
            Assert.Equal("too_many_requests", error.Code);
            limited++;
        }
        var elapsed = flood.Elapsed;
        Assert.True(ok >= 4 && limited > 0, $"{ok} served, {limited} limited");
        // At most the burst plus what refilled while the flood lasted (2/s), plus one for a refill at the boundary.
        Assert.True(ok <= 4 + 2 * (int)Math.Ceiling(elapsed.TotalSeconds) + 1, $"{ok} served of 200 in {elapsed.TotalSeconds:F1} s: the limit did not hold");
        // The limit is per client: once the bucket refills the same client is served again.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        bool servedAgain = false;
        while (!servedAgain && DateTime.UtcNow < deadline)
        {
            using var again = await host.Http.GetAsync("status");
            servedAgain = again.IsSuccessStatusCode;
        }
        Assert.True(servedAgain, "the client was never served again after its bucket refilled");
    }

    [Fact]
    public async Task The_documented_forms_are_still_accepted()
    {
        await using var host = await RpcTestHost.StartAsync();
        Assert.Equal(200, (await SendRawAsync(host.Server, Get("/blocks/1"))).Status);
        Assert.Equal(200, (await SendRawAsync(host.Server, Get("/headers/3"))).Status);
        AssertJsonError(await SendRawAsync(host.Server, Get("/blocks/10")), 404, "not_found");
        Assert.Equal(200, (await SendRawAsync(host.Server, Get($"/txs/{host.FirstTransfer.Hash}"))).Status);
        Assert.Equal(200, (await SendRawAsync(host.Server, Get($"/accounts/{RpcTestHost.Alice.Address}"))).Status);
    }

    [Fact]
    public async Task Slow_connections_from_one_client_cannot_keep_another_clients_status_probe_waiting()
    {
        // A small global budget, so that one client holding it all would starve everyone without the per-client limit.
        // The slow connections' header timeout is long, so a probe that had to wait for them to give up would take a
        // minute: the bound below tells that apart from a loaded machine's slowness.
        await using var host = await RpcTestHost.StartAsync(new RpcOptions
        {
            MaxConnections = 40, MaxConnectionsPerClient = 8, RequestHeadersTimeout = TimeSpan.FromSeconds(60),
        });
        var server = host.Server;
        const int Slow = 60;
        var sockets = new List<Socket>();
        try
        {
            // Slowloris from 127.0.0.1: each connection sends part of its headers and then nothing.
            for (int i = 0; i < Slow; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(s);
                await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
                await s.SendAsync("GET /status HTTP/1.1\r\nHost: localhost\r\nX-Slow: "u8.ToArray());
            }
            // Another client (127.0.0.2) gets /status answered promptly while the slow ones are still open
            // (without the per-client limit the slow client holds the whole global budget and this connection is dropped).
            var watch = Stopwatch.StartNew();
            var probe = await SendRawAsync(server, Get("/status"), from: IPAddress.Parse("127.0.0.2"));
            Assert.Equal(200, probe.Status);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"/status took {watch.Elapsed}");

            // Condition, not a sleep: every connection past the client's share is answered 429 (JSON) and closed.
            var refusals = await Task.WhenAll(sockets.Select(async s =>
            {
                var buffer = new byte[4096];
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    int n = await s.ReceiveAsync(buffer, wait.Token);
                    return n > 0 && Encoding.ASCII.GetString(buffer, 0, n).StartsWith("HTTP/1.1 429", StringComparison.Ordinal);
                }
                catch (OperationCanceledException)
                {
                    return false; // still held open by the server: one of the client's share
                }
            }));
            Assert.Equal(Slow - 8, refusals.Count(r => r));

            // The same client, at its limit, is told so in JSON.
            AssertJsonError(await SendRawAsync(server, Get("/status")), 429, "too_many_connections");
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }
}
