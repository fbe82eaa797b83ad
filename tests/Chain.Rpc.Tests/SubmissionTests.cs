using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Chain.Core;
using Chain.Core.Codec;
using Chain.Core.Crypto;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Onnx;

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
    public async Task A_batch_is_answered_per_transaction_in_order_and_admits_only_the_good_ones()
    {
        await using var host = await RpcTestHost.StartAsync();
        var good = host.Transfer(RpcTestHost.Alice, RpcTestHost.Carol.Address, 5);
        var next = host.Transfer(RpcTestHost.Alice, RpcTestHost.Carol.Address, 6, nonce: good.Transaction.Nonce + 1);
        var forgedBytes = host.Transfer(RpcTestHost.Alice, RpcTestHost.Carol.Address, 7, nonce: good.Transaction.Nonce + 2).Encoded.ToArray();
        forgedBytes[^1] ^= 1; // the signature's last byte: decodes, does not verify
        var forged = Canonical.Decode<SignedTransaction>(forgedBytes);

        var response = await host.Client.SubmitBatchAsync([good, forged, good, next]);
        Assert.Equal(["pending", "rejected", "rejected", "pending"], response.Results.Select(r => r.Status));
        Assert.Equal("InvalidSignature", response.Results[1].Code);
        Assert.Equal("Duplicate", response.Results[2].Code);
        Assert.Equal(next.Hash.ToString(), response.Results[3].Hash);
        Assert.Equal(2, host.Node.Mempool.Count);

        // Undecodable entries are answered in place; the rest still go in.
        var later = host.Transfer(RpcTestHost.Alice, RpcTestHost.Carol.Address, 8, nonce: next.Transaction.Nonce + 1);
        var (status, body) = await host.PostAsync("txs/batch", Json($"{{\"txs\":[\"zz\",\"abc\",\"{Convert.ToHexStringLower(later.Encoded.Span)}\",\"00\"]}}"));
        Assert.Equal(HttpStatusCode.OK, status);
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["bad_request", "bad_request", null, "bad_request"], results.Select(r => r.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null));
        Assert.Equal("pending", results[2].GetProperty("status").GetString());
        Assert.Equal(3, host.Node.Mempool.Count);

        // Whole-request errors are one JSON error each, and nothing changes.
        (status, body) = await host.PostAsync("txs/batch", Json("{\"txs\":[]}"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("at least one", body);
        (status, body) = await host.PostAsync("txs/batch", Json("{\"txs\":[" + string.Join(",", Enumerable.Repeat("\"00\"", 257)) + "]}"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("limit is 256", body);
        (status, _) = await host.PostAsync("txs/batch", Raw([1, 2, 3]));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(3, host.Node.Mempool.Count);
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
        // The server answers 413 once 4096 bytes are read and closes the connection; a client still writing the rest
        // may see that close (broken pipe) before it reads the answer. Either way the body was refused: what must hold
        // is that nothing changed.
        try
        {
            using var response = await host.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }
        catch (HttpRequestException e) when (e.InnerException is IOException)
        {
        }
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

    /// <summary>u8 [1,4] × s8 [4,2], every weight <paramref name="weight"/>: 100 is refused for int16 saturation, 1 admitted.</summary>
    private static byte[] MatMulModel(sbyte weight) => new OnnxModel(9, [new OpsetImport("", 17)], new OnnxGraph("g",
        [new OnnxNode("mm", "MatMulInteger", "", ["x", "w"], ["y"], [])],
        [new OnnxTensor("w", Tensor.Create<sbyte>(TensorElementType.Int8, [4, 2], Enumerable.Repeat(weight, 8).ToArray()))],
        [new OnnxValueInfo("x", (int)TensorElementType.UInt8, [OnnxDim.Fixed(1), OnnxDim.Fixed(4)])],
        [new OnnxValueInfo("y", (int)TensorElementType.Int32, [OnnxDim.Fixed(1), OnnxDim.Fixed(2)])],
        [])).ToBytes();

    private static SignedTransaction Register(RpcTestHost host, PrivateKey from, byte[] model) =>
        new Transaction(RpcTestHost.Genesis.ChainId, from.PublicKey, host.NextNonce(from), 1_000_000 + (ulong)model.Length,
            new RegisterModelBody("m", model)).Sign(from);

    private static SignedTransaction Infer(RpcTestHost host, PrivateKey from, Hash32 model, byte[] input) =>
        new Transaction(RpcTestHost.Genesis.ChainId, from.PublicKey, host.NextNonce(from), 1_000_000, new InferBody(model, input, 1_000_000)).Sign(from);

    /// <summary>The 422 body: JSON, one line, the receipt status the transaction would have got as its code.</summary>
    private static async Task<string> AssertRefusedAsync(RpcTestHost host, SignedTransaction tx, string code)
    {
        var before = host.Snapshot();
        var (status, body) = await host.PostAsync("txs", Raw(tx.Encoded.ToArray()));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(code, json.GetProperty("code").GetString());
        var error = json.GetProperty("error").GetString()!;
        Assert.DoesNotContain('\n', error);
        Assert.Equal(before, host.Snapshot());
        return error;
    }

    [Fact]
    public async Task Registering_a_model_admission_refuses_is_422_ModelRejected_with_the_admission_code()
    {
        await using var host = await RpcTestHost.StartAsync();
        var saturating = await AssertRefusedAsync(host, Register(host, RpcTestHost.Alice, MatMulModel(100)), "ModelRejected");
        Assert.Contains("[saturation] mm:", saturating);
        var truncated = await AssertRefusedAsync(host, Register(host, RpcTestHost.Alice, MatMulModel(1)[..20]), "ModelRejected");
        Assert.Contains("[format]", truncated);

        // Unsigned, it costs no admission run: the mempool refuses the signature first.
        var forged = new SignedTransaction(Register(host, RpcTestHost.Alice, MatMulModel(100)).Transaction,
            host.Transfer(RpcTestHost.Alice, RpcTestHost.Bob.Address, 1).Signature);
        await AssertRefusedAsync(host, forged, "InvalidSignature");

        // The same model with small weights is admitted: the check refuses only what the chain would refuse.
        var (status, _) = await host.PostAsync("txs", Raw(Register(host, RpcTestHost.Alice, MatMulModel(1)).Encoded.ToArray()));
        Assert.Equal(HttpStatusCode.Accepted, status);
    }

    [Fact]
    public async Task An_infer_whose_input_does_not_fit_the_model_is_422_InvalidInput()
    {
        await using var host = await RpcTestHost.StartAsync();
        var mlp = RpcTestHost.Mlp.ModelId;
        var wrongType = Canonical.Encode(Tensor.Create(TensorElementType.Int8, [1, 1, 28, 28], new byte[784]));
        var error = await AssertRefusedAsync(host, Infer(host, RpcTestHost.Carol, mlp, wrongType), "InvalidInput");
        Assert.Contains("the input is int8[1,1,28,28]", error);
        Assert.Contains("takes uint8[1,1,28,28]", error);

        var wrongShape = Canonical.Encode(Tensor.Create(TensorElementType.UInt8, [1, 784], new byte[784]));
        Assert.Contains("uint8[1,784]", await AssertRefusedAsync(host, Infer(host, RpcTestHost.Carol, mlp, wrongShape), "InvalidInput"));

        Assert.Contains("not a canonical tensor", await AssertRefusedAsync(host, Infer(host, RpcTestHost.Carol, mlp, [1, 2, 3]), "InvalidInput"));
    }

    [Fact]
    public async Task A_handler_that_throws_answers_a_json_500_without_details()
    {
        await using var server = new RpcServer(new FailingNode(), new NodeMetrics(), new RpcOptions { Port = 0 });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var response = await http.GetAsync("status");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("internal", json.GetProperty("code").GetString());
        Assert.Equal("internal error (InvalidOperationException)", json.GetProperty("error").GetString());
    }

    /// <summary>A node whose every member fails, as a broken store would.</summary>
    private sealed class FailingNode : IRpcNode
    {
        private static InvalidOperationException Broken => new("the store is broken: /secret/path");
        public ChainId ChainId => throw Broken;
        public Execution.ExecutionParameters Parameters => throw Broken;
        public Storage.BlockStore Blocks => throw Broken;
        public ActiveValidators? ValidatorsAt(Height height) => throw Broken;
        public IProvableState State => throw Broken;
        public CommittedBlockFeed CommittedBlocks => throw Broken;
        public NodeInfo GetNodeInfo() => throw Broken;
        public Execution.Rejection? SubmitTransaction(SignedTransaction transaction) => throw Broken;
        public IReadOnlyList<Execution.Rejection?> SubmitTransactions(IReadOnlyList<SignedTransaction> transactions) => throw Broken;
        public EvidenceAdmission SubmitEvidence(ReadOnlyMemory<byte> encoded) => throw Broken;
    }
}
