using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Chain.Core;
using Chain.Core.Protocol;

namespace Chain.Rpc.Tests;

/// <summary>POST /txs in both modes, and every kind of bad submission: the right 4xx and nothing changed.</summary>
public sealed class SubmissionTests
{
    private static ByteArrayContent Raw(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Sync_mode_admits_to_the_mempool_by_hex_json_and_by_raw_bytes()
    {
        await using var host = await RpcTestHost.StartAsync();
        var first = host.Transfer(RpcTestHost.Alice, RpcTestHost.Carol.Address, 5);
        var (status, body) = await host.PostAsync("txs", Json($"{{\"tx\":\"{Convert.ToHexStringLower(first.Encoded.Span)}\"}}"));
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Contains(first.Hash.ToString(), body);
        Assert.True(host.Node.Mempool.Contains(first.Hash));

        var second = host.Transfer(RpcTestHost.Alice, RpcTestHost.Carol.Address, 6, nonce: first.Transaction.Nonce + 1);
        var response = await host.Client.SubmitAsync(second);
        Assert.Equal("pending", response.Status);
        Assert.Equal(2, host.Node.Mempool.Count);
    }

    [Fact]
    public async Task Commit_mode_waits_for_the_block_and_returns_the_receipt()
    {
        await using var host = await RpcTestHost.StartAsync();
        host.Node.ProduceBlockOnSubmit = true;
        var tx = host.Infer(RpcTestHost.Carol, 3);
        var response = await host.Client.SubmitAsync(tx, SubmitMode.Commit, TimeSpan.FromSeconds(60));
        Assert.Equal("committed", response.Status);
        Assert.Equal(4UL, response.Height);
        Assert.Equal("Success", response.Receipt!.Status);
        Assert.NotNull(response.Receipt.Inference);
        Assert.Null(host.Node.BackgroundFailure);
        // And the light-client path agrees.
        var verified = await host.Client.TransactionAsync(tx.Hash);
        Assert.Equal(response.Receipt.Hash, verified.Receipt.Hash.ToString());
    }

    [Fact]
    public async Task Commit_mode_times_out_with_504_when_no_block_comes()
    {
        await using var host = await RpcTestHost.StartAsync();
        var tx = host.Transfer(RpcTestHost.Bob, RpcTestHost.Alice.Address, 1);
        var error = await Assert.ThrowsAsync<RpcClientException>(() => host.Client.SubmitAsync(tx, SubmitMode.Commit, TimeSpan.FromMilliseconds(200)));
        Assert.Equal(504, error.Status);
        Assert.Equal("commit_timeout", error.Code);
        Assert.True(host.Node.Mempool.Contains(tx.Hash)); // admitted, only not yet committed
    }

    public static TheoryData<string> BadRequests => new()
    {
        "malformed-hex", "odd-hex", "malformed-json", "json-without-tx", "wrong-content-type", "empty-raw",
        "trailing-byte", "non-canonical-array-header", "garbage", "bad-mode", "bad-timeout",
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Malformed_submissions_are_400_and_change_nothing(string kind)
    {
        await using var host = await RpcTestHost.StartAsync();
        var valid = host.Transfer(RpcTestHost.Alice, RpcTestHost.Bob.Address, 7).Encoded.ToArray();
        var before = host.Snapshot();
        var (path, content) = kind switch
        {
            "malformed-hex" => ("txs", (HttpContent)Json("{\"tx\":\"zz" + Convert.ToHexString(valid)[2..] + "\"}")),
            "odd-hex" => ("txs", Json("{\"tx\":\"abc\"}")),
            "malformed-json" => ("txs", Json("{\"tx\": ")),
            "json-without-tx" => ("txs", Json("{\"transaction\":\"00\"}")),
            "wrong-content-type" => ("txs", new StringContent(Convert.ToHexString(valid), Encoding.UTF8, "text/plain")),
            "empty-raw" => ("txs", Raw([])),
            "trailing-byte" => ("txs", Raw([.. valid, 0x00])),
            // 0x92 (fixarray of 2) widened to array16: the same value in a non-canonical encoding.
            "non-canonical-array-header" => ("txs", Raw([0xdc, 0x00, 0x02, .. valid[1..]])),
            "garbage" => ("txs", Raw([1, 2, 3, 4])),
            "bad-mode" => ("txs?mode=later", Raw(valid)),
            "bad-timeout" => ("txs?mode=commit&timeoutMs=99999999", Raw(valid)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var (status, body) = await host.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("\"error\"", body);
        Assert.Equal(before, host.Snapshot());
    }

    [Fact]
    public async Task Oversized_bodies_are_413_and_change_nothing()
    {
        await using var host = await RpcTestHost.StartAsync(new RpcOptions { MaxRequestBodyBytes = 4096 });
        var before = host.Snapshot();
        var (status, body) = await host.PostAsync("txs", Raw(new byte[5000]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("exceeds 4096", body);
        Assert.Equal(before, host.Snapshot());

        // Without a Content-Length (chunked), the limit stops the read itself.
        var chunked = new StreamContent(new MemoryStream(new byte[20_000]));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Post, "txs") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var response = await host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(before, host.Snapshot());
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "wrong-chain", "WrongChainId" },
        { "bad-signature", "InvalidSignature" },
        { "replayed", "AlreadyIncluded" },
        { "stale-nonce", "BadNonce" },
        { "overspend", "InsufficientFunds" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Mempool_refusals_are_422_with_the_code_and_change_nothing(string kind, string code)
    {
        await using var host = await RpcTestHost.StartAsync();
        var alice = RpcTestHost.Alice;
        SignedTransaction tx = kind switch
        {
            "wrong-chain" => host.Transfer(alice, RpcTestHost.Bob.Address, 1, chain: new ChainId("other-chain")),
            "bad-signature" => new SignedTransaction(host.Transfer(alice, RpcTestHost.Bob.Address, 1).Transaction,
                host.Transfer(alice, RpcTestHost.Bob.Address, 2).Signature),
            "replayed" => host.FirstTransfer,
            "stale-nonce" => host.Transfer(alice, RpcTestHost.Bob.Address, 3, nonce: 0),
            "overspend" => host.Transfer(RpcTestHost.Key("pauper"), alice.Address, 1),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var before = host.Snapshot();
        var error = await Assert.ThrowsAsync<RpcClientException>(() => host.Client.SubmitAsync(tx));
        Assert.Equal(422, error.Status);
        Assert.Equal(code, error.Code);
        Assert.Equal(before, host.Snapshot());
    }
}
