using System.Text.Json;
using Chain.Core.Codec;
using Chain.Core.Protocol;
using Chain.Inference;
using Chain.Inference.Admission;
using Chain.Inference.Kernels;
using Chain.Inference.Onnx;
using Chain.Inference.Runtime;
using PuppeteerSharp;
using PuppeteerSharp.Input;

namespace Chain.Explorer.Tests;

/// <summary>
/// infer.js, the browser's second implementation of docs/inference-semantics.md, cross-checked byte for byte against the
/// C# canonical executor in headless Chromium; the "Re-execute in this browser" button; and the whole goal flow of
/// issue 18 (front page → block → inference → digit, class, scores → verify → re-execute), by mouse and keyboard, with
/// every request going to the node's own origin.
/// </summary>
public sealed partial class BrowserTests
{
    private const int Seed = 20261207;
    private const int RandomInputsPerModel = 24;

    // Runs infer.js in the page (loaded from the node, as the explorer loads it) on canonical input tensors.
    private const string RunInferJs = """
        async (modelB64, inputsB64) => {
          const infer = await import("/explorer/static/infer.js");
          const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
          const b64 = u => { let s = ""; for (const x of u) s += String.fromCharCode(x); return btoa(s); };
          const model = infer.loadModel(bytes(modelB64));
          if (model.missing.length > 0) return { missing: model.missing, outputs: [], ms: 0 };
          const started = performance.now();
          const outputs = inputsB64.map(i => b64(infer.encodeTensor(infer.run(model, infer.decodeTensor(bytes(i))))));
          return { missing: [], outputs, ms: performance.now() - started };
        }
        """;

    private async Task<(string[] Missing, string[] Outputs, double Ms)> InferInBrowserAsync(IPage page, byte[] model, IReadOnlyList<byte[]> inputs)
    {
        var result = await page.EvaluateFunctionAsync<JsonElement>(RunInferJs, Convert.ToBase64String(model), inputs.Select(Convert.ToBase64String).ToArray());
        return (result.GetProperty("missing").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            result.GetProperty("outputs").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            result.GetProperty("ms").GetDouble());
    }

    // The canonical output bytes of the C# executor: what a receipt records (the first declared output).
    private static byte[] CanonicalOutput(CanonicalExecutor executor, byte[] input)
    {
        var tensor = Canonical.Decode<Tensor>(input);
        var outputs = executor.Run([new NamedTensor(executor.Inputs[0].Name, tensor)]);
        return Canonical.Encode(outputs.First(o => o.Name == executor.OutputNames[0]).Value);
    }

    // Seeded inputs of four kinds: uniform noise, sparse strokes, shipped MNIST digits with noise, and the extremes.
    private static List<byte[]> SeededInputs(Random random, IReadOnlyList<(int Label, byte[] Pixels)> digits)
    {
        var inputs = new List<byte[]>();
        for (int i = 0; i < RandomInputsPerModel; i++)
        {
            var pixels = new byte[28 * 28];
            switch (i % 4)
            {
                case 0: random.NextBytes(pixels); break;
                case 1: for (int p = 0; p < pixels.Length; p++) pixels[p] = random.Next(5) == 0 ? (byte)random.Next(128, 256) : (byte)0; break;
                case 2:
                    digits[random.Next(digits.Count)].Pixels.CopyTo(pixels, 0);
                    for (int p = 0; p < pixels.Length; p++) pixels[p] = (byte)Math.Clamp(pixels[p] + random.Next(-40, 41), 0, 255);
                    break;
                default: Array.Fill(pixels, i % 8 == 3 ? (byte)255 : (byte)0); break;
            }
            inputs.Add(Canonical.Encode(GenesisModels.ImageTensor(pixels)));
        }
        return inputs;
    }

    [ChromiumFact]
    public async Task Infer_js_equals_the_CSharp_executor_on_the_genesis_models()
    {
        _output.WriteLine($"seed {Seed}");
        var random = new Random(Seed);
        var digits = GenesisModels.LoadTestDigits(GenesisModels.Locate(AppContext.BaseDirectory)!);
        var page = await OpenAsync("/explorer");
        foreach (var model in ExplorerTestHost.Models)
        {
            using var executor = CanonicalExecutor.Load(model.Bytes);
            // The shipped known answers (the hashes every node checks at start-up), then seeded random inputs.
            var inputs = model.Digits.Select(d => Canonical.Encode(GenesisModels.ImageTensor(d.Pixels))).Concat(SeededInputs(random, digits)).ToList();
            var (missing, outputs, ms) = await InferInBrowserAsync(page, model.Bytes, inputs);
            Assert.Empty(missing);
            Assert.Equal(inputs.Count, outputs.Length);
            var started = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < inputs.Count; i++)
            {
                var expected = CanonicalOutput(executor, inputs[i]);
                Assert.True(Convert.ToBase64String(expected) == outputs[i], $"{model.File} input {i} (seed {Seed}): infer.js {outputs[i]} ≠ C# {Convert.ToBase64String(expected)}");
            }
            for (int i = 0; i < model.Digits.Count; i++)
                Assert.Equal(model.Digits[i].OutputHash, Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Tensor, Convert.FromBase64String(outputs[i])));
            _output.WriteLine($"{model.File}: {inputs.Count} inputs equal byte for byte; infer.js {ms / inputs.Count:F2} ms per inference (Chromium), C# {started.Elapsed.TotalMilliseconds / inputs.Count:F2} ms (incl. compare)");
        }
    }

    [ChromiumFact]
    public async Task Infer_js_follows_a_tampered_weight_like_the_CSharp_executor_and_differs_from_the_honest_output()
    {
        _output.WriteLine($"seed {Seed}");
        var model = ExplorerTestHost.Mlp;
        var tampered = (byte[])model.Bytes.Clone();
        tampered[tampered.Length / 2] ^= 0x40; // a byte inside fc1's weights: still a well-formed model
        var inputs = SeededInputs(new Random(Seed), GenesisModels.LoadTestDigits(GenesisModels.Locate(AppContext.BaseDirectory)!));
        var page = await OpenAsync("/explorer");
        var (_, outputs, _) = await InferInBrowserAsync(page, tampered, inputs);
        using var honest = CanonicalExecutor.Load(model.Bytes);
        using var unchecked_ = CanonicalExecutor.LoadUnchecked(tampered); // admission aside, the same semantics
        int differ = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            Assert.Equal(Convert.ToBase64String(CanonicalOutput(unchecked_, inputs[i])), outputs[i]);
            if (Convert.ToBase64String(CanonicalOutput(honest, inputs[i])) != outputs[i]) differ++;
        }
        _output.WriteLine($"a flipped weight byte changes {differ} of {inputs.Count} outputs");
        Assert.True(differ > 0, "a flipped weight byte changed no output: the comparison could not catch it");
    }

    [ChromiumFact]
    public async Task Infer_js_refuses_what_it_does_not_implement()
    {
        var page = await OpenAsync("/explorer");
        var (missing, _, _) = await InferInBrowserAsync(page, WithIdentityOutput(ExplorerTestHost.Mlp.Bytes), []);
        Assert.Equal(["Identity"], missing);
        var error = await page.EvaluateFunctionAsync<string>("""
            async () => {
              const infer = await import("/explorer/static/infer.js");
              try { infer.loadModel(Uint8Array.from([0x3a, 0x01, 0x0b])); return "accepted"; } catch (e) { return e.message; }
            }
            """);
        Assert.Contains("wire type", error); // a group (wire type 3) inside the graph: refused, like the C# reader
    }

    // The MLP with an Identity node copying its logits as the first output: admitted on chain, but infer.js lacks Identity.
    private static byte[] WithIdentityOutput(byte[] mlp)
    {
        var model = OnnxModel.Parse(mlp);
        var g = model.Graph;
        var logits = g.Outputs[0];
        var graph = g with
        {
            Nodes = [.. g.Nodes, new OnnxNode("copy", "Identity", "", [logits.Name], ["logits_copy"], [])],
            Outputs = [logits with { Name = "logits_copy" }, .. g.Outputs],
        };
        return model.WithGraph(graph).ToBytes();
    }

    [ChromiumFact]
    public async Task Reexecution_matches_on_honest_data_and_fails_on_a_tampered_model_or_output()
    {
        var path = $"/explorer/txs/{_host.CnnInference.Hash}";
        var page = await OpenAsync(path);
        var (state, result) = await ReexecuteAsync(page, "reexec-cnn-honest");
        Assert.True(state == "match", result);

        await TamperAsync(page, $"/models/{ExplorerTestHost.Cnn.ModelId}/code", "proof.value", bytes => bytes[bytes.Length / 2] ^= 0x01);
        (state, result) = await ReexecuteAsync(page, "reexec-tampered-model");
        Assert.Equal("failed", state);
        Assert.Contains("model bytes could not be proven", result);
        Assert.Contains("model bytes hash to the model id", await FailedChecksAsync(page));

        page = await OpenAsync(path);
        await TamperAsync(page, $"/txs/{_host.CnnInference.Hash}", "rawReceipt", bytes => bytes[^1] ^= 0x01); // an output byte
        (state, result) = await ReexecuteAsync(page, "reexec-tampered-output");
        Assert.Equal("failed", state);
        Assert.Contains("receipt proof against the header's receipts root", await FailedChecksAsync(page));
    }

    [ChromiumFact]
    public async Task A_wrong_implementation_shows_as_a_mismatch()
    {
        // The page's own infer.js, served with QLinearConv's bias dropped: every proof passes, the output differs.
        var page = await OpenAsync("/explorer");
        var honest = await _host.Http.GetStringAsync("/explorer/static/infer.js");
        const string biasLine = "if (b) acc = (acc + b[oc]) | 0;";
        Assert.Contains(biasLine, honest);
        await page.SetRequestInterceptionAsync(true);
        page.Request += async (_, e) =>
        {
            if (new Uri(e.Request.Url).AbsolutePath != "/explorer/static/infer.js") { await e.Request.ContinueAsync(); return; }
            await e.Request.RespondAsync(new ResponseData
            {
                Status = System.Net.HttpStatusCode.OK, ContentType = "text/javascript; charset=utf-8", Body = honest.Replace(biasLine, "", StringComparison.Ordinal),
            });
        };
        await page.GoToAsync(new Uri(_host.Server.BaseAddress, $"/explorer/txs/{_host.Inference.Hash}").ToString());
        var (state, result) = await ReexecuteAsync(page, "reexec-wrong-implementation");
        Assert.Equal("mismatch", state);
        Assert.Contains("DIFFERS", result);
        Assert.Contains("the browser's output equals the receipt's output byte for byte", await FailedChecksAsync(page));
    }

    [ChromiumFact]
    public async Task Reexecution_says_plainly_when_the_model_uses_operators_it_lacks()
    {
        var bytes = WithIdentityOutput(ExplorerTestHost.Mlp.Bytes);
        var modelId = Core.Hashing.DomainHash.Compute(Core.Hashing.HashDomain.Model, bytes);
        _host.Admit(_host.Sign(ExplorerTestHost.Alice, new RegisterModelBody("mlp-identity", bytes)));
        _host.Node.ProduceBlock();
        var infer = _host.Sign(ExplorerTestHost.Bob, new InferBody(modelId, Canonical.Encode(GenesisModels.ImageTensor(ExplorerTestHost.Mlp.Digits[0].Pixels)), 1_000_000));
        _host.Admit(infer);
        _host.Node.ProduceBlock();
        var page = await OpenAsync($"/explorer/txs/{infer.Hash}");
        var (state, result) = await ReexecuteAsync(page, "reexec-unsupported");
        Assert.Equal("unsupported", state);
        Assert.Contains("uses Identity", result);
        Assert.Empty(await FailedChecksAsync(page)); // everything it could prove, it proved
    }

    [ChromiumFact]
    public async Task Goal_flow_front_page_to_a_verified_and_re_executed_MNIST_inference()
    {
        var requests = new List<string>();
        var page = await _browser!.NewPageAsync();
        page.DefaultTimeout = (int)Wait.TotalMilliseconds;
        page.Request += (_, e) => { lock (requests) requests.Add(e.Request.Url); };
        await page.SetViewportAsync(new ViewPortOptions { Width = 1100, Height = 900 });
        await page.GoToAsync(new Uri(_host.Server.BaseAddress, "/explorer").ToString());
        await page.WaitForSelectorAsync("body[data-live='connected']");
        // An MNIST inference arrives live while the page is open.
        _host.Admit(_host.Sign(ExplorerTestHost.Alice, new InferBody(ExplorerTestHost.Mlp.ModelId,
            Canonical.Encode(GenesisModels.ImageTensor(ExplorerTestHost.Mlp.Digits[2].Pixels)), 1_000_000)));
        var live = _host.Node.ProduceBlock();
        await page.WaitForSelectorAsync($"#blocks tbody tr[data-live] a[href='/explorer/blocks/{live.Height.Value}']");
        await page.ScreenshotAsync(Screenshot("goal-1-front-page"), new ScreenshotOptions { FullPage = true });

        // The block with the MNIST inferences, then the CNN's inference in it.
        await Task.WhenAll(page.WaitForNavigationAsync(), page.ClickAsync("#blocks a[href='/explorer/blocks/1']"));
        await page.ScreenshotAsync(Screenshot("goal-2-block"), new ScreenshotOptions { FullPage = true });
        await Task.WhenAll(page.WaitForNavigationAsync(), page.ClickAsync($"a[href='/explorer/txs/{_host.CnnInference.Hash}']"));

        // The digit, the predicted class and the scores.
        var digit = ExplorerTestHost.Cnn.Digits[1];
        Assert.Equal(28 * 28, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('svg.input-image rect').length"));
        Assert.Equal(digit.Class.ToString(System.Globalization.CultureInfo.InvariantCulture),
            await page.EvaluateExpressionAsync<string>("document.querySelector('#top-k tbody tr td:nth-child(2)').textContent"));
        Assert.Equal(5, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#top-k tbody tr').length"));
        Assert.Equal(digit.Label, digit.Class); // the shipped digit is one the model gets right
        await page.ScreenshotAsync(Screenshot("goal-3-inference"), new ScreenshotOptions { FullPage = true });

        // Keyboard: Tab from the top reaches Verify, then Re-execute, each with a visible focus outline.
        await page.WaitForSelectorAsync("#reexec-button:not([disabled])");
        await page.WaitForSelectorAsync("#verify-button:not([disabled])");
        var order = new List<string>();
        for (int i = 0; i < 200 && !order.Contains("reexec-button"); i++)
        {
            await page.Keyboard.PressAsync(Key.Tab);
            var id = await page.EvaluateExpressionAsync<string>("document.activeElement.id || document.activeElement.tagName");
            order.Add(id);
            if (id is "verify-button" or "reexec-button")
                Assert.Equal("solid", await page.EvaluateExpressionAsync<string>("getComputedStyle(document.activeElement).outlineStyle"));
        }
        Assert.Contains("verify-button", order);
        Assert.True(order.IndexOf("verify-button") < order.IndexOf("reexec-button"), "Tab order: " + string.Join(", ", order));

        // Verify with the mouse: every check passes.
        var (state, passed, failed) = await VerifyAsync(page, "goal-4-verified");
        Assert.True(state == "passed", "checks that did not pass: " + string.Join(" | ", failed));
        Assert.Contains("inference output bytes hash to the receipt's outputHash", passed);

        // Re-execute from the keyboard: focus the button, press Enter; the output matches the receipt.
        await page.FocusAsync("#reexec-button");
        await page.Keyboard.PressAsync(Key.Enter);
        await page.WaitForSelectorAsync("#reexec[data-state]:not([data-state='running'])");
        await page.ScreenshotAsync(Screenshot("goal-5-reexecuted"), new ScreenshotOptions { FullPage = true });
        var reexec = await page.EvaluateExpressionAsync<string>("document.getElementById('reexec').dataset.state");
        var result = await page.EvaluateExpressionAsync<string>("document.getElementById('reexec-result').textContent");
        Assert.True(reexec == "match", result + " | " + await FailedChecksAsync(page));
        _output.WriteLine(result);

        // No request left the node's origin: no CDN, fonts or trackers.
        var origin = _host.Server.BaseAddress.GetLeftPart(UriPartial.Authority);
        lock (requests)
        {
            Assert.NotEmpty(requests);
            Assert.All(requests, url => Assert.StartsWith(origin + "/", url));
        }
    }

    private static async Task<(string State, string Result)> ReexecuteAsync(IPage page, string screenshot)
    {
        await page.WaitForSelectorAsync("#reexec-button:not([disabled])");
        await page.ClickAsync("#reexec-button");
        await page.WaitForSelectorAsync("#reexec[data-state]:not([data-state='running'])");
        await page.ScreenshotAsync(Screenshot(screenshot), new ScreenshotOptions { FullPage = true });
        return (await page.EvaluateExpressionAsync<string>("document.getElementById('reexec').dataset.state"),
            await page.EvaluateExpressionAsync<string>("document.getElementById('reexec-result').textContent"));
    }

    private static Task<string> FailedChecksAsync(IPage page) =>
        page.EvaluateExpressionAsync<string>("[...document.querySelectorAll('#reexec-checks li.fail')].map(li => li.textContent).join(' | ')");
}

public sealed partial class BrowserTests
{
    [ChromiumFact]
    public async Task Infer_js_requantizes_like_the_CSharp_kernel_including_float64_disagreements_and_subnormals()
    {
        const int seed = 20261208, cases = 20_000;
        _output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        float Scale(int minExp, int maxExp) => MathF.ScaleB(1f + random.NextSingle(), random.Next(minExp, maxExp + 1));
        var rows = new List<double[]>();
        var expected = new List<int>();
        void Add(int acc, float a, float b, float y, int zp, bool signed)
        {
            var (qmin, qmax) = signed ? (-128, 127) : (0, 255);
            rows.Add([acc, a, b, y, zp, signed ? 3 : 2]);
            expected.Add(Chain.Inference.Kernels.Requantize.Apply(acc, Chain.Inference.Kernels.Requantize.Multiplier(a, b, y), zp, qmin, qmax));
        }
        // The spec's example where float64 and float32 disagree (scales 0.1, 0.3, 0.7), over a range of accumulators.
        for (int acc = -3000; acc <= 3000; acc++) Add(acc, 0.1f, 0.3f, 0.7f, 0, signed: true);
        for (int i = 0; i < cases; i++)
        {
            bool signed = random.Next(2) == 0;
            int acc = random.Next(4) switch
            {
                0 => random.Next(-300, 301),
                1 => random.Next(int.MinValue, int.MaxValue),
                2 => random.Next(2) == 0 ? int.MaxValue - random.Next(1000) : int.MinValue + random.Next(1000),
                _ => random.Next(-(1 << 24), 1 << 24),
            };
            // Multipliers from normal through subnormal (products near 2^-140) to underflow, and large ones that saturate.
            var (a, b, y) = random.Next(3) switch
            {
                0 => (Scale(-12, 0), Scale(-12, 0), Scale(-8, 0)),
                1 => (Scale(-75, -60), Scale(-75, -60), Scale(0, 20)),
                _ => (Scale(-5, 20), Scale(-5, 20), Scale(-20, 0)),
            };
            Add(acc, a, b, y, signed ? random.Next(-128, 128) : random.Next(0, 256), signed);
        }
        var page = await OpenAsync("/explorer");
        var actual = await page.EvaluateFunctionAsync<int[]>("""
            async rows => {
              const infer = await import("/explorer/static/infer.js");
              return rows.map(([acc, a, b, y, zp, dtype]) => infer.requantizeOne(acc, a, b, y, zp, dtype));
            }
            """, rows);
        Assert.Equal(expected.Count, actual.Length);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i] == actual[i], $"case {i} (seed {seed}): [{string.Join(", ", rows[i])}] C# {expected[i]}, infer.js {actual[i]}");
        // The cases have teeth: float64 arithmetic (ONNX's reference) gives another byte on some, and some multipliers are subnormal.
        int float64Differs = rows.Where((r, i) =>
        {
            var (qmin, qmax) = r[5] == 3 ? (-128.0, 127.0) : (0.0, 255.0);
            var v = Math.Round(r[0] * r[1] * r[2] / r[3], MidpointRounding.ToEven) + r[4];
            return Math.Clamp(v, qmin, qmax) != expected[i];
        }).Count();
        int subnormal = rows.Count(r => Chain.Inference.Kernels.Requantize.Multiplier((float)r[1], (float)r[2], (float)r[3]) is var m && m > 0 && float.IsSubnormal(m));
        _output.WriteLine($"{expected.Count} requantizations equal; float64 would differ on {float64Differs}; {subnormal} subnormal multipliers");
        Assert.True(float64Differs > 0 && subnormal > 0, $"float64 differs on {float64Differs}, subnormal multipliers {subnormal}");
    }
}

public sealed partial class BrowserTests
{
    // For each model: "refused: …" (malformed or outside the spec), "unsupported: …" (a form infer.js lacks), or the output.
    private const string VerdictsJs = """
        async (modelsB64, inputB64) => {
          const infer = await import("/explorer/static/infer.js");
          const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
          const b64 = u => { let s = ""; for (const x of u) s += String.fromCharCode(x); return btoa(s); };
          const input = infer.decodeTensor(bytes(inputB64));
          return modelsB64.map(m => {
            try {
              const model = infer.loadModel(bytes(m));
              if (model.missing.length > 0) return "unsupported: " + model.missing.join(", ");
              return b64(infer.encodeTensor(infer.run(model, input)));
            } catch (e) {
              return (e instanceof infer.Unsupported ? "unsupported: " : "refused: ") + e.message;
            }
          });
        }
        """;

    [ChromiumFact]
    public async Task Infer_js_never_gives_another_answer_for_an_admitted_mutant_and_refuses_what_the_CSharp_reader_refuses()
    {
        const int seed = 20261209, mutantsPerModel = 150;
        _output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var page = await OpenAsync("/explorer");
        foreach (var model in ExplorerTestHost.Models)
        {
            var input = Canonical.Encode(GenesisModels.ImageTensor(model.Digits[0].Pixels));
            var mutants = new List<byte[]>();
            for (int i = 0; i < mutantsPerModel; i++)
            {
                var bytes = (byte[])model.Bytes.Clone();
                int n = bytes.Length, at = random.Next(4) switch
                {
                    0 or 1 => random.Next(Math.Min(1024, n)), // the nodes and their attributes lead the file
                    2 => n - 1 - random.Next(Math.Min(1024, n)), // small initializers, inputs, outputs, opset close it
                    _ => random.Next(n),
                };
                bytes[at] = random.Next(3) switch { 0 => (byte)random.Next(256), 1 => (byte)(bytes[at] + 1), _ => (byte)(bytes[at] ^ 0x80) };
                mutants.Add(bytes);
            }
            var verdicts = new List<string>();
            foreach (var chunk in mutants.Chunk(50)) // one message per 50 models keeps DevTools' payloads small
                verdicts.AddRange(await page.EvaluateFunctionAsync<string[]>(VerdictsJs, chunk.Select(Convert.ToBase64String).ToArray(), Convert.ToBase64String(input)));
            int refusedBoth = 0, admittedEqual = 0, unsupported = 0, refusedByAdmissionOnly = 0;
            for (int i = 0; i < mutants.Count; i++)
            {
                var report = ModelAdmission.Check(mutants[i]);
                var js = verdicts[i];
                var where = $"{model.File} mutant {i} (seed {seed})";
                if (report.Reasons.Any(r => r.Code == "format"))
                {
                    Assert.True(js.StartsWith("refused: ", StringComparison.Ordinal) || js.StartsWith("unsupported: ", StringComparison.Ordinal),
                        $"{where}: the C# reader refuses ({report.Reasons[0].Message}) but infer.js gave an output");
                    refusedBoth++;
                }
                else if (!report.Admitted) refusedByAdmissionOnly++; // never executed on chain: nothing to agree on
                else if (js.StartsWith("unsupported: ", StringComparison.Ordinal)) { unsupported++; _output.WriteLine(js); }
                else
                {
                    string expected;
                    try
                    {
                        using var executor = CanonicalExecutor.Load(mutants[i]);
                        expected = Convert.ToBase64String(CanonicalOutput(executor, input));
                    }
                    catch (InferenceException e) { expected = "refused: " + e.Message; }
                    Assert.True(expected == js || (expected.StartsWith("refused: ", StringComparison.Ordinal) && js.StartsWith("refused: ", StringComparison.Ordinal)),
                        $"{where}: C# {expected[..Math.Min(80, expected.Length)]}, infer.js {js[..Math.Min(80, js.Length)]}");
                    admittedEqual++;
                }
            }
            _output.WriteLine($"{model.File}: {mutants.Count} mutants: {refusedBoth} malformed (both refuse), {refusedByAdmissionOnly} refused by admission, "
                + $"{admittedEqual} admitted and equal, {unsupported} admitted but unsupported in the browser");
            Assert.True(refusedBoth > 0 && admittedEqual > 0, "the mutants reached both the reader's refusals and admitted models");
        }
    }
}

public sealed partial class BrowserTests
{
    [ChromiumFact]
    public async Task Every_inference_receipt_on_the_chain_re_executes_to_its_output_in_the_browser()
    {
        // More inferences on shipped digits, so both models have several receipts to re-execute.
        for (int i = 0; i < 4; i++)
        {
            var model = ExplorerTestHost.Models[i % 2];
            _host.Admit(_host.Sign(ExplorerTestHost.Alice, new InferBody(model.ModelId,
                Canonical.Encode(GenesisModels.ImageTensor(model.Digits[2 + i / 2].Pixels)), 1_000_000), pending: (ulong)i));
        }
        _host.Node.ProduceBlock();
        var page = await OpenAsync("/explorer");
        int checkedReceipts = 0;
        for (ulong h = 1; h <= _host.Node.Blocks.LatestHeight!.Value.Value; h++)
        {
            var block = _host.Node.Blocks.LoadBlock(new Core.Height(h))!;
            for (int i = 0; i < block.Transactions.Count; i++)
            {
                if (block.Transactions[i].Transaction.Body is not InferBody infer) continue;
                var receipt = _host.Node.Blocks.LoadReceipt(new Core.Height(h), i)!;
                var inference = receipt.Inference!;
                var model = ExplorerTestHost.Models.Single(m => m.ModelId == inference.ModelId);
                var (_, outputs, _) = await InferInBrowserAsync(page, model.Bytes, [infer.Input.ToArray()]);
                Assert.Equal(Convert.ToBase64String(inference.Output.ToArray()), outputs[0]);
                checkedReceipts++;
            }
        }
        _output.WriteLine($"{checkedReceipts} inference receipts re-executed in the browser, each equal to its output");
        Assert.Equal(6, checkedReceipts);
    }
}
